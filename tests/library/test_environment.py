"""environment.py: what `run_migrations(...)` in env.py does with each command, on the
app's databases (the default one and its binds), its -x arguments, offline `--sql`, and
Engines or Connections handed over in `config.attributes`."""

import logging
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.util import CommandError
from flask import Flask
from flask.cli import NoAppException
from sqlalchemy import create_engine, inspect, text

from flask_alembic_runtime.command import run_alembic
from flask_alembic_runtime.databases import current_databases, sqlalchemy_object
from flask_alembic_runtime.environment import take_database_argument
from flask_alembic_runtime.output import shown

from .conftest import Project

NOTES = 'op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))'

# env.py that hands run_migrations the app a test put in config.attributes["app"]: the app
# itself, or a function that makes it.
ENV_WITH_APP = """\
from alembic import context
from flask_alembic_runtime import run_migrations

app = context.config.attributes["app"]
run_migrations({argument}, lock_name="unit-tests", lock_timeout=5{options})
"""


def notes_revision(project: Project, revision: str = "a1", down: str | None = None) -> Path:
    return project.write_revision(revision, down, NOTES, 'op.drop_table("notes")')


def write_env(project: Project, argument: str = "app", options: str = "") -> None:
    env = ENV_WITH_APP.format(argument=argument, options=options)
    (project.migrations / "env.py").write_text(env)


def functions(path: Path) -> list[str]:
    """The names of the functions a revision file defines, in order."""
    return [line[4:].split("(")[0] for line in path.read_text().splitlines() if line[:4] == "def "]


def test_every_database_gets_its_own_models_and_version_table(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.make_app(binds=["analytics", "archive"])
    project.migrate("revision", "--autogenerate", "-m", "first")
    [first] = project.versions.glob("*_first.py")
    assert functions(first) == [
        f"{direction}_{name}"
        for name in ("default", "analytics", "archive")
        for direction in ("upgrade", "downgrade")
    ]
    revision = first.name.split("_")[0]
    assert f"Generating {first}" in capsys.readouterr().out

    project.migrate("upgrade")
    assert project.tables() == {"alembic_version", "users", "posts"}
    assert project.tables("analytics") == {"alembic_version", "events"}
    assert project.tables("archive") == {"alembic_version"}
    for name in ("default", "analytics", "archive"):
        assert project.versions_in(name) == [revision]
    project.migrate("check")
    assert "No new upgrade operations detected." in capsys.readouterr().out

    project.migrate("downgrade", "base")
    for name in ("default", "analytics", "archive"):
        assert project.tables(name) == {"alembic_version"}
        assert project.versions_in(name) == []


def test_autogenerate_that_finds_nothing_writes_no_revision(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.make_app(binds=["analytics"])
    project.migrate("revision", "--autogenerate", "-m", "first")
    project.migrate("upgrade")
    capsys.readouterr()
    project.migrate("revision", "--autogenerate", "-m", "nothing")
    assert capsys.readouterr().out == "No changes in schema detected.\n"
    assert [path.name.split("_", 1)[1] for path in project.versions.glob("*.py")] == ["first.py"]

    project.make_app(binds=["analytics"], with_age=True)
    project.migrate("revision", "--autogenerate", "-m", "add age")
    [added] = project.versions.glob("*_add_age.py")
    upgrade_default = added.read_text().split("def upgrade_default")[1].split("def ")[0]
    assert 'batch_op.add_column(sa.Column("age"' in upgrade_default.replace("'", '"')


def test_a_plain_upgrade_belongs_to_the_default_database(project: Project) -> None:
    """A revision written while the app had one database: with binds added since, its
    upgrade() runs on the default database only; the binds are stamped at it."""
    notes_revision(project)
    project.make_app(binds=["analytics"])
    project.migrate("upgrade")
    assert project.tables() == {"alembic_version", "notes"}
    assert project.tables("analytics") == {"alembic_version"}
    assert project.versions_in("analytics") == ["a1"]
    project.migrate("downgrade", "base")
    assert project.tables() == {"alembic_version"}


def test_each_database_runs_its_own_function_and_a_later_bind_none(project: Project) -> None:
    project.write_revision(
        "a1",
        None,
        functions={
            "upgrade_default": NOTES,
            "downgrade_default": 'op.drop_table("notes")',
            "upgrade_analytics": NOTES.replace("notes", "clicks"),
            "downgrade_analytics": 'op.drop_table("clicks")',
        },
    )
    project.make_app(binds=["analytics", "archive"])  # archive came after the revision
    project.migrate("upgrade")
    assert project.tables() == {"alembic_version", "notes"}
    assert project.tables("analytics") == {"alembic_version", "clicks"}
    assert project.tables("archive") == {"alembic_version"}
    assert project.versions_in("archive") == ["a1"]


def test_a_revision_for_one_bind_only_leaves_the_others_alone(project: Project) -> None:
    """A hand-written revision that changes the analytics database only, written without
    the empty functions of the others: nothing to do elsewhere, as for a later bind."""
    project.write_revision(
        "a1",
        None,
        functions={
            "upgrade_analytics": NOTES.replace("notes", "clicks"),
            "downgrade_analytics": 'op.drop_table("clicks")',
        },
    )
    project.make_app(binds=["analytics"])
    project.migrate("upgrade")
    assert project.tables() == {"alembic_version"}
    assert project.tables("analytics") == {"alembic_version", "clicks"}


def test_x_bind_limits_a_run_to_the_databases_it_names(project: Project) -> None:
    project.make_app(binds=["analytics", "archive"])
    project.migrate("revision", "--autogenerate", "-m", "first")
    project.migrate("-x", "bind=analytics", "upgrade")
    assert project.tables("analytics") == {"alembic_version", "events"}
    assert project.versions_in("default") == []  # autogenerate made the version table
    project.migrate("-x", "bind=default,archive", "upgrade")
    assert project.tables() == {"alembic_version", "users", "posts"}
    assert len(project.versions_in("archive")) == 1

    assert project.failure("-x", "bind=analytcs,archive", "upgrade") == (
        "FAILED: -x bind=analytcs,archive: no database named analytcs; "
        "choose from default, analytics, archive"
    )


@pytest.mark.parametrize(
    ("argument", "line"),
    [
        ("noequals", "FAILED: -x noequals: write -x NAME=VALUE, e.g. -x bind=default"),
        ("lock=maybe", "FAILED: -x lock=maybe: write -x lock=off (or on, the default)"),
        ("lock_timeout=abc", "FAILED: -x lock_timeout=abc: give whole seconds, e.g. 60"),
        ("lock_timeout=-5", "FAILED: -x lock_timeout=-5: give whole seconds, e.g. 60"),
        # A digit, but not one that int() should be handed from a command line.
        ("lock_timeout=\u0663", "FAILED: -x lock_timeout=\u0663: give whole seconds, e.g. 60"),
        ("lockk=off", (
            "FAILED: -x lockk: no such option; the options are -x bind=NAME[,NAME...], "
            "-x lock=off, -x lock_timeout=SECONDS"
        )),
    ],
)  # fmt: skip
def test_a_bad_x_argument_is_one_line_and_changes_nothing(
    project: Project, argument: str, line: str
) -> None:
    notes_revision(project)
    assert project.failure("-x", argument, "upgrade") == line
    assert project.tables() == set()


def test_env_py_may_read_x_arguments_of_its_own(project: Project) -> None:
    """A name env.py declares is taken, and listed among the options when one is not."""
    notes_revision(project)
    write_env(project, options=', x_names=["tenant"]')
    config = project.config("tenant=acme")
    config.attributes["app"] = project.app
    command.upgrade(config, "head")
    assert project.tables() == {"alembic_version", "notes"}
    config = project.config("tenent=acme")
    config.attributes["app"] = project.app
    with pytest.raises(CommandError, match=r"-x tenent: no such option; .* -x tenant=\.\.\.$"):
        command.downgrade(config, "base")


def test_the_sqlite_lock_file_is_taken_unless_x_lock_off(project: Project) -> None:
    notes_revision(project)
    database = Path(project.url().removeprefix("sqlite:///"))
    project.migrate("-x", "lock=off", "-x", "lock_timeout=10", "upgrade")
    assert project.tables() == {"alembic_version", "notes"}
    assert not Path(f"{database}.migration-lock").exists()
    project.migrate("-x", "lock=on", "downgrade", "base")
    assert project.tables() == {"alembic_version"}
    assert Path(f"{database}.migration-lock").exists()


def test_options_without_x_as_flask_migrate_passes_them(project: Project) -> None:
    """Flask-Migrate's Namespace has no `x` at all: no -x arguments, and the run goes on."""
    notes_revision(project)
    config = project.config()
    del config.cmd_opts.x
    with project.app.app_context():
        command.upgrade(config, "head")
    assert project.versions_in() == ["a1"]


def test_progress_is_shown_on_a_command_line_unless_quiet(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    notes_revision(project)
    alembic_logger = logging.getLogger("alembic")
    project.migrate("-q", "upgrade")
    assert alembic_logger.level == logging.NOTSET
    assert "Running upgrade" not in caplog.text
    project.migrate("downgrade", "base")
    assert alembic_logger.level == logging.INFO
    assert "Running downgrade a1 -> , Revision a1" in caplog.messages


def test_code_that_runs_a_command_keeps_its_own_logging(project: Project) -> None:
    notes_revision(project)
    config = project.config()
    config.cmd_opts = None
    with project.app.app_context():
        command.upgrade(config, "head")
    assert project.versions_in() == ["a1"]
    assert logging.getLogger("alembic").level == logging.NOTSET


def test_env_py_may_hand_over_the_app_and_the_run_closes_its_connections(
    project: Project,
) -> None:
    """Outside an app context, run_migrations uses the app it was given in a context of
    its own, and closes that app's pooled connections; in the caller's context, the
    caller's pool is left as it is."""
    notes_revision(project)
    write_env(project)
    config = project.config()
    config.attributes["app"] = project.app
    command.upgrade(config, "head")
    with project.app.app_context():
        engine = current_databases()["default"]
        # Flask-SQLAlchemy 2.5 gives SQLite files a NullPool, which keeps no connection.
        pooling = hasattr(engine.pool, "checkedin")
        assert not pooling or engine.pool.checkedin() == 0
        assert project.versions_in() == ["a1"]
        command.downgrade(config, "base")
        assert not pooling or engine.pool.checkedin() == 1
    assert project.tables() == {"alembic_version"}


def test_env_py_may_hand_over_a_function_that_makes_the_app(project: Project) -> None:
    notes_revision(project)
    write_env(project, argument="lambda: app")
    config = project.config()
    config.attributes["app"] = project.app
    command.upgrade(config, "head")
    assert project.tables() == {"alembic_version", "notes"}


def test_an_app_that_migrates_at_start_up_is_made_inside_a_running_command(
    project: Project,
) -> None:
    """A factory that runs Flask-Migrate's `upgrade()` while the app is made: the command
    whose env.py makes the app goes on with its own context and does its own work."""
    notes_revision(project)
    write_env(project, argument="app")

    def create_app() -> object:
        start_up = project.config()
        start_up.attributes["app"] = project.app
        with project.app.app_context():
            command.upgrade(start_up, "head")
        return project.app

    config = project.config()
    config.attributes["app"] = create_app
    command.downgrade(config, "base")  # the start-up upgraded, then this command ran
    assert project.tables() == {"alembic_version"}


def test_env_py_options_go_to_alembic_and_override_the_librarys(project: Project) -> None:
    """include_object keeps a table the models do not know out of `check`; render_as_batch
    (the library's default on SQLite) is turned off."""
    write_env(
        project,
        options=(
            ", render_as_batch=False, include_object=lambda obj, name, type_, *_: name != 'legacy'"
        ),
    )
    config = project.config()
    config.attributes["app"] = project.app
    command.revision(config, "first", autogenerate=True)
    command.upgrade(config, "head")
    project.execute("CREATE TABLE legacy (id INTEGER)")
    command.check(config)
    project.make_app(with_age=True)
    config.attributes["app"] = project.app
    command.revision(config, "add age", autogenerate=True)
    [added] = project.versions.glob("*_add_age.py")
    assert "op.add_column('users'," in added.read_text()
    assert "batch_alter_table" not in added.read_text()


def test_without_an_app_env_py_finds_wsgi_py_as_flask_does(
    project: Project, wsgi_app: Callable[[], Path]
) -> None:
    wsgi_app()
    notes_revision(project)
    command.upgrade(project.config(), "head")
    assert project.tables() == {"alembic_version", "notes"}


def test_without_an_app_env_py_finds_the_app_flask_app_names(
    project: Project, wsgi_app: Callable[[], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain `alembic upgrade` in a project whose app is not in wsgi.py or app.py."""
    wsgi_app().rename(project.root / "notes_app.py")
    monkeypatch.setenv("FLASK_APP", "notes_app")
    monkeypatch.delitem(sys.modules, "notes_app", raising=False)
    notes_revision(project)
    try:
        command.upgrade(project.config(), "head")
    finally:
        sys.modules.pop("notes_app", None)
    assert project.tables() == {"alembic_version", "notes"}


# Where adopted apps keep their factory or app, as `flask --app` takes it.
FOUND_APPS = [
    ("Notes.run", "def create_app():\n    return make()\n"),
    ("Notes.run:build", "def build():\n    return make()\n"),
    ("Notes.run:build('testing')", "def build(name):\n    return make()\n"),
    ("Notes.run:application", "application = make()\n"),
    ("Notes/run.py", "app = make()\n"),
]


@pytest.mark.parametrize(("location", "code"), FOUND_APPS)
def test_find_app_finds_an_app_as_flask_app_does(
    project: Project, wsgi_app: Callable[[], Path], location: str, code: str
) -> None:
    """A factory or app in a submodule of a mixed-case package, named or guessed."""
    wsgi_app()
    package = project.root / "Notes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "run.py").write_text(
        f"from wsgi import app\n\n\ndef make():\n    return app\n\n\n{code}"
    )
    try:
        from flask_alembic_runtime import find_app

        assert find_app(location).name == "wsgi"
    finally:
        for module in ("Notes", "Notes.run", "run"):
            sys.modules.pop(module, None)


def test_without_an_app_or_a_flask_app_env_py_says_where_it_looked(
    project: Project, wsgi_app: Callable[[], Path]
) -> None:
    notes_revision(project)  # in the project's folder, but no wsgi.py written
    with pytest.raises(NoAppException, match="Could not locate a Flask application"):
        command.upgrade(project.config(), "head")


def test_without_an_app_env_py_takes_the_app_of_the_command_that_runs(
    project: Project,
) -> None:
    """`manage.py migrate` outside any app context: env.py's run_migrations() (no app)
    uses the app manage.py loads."""
    notes_revision(project)
    project.migrate("upgrade", in_app_context=False)
    assert project.tables() == {"alembic_version", "notes"}


def test_offline_sql_is_written_database_by_database(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    notes_revision(project)
    project.migrate("upgrade", "--sql")
    single = capsys.readouterr().out
    assert "CREATE TABLE notes" in single
    assert "-- Database:" not in single
    assert not Path(project.url().removeprefix("sqlite:///")).exists()

    project.make_app(binds=["analytics"])
    project.migrate("upgrade", "--sql")
    sql = capsys.readouterr().out
    default, analytics = sql.split("\n-- Database: analytics\n")
    assert default.lstrip().startswith("-- Database: default")
    assert "CREATE TABLE notes" in default and "CREATE TABLE notes" not in analytics
    assert "INSERT INTO alembic_version (version_num) VALUES ('a1')" in analytics

    project.migrate("-x", "bind=analytics", "upgrade", "--sql")
    only = capsys.readouterr().out
    assert "-- Database:" not in only and "CREATE TABLE notes" not in only


def test_a_handed_over_engine_is_migrated_instead_of_the_apps(
    project: Project, tmp_path: Path
) -> None:
    """pytest-alembic hands over the default database in attributes["connection"]; code
    may hand over any database by name in attributes["connections"]."""
    notes_revision(project)
    project.make_app(binds=["analytics"])
    given = create_engine(f"sqlite:///{tmp_path / 'given.db'}")
    given_bind = create_engine(f"sqlite:///{tmp_path / 'given_bind.db'}")
    config = project.config()
    config.attributes["connection"] = given
    config.attributes["connections"] = {"analytics": given_bind}
    with project.app.app_context():
        command.upgrade(config, "head")
    assert set(inspect(given).get_table_names()) == {"alembic_version", "notes"}
    assert set(inspect(given_bind).get_table_names()) == {"alembic_version"}
    assert not (tmp_path / "default.db").exists()
    assert not (tmp_path / "analytics.db").exists()
    given.dispose()
    given_bind.dispose()


def test_a_handed_over_connection_stays_the_callers(project: Project, tmp_path: Path) -> None:
    """Its transaction is the caller's to end, and it takes no lock: it is not closed,
    not committed, and no lock file appears."""
    notes_revision(project)
    engine = create_engine(project.url())
    with engine.connect() as connection:
        transaction = connection.begin()  # the caller's
        config = project.config()
        config.attributes["connection"] = connection
        with project.app.app_context():
            command.upgrade(config, "head")
        assert not connection.closed
        assert connection.in_transaction()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            ("a1",)
        ]
        transaction.commit()
    assert project.versions_in() == ["a1"]
    assert not (tmp_path / "default.db.migration-lock").exists()
    engine.dispose()


def test_a_failing_revision_rolls_back_the_whole_run_on_sqlite(project: Project) -> None:
    notes_revision(project)
    project.write_revision(
        "a2",
        "a1",
        'op.create_table("half", sa.Column("id", sa.Integer))\n'
        'op.execute("INSERT INTO no_such_table VALUES (1)")',
    )
    assert project.failure("upgrade") == (
        "FAILED: (sqlite3.OperationalError) no such table: no_such_table"
    )
    assert project.tables() == set(), "nothing of the run, DDL included"
    project.write_revision("a2", "a1", 'op.create_table("half", sa.Column("id", sa.Integer))')
    project.migrate("upgrade")
    assert project.tables() == {"alembic_version", "notes", "half"}


def test_with_several_databases_a_failure_in_one_rolls_back_all(project: Project) -> None:
    project.make_app(binds=["analytics"])
    project.write_revision(
        "a1",
        None,
        functions={
            "upgrade_default": NOTES,
            "upgrade_analytics": 'op.execute("INSERT INTO no_such_table VALUES (1)")',
        },
    )
    assert "no such table: no_such_table" in project.failure("upgrade")
    assert project.tables() == set()
    assert project.tables("analytics") == set()


@pytest.mark.server
def test_a_url_option_the_driver_refuses_is_one_line(
    project: Project, server_database: Callable[..., str]
) -> None:
    notes_revision(project)
    url = server_database("mysql") + "?charset=nope"
    project.make_app(binds=["analytics"], analytics=url)
    assert project.failure("upgrade") == (
        f"FAILED: cannot connect to the analytics database at {url}: the driver refused the "
        "URL (AttributeError: 'NoneType' object has no attribute 'encoding'): check its ?options"
    )


def test_a_database_that_cannot_be_reached_is_one_line(project: Project, tmp_path: Path) -> None:
    notes_revision(project)
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.db'}"
    project.make_app(binds=["analytics"], analytics=url)
    assert project.failure("upgrade") == (
        f"FAILED: cannot connect to the analytics database at {url}: unable to open database file"
    )


def test_a_revision_module_is_given_its_database_argument_once() -> None:
    """`upgrade(database)` runs upgrade_<database>() where the revision has them (and
    nothing for a database it has no function for), else plain upgrade() on "default";
    a module already prepared keeps its functions."""
    calls: list[str] = []
    several = types.ModuleType("several")
    several.upgrade_default = lambda: calls.append("default")  # type: ignore[attr-defined]
    several.upgrade_analytics = lambda: calls.append("analytics")  # type: ignore[attr-defined]
    plain = types.ModuleType("plain")
    plain.downgrade = lambda: calls.append("plain downgrade")  # type: ignore[attr-defined]
    for module in (several, plain, plain):  # env.py may run twice on one module
        take_database_argument(module)
    for database in ("default", "analytics", "archive"):
        several.upgrade(database)
        plain.downgrade(database)
    assert calls == ["default", "plain downgrade", "analytics"]
    assert several.upgrade.__name__ == "upgrade"


@pytest.mark.server
def test_on_mariadb_each_revision_commits_on_its_own(
    server_database: Callable[..., str], project: Project
) -> None:
    """MariaDB commits DDL at once: a failing revision leaves the ones before it applied,
    and the database at the last of them."""
    url = server_database("mysql")
    project.make_app(default=url)
    notes_revision(project)
    project.write_revision("a2", "a1", 'op.execute("INSERT INTO no_such_table VALUES (1)")')
    assert "doesn't exist" in project.failure("-x", "lock_timeout=5", "upgrade")
    assert project.tables() == {"alembic_version", "notes"}
    assert project.versions_in() == ["a1"]


@pytest.mark.server
def test_on_postgresql_a_failing_run_leaves_nothing(
    server_database: Callable[..., str], project: Project
) -> None:
    url = server_database("postgresql")
    project.make_app(default=url)
    notes_revision(project)
    project.write_revision("a2", "a1", 'op.execute("INSERT INTO no_such_table VALUES (1)")')
    assert 'relation "no_such_table" does not exist' in project.failure("upgrade")
    assert project.tables() == set()
    project.write_revision("a2", "a1")
    project.migrate("upgrade")
    assert project.versions_in() == ["a2"]


def upgrade_with(project: Project, create_app: Callable[[], Flask]) -> None:
    """`migrate upgrade` with the app `create_app` makes, outside its context (as manage.py,
    plain alembic and `flask db` run it)."""
    run_alembic(["upgrade"], prog="manage.py migrate", load_app=create_app, root=project.root)


def test_an_app_that_calls_create_all_as_it_starts_is_migrated_by_its_revisions(
    project: Project,
) -> None:
    """A factory that calls `db.create_all()` at every start, on a new database: migrate
    skips that call, so the revisions make the tables (with Flask-Migrate, the first
    revision finds them there and fails); the app's own create_all() works afterwards."""
    project.write_revision("a1", None, 'op.create_table("users", sa.Column("id", sa.Integer))')
    app = project.app

    def create_app() -> Flask:
        with app.app_context():
            sqlalchemy_object(app).create_all()
        return app

    upgrade_with(project, create_app)
    assert project.tables() == {"alembic_version", "users"}  # "posts": no revision makes it
    assert project.versions_in() == ["a1"]
    create_app()  # started as the app: its create_all() is its own again
    assert project.tables() == {"alembic_version", "users", "posts"}


def test_autogenerate_sees_the_tables_an_app_would_create_as_it_starts(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    app = project.app

    def create_app() -> Flask:
        with app.app_context():
            sqlalchemy_object(app).create_all()
        return app

    run_alembic(
        ["revision", "--autogenerate", "-m", "first"],
        prog="manage.py migrate",
        load_app=create_app,
        root=project.root,
    )
    [first] = project.versions.glob("*_first.py")
    assert "op.create_table('users'" in first.read_text()
    assert "op.create_table('posts'" in first.read_text()
    assert project.tables() == {"alembic_version"}


def test_an_app_that_reads_its_tables_as_it_starts_is_told_where_that_code_goes(
    project: Project,
) -> None:
    """A factory that seeds the database after `db.create_all()`: on a new database it
    finds no table (migrate skipped create_all); the line names the cause and the fix."""
    project.write_revision("a1", None, 'op.create_table("users", sa.Column("id", sa.Integer))')
    app = project.app

    def create_app() -> Flask:
        with app.app_context():
            db = sqlalchemy_object(app)
            db.create_all()
            db.session.execute(text("SELECT count(*) FROM users")).scalar()
        return app

    with pytest.raises(SystemExit) as exit_:
        upgrade_with(project, create_app)
    assert str(exit_.value.code) == (
        "FAILED: (sqlite3.OperationalError) no such table: users: the app reads its tables "
        "as it starts, and migrate skips its db.create_all() so that the revisions make "
        "them: move that start-up code to a command or a revision, then run this again"
    )
    assert project.tables() == set()


def test_tables_the_app_created_as_it_started_are_named_when_a_revision_finds_them(
    project: Project,
) -> None:
    """A factory that creates a table itself (not through create_all), on a new database:
    the first revision finds it already there; the line says why."""
    project.write_revision("a1", None, 'op.create_table("users", sa.Column("id", sa.Integer))')
    app = project.app

    def create_app() -> Flask:
        with app.app_context():
            db = sqlalchemy_object(app)
            db.Model.metadata.tables["users"].create(db.engine)
        return app

    with pytest.raises(SystemExit) as exit_:
        upgrade_with(project, create_app)
    message = str(exit_.value.code)
    assert "already exists: the app created users itself as it started" in message
    assert "drop those new empty tables, then upgrade" in message
    assert project.tables() == {"users"}  # the app's; the run left nothing


def test_a_table_already_there_that_the_app_did_not_create_is_not_blamed_on_it(
    project: Project,
) -> None:
    project.write_revision("a1", None, 'op.create_table("users", sa.Column("id", sa.Integer))')
    project.execute("CREATE TABLE users (id INTEGER)")
    message = project.failure("upgrade", in_app_context=False)
    assert "already exists" in message and "as it started" not in message


# A downgrade step that drops a unique constraint by no name, as autogenerate writes it:
# plain, or in a batch (Flask-Migrate's render_as_batch), whose steps run as the batch ends.
UNNAMED_DROPS = {
    "plain": 'op.drop_constraint(None, "notes", type_="unique")',
    "batch": (
        'with op.batch_alter_table("notes") as batch_op:\n'
        '    batch_op.drop_constraint(None, type_="unique")'
    ),
}


@pytest.mark.server
@pytest.mark.parametrize("form", UNNAMED_DROPS)
@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
def test_a_constraint_dropped_by_no_name_is_named_as_the_fix(
    server_database: Callable[..., str], project: Project, kind: str, form: str
) -> None:
    """The downgrade fails in one line naming the step (the line a traceback shows) and the
    fix, the database still at its revision. Named as the database named it, it runs."""
    project.make_app(default=server_database(kind))
    notes_revision(project)
    revision = project.write_revision(
        "a2",
        "a1",
        'op.create_unique_constraint("notes_id_key", "notes", ["id"])',
        UNNAMED_DROPS[form],
    )
    project.migrate("upgrade")
    message = project.failure("downgrade", "-1")
    lines = revision.read_text().splitlines()
    line = 1 + lines.index("    " + UNNAMED_DROPS[form].splitlines()[0])
    assert message == (
        f"FAILED: {shown(revision)}:{line}: "
        "drop_constraint(None, ...) names no constraint (autogenerate writes None where the "
        "models leave one unnamed): write the name the database gave it, then run this again"
    )
    assert project.versions_in() == ["a2"]
    revision.write_text(revision.read_text().replace("(None, ", '("notes_id_key", '))
    project.migrate("downgrade", "-1")
    assert project.versions_in() == ["a1"]
