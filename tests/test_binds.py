"""Several databases (Flask-SQLAlchemy binds): one history, a version table in each
database, an upgrade and a downgrade function per database in each revision."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import (
    COPIER,
    Project,
    add_age_column,
    commit,
    execute,
    run,
    scalar,
    tables,
    template_repository,
    values,
)

BINDS = ["analytics", "archive"]
# The variables that name the project fixture's databases: the default one, then each bind.
DATABASE_VARIABLES = ["DATABASE_URL", *(f"DATABASE_URL_{bind.upper()}" for bind in BINDS)]
# What a revision holds in that project: an upgrade and a downgrade function per database.
FUNCTIONS_PER_DATABASE = [
    f"{direction}_{name}" for name in ["default", *BINDS] for direction in ("upgrade", "downgrade")
]
ANALYTICS_ANCHOR = "    name: Mapped[str] = mapped_column(String(100))\n"


def failing_revision(head: str, binds: list[str]) -> str:
    """A revision that changes every database, then fails in the last bind."""
    parts = [
        "def upgrade_default() -> None:",
        '    op.create_table("half_default", sa.Column("id", sa.Integer, primary_key=True))',
        "    op.execute(\"INSERT INTO users (id, email, name) VALUES (1, 'a@example.com', 'A')\")",
    ]
    for bind in binds:
        parts += [
            f"def upgrade_{bind}() -> None:",
            f'    op.create_table("half_{bind}", sa.Column("id", sa.Integer, primary_key=True))',
        ]
    parts.append('    op.execute("INSERT INTO no_such_table VALUES (1)")')
    return (
        '"""fails in the last bind"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "f0000000000f"\ndown_revision = "{head}"\n\n' + "\n".join(parts) + "\n"
    )


def urls(folder: Path, *names: str) -> dict[str, str]:
    """A SQLite file in `folder` for the default database and for each bind named."""
    return {"DATABASE_URL": f"sqlite:///{folder / 'default.db'}"} | {
        f"DATABASE_URL_{name.upper()}": f"sqlite:///{folder / name}.db" for name in names
    }


def functions(revision: Path) -> dict[str, str]:
    """The revision's functions by name, each with its body."""
    parts = re.split(r"^def (\w+)\(\) -> None:\n", revision.read_text(), flags=re.MULTILINE)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def head_of(project: Project) -> str:
    return project.migrate("heads").stdout.split()[0]


@pytest.fixture
def project(make_project: Callable[..., Project], tmp_path: Path) -> Project:
    """A project with two binds, each database a SQLite file of its own."""
    project = make_project(binds=BINDS)
    project.env.update(urls(tmp_path, *BINDS))
    return project


def test_every_database_is_migrated_with_its_own_models(project: Project) -> None:
    env = project.env
    versions = project.path / "migrations" / "versions"
    project.migrate("revision", "--autogenerate", "-m", "first")
    [first] = versions.glob("*_first.py")
    parts = functions(first)
    assert list(parts) == FUNCTIONS_PER_DATABASE
    assert 'op.create_table(\n        "users",' in parts["upgrade_default"]
    assert 'op.create_table(\n        "events",' in parts["upgrade_analytics"]
    assert parts["upgrade_archive"].strip() == '"""Upgrade the archive database."""'

    project.migrate("upgrade")
    head = head_of(project)
    assert tables(env["DATABASE_URL"]) == {"alembic_version", "users", "posts"}
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version", "events"}
    assert tables(env["DATABASE_URL_ARCHIVE"]) == {"alembic_version"}
    for variable in DATABASE_VARIABLES:
        assert scalar(env[variable], "SELECT version_num FROM alembic_version") == head

    assert "No new upgrade operations detected." in project.migrate("check").stdout
    for name in ["default", *BINDS]:
        project.migrate("-x", f"bind={name}", "check")
    current = project.migrate("current").stdout
    assert current.split() == [head, "(head)"] * 3
    doctor = project.migrate("doctor").stdout
    for name, count in [("default", 2), ("analytics", 1), ("archive", 0)]:
        assert f"{name}: at the head {head}" in doctor
        assert (
            f"{name}: the history replayed on a scratch database gives its schema ({count}"
            in doctor
        )

    project.migrate("downgrade", "base")
    for variable in DATABASE_VARIABLES:
        assert tables(env[variable]) == {"alembic_version"}
        assert scalar(env[variable], "SELECT count(*) FROM alembic_version") == 0

    project.run("ruff", "check", "--no-cache", ".")
    project.run("pytest", "-q", "-p", "no:cacheprovider")


def test_autogenerate_picks_up_a_change_in_one_bind_only(project: Project) -> None:
    versions = project.path / "migrations" / "versions"
    project.migrate("revision", "--autogenerate", "-m", "first")
    project.migrate("upgrade")

    models = project.path / "my_flask_app" / "models.py"
    models.write_text(
        models.read_text().replace(
            ANALYTICS_ANCHOR, ANALYTICS_ANCHOR + "    source: Mapped[str | None]\n"
        )
    )
    failed = project.migrate("check", ok=False)
    assert "add_column events.source" in failed.stderr
    project.migrate("-x", "bind=default", "check")
    project.migrate("-x", "bind=archive", "check")

    project.migrate("revision", "--autogenerate", "-m", "event source")
    [second] = versions.glob("*_event_source.py")
    parts = functions(second)
    assert 'sa.Column("source"' in parts["upgrade_analytics"]
    assert 'drop_column("source")' in parts["downgrade_analytics"]
    for name in ("upgrade_default", "downgrade_default", "upgrade_archive", "downgrade_archive"):
        assert "op." not in parts[name], f"{name} should be empty"

    project.migrate("upgrade")
    project.migrate("check")
    project.migrate("downgrade", "-1")
    assert "source" not in scalar(
        project.env["DATABASE_URL_ANALYTICS"], "SELECT sql FROM sqlite_master WHERE name='events'"
    )
    project.run("ruff", "check", "--no-cache", ".")

    project.migrate("upgrade")
    result = project.migrate("revision", "--autogenerate", "-m", "nothing")
    assert "No changes in schema detected." in result.stdout
    assert not list(versions.glob("*_nothing.py"))


def test_x_bind_limits_a_run_to_some_databases(project: Project) -> None:
    env = project.env
    project.migrate("revision", "--autogenerate", "-m", "first")
    project.migrate("-x", "bind=analytics", "upgrade")
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version", "events"}
    assert tables(env["DATABASE_URL"]) == {"alembic_version"}  # autogenerate made it
    assert scalar(env["DATABASE_URL"], "SELECT count(*) FROM alembic_version") == 0
    project.migrate("-x", "bind=default,archive", "upgrade")
    assert tables(env["DATABASE_URL"]) == {"alembic_version", "users", "posts"}
    assert tables(env["DATABASE_URL_ARCHIVE"]) == {"alembic_version"}

    result = project.migrate("-x", "bind=analytcs", "upgrade", ok=False)
    assert result.stderr.strip().splitlines()[-1] == (
        "FAILED: -x bind=analytcs: no database named analytcs; "
        "choose from default, analytics, archive"
    )


def test_every_command_covers_every_database(project: Project) -> None:
    def versions_in_each() -> list[set[object]]:
        query = "SELECT version_num FROM alembic_version"
        return [set(values(project.env[variable], query)) for variable in DATABASE_VARIABLES]

    project.migrate("revision", "--autogenerate", "-m", "first")
    first = head_of(project)
    project.migrate("ensure_version")
    assert versions_in_each() == [set()] * 3
    project.migrate("stamp", "head")
    assert versions_in_each() == [{first}] * 3
    project.migrate("stamp", "base")
    assert versions_in_each() == [set()] * 3

    # Two branches from the first revision, merged: the merge has a function per database.
    project.migrate("revision", "-m", "one")
    project.migrate("revision", "-m", "two", "--head", first, "--splice")
    assert len(project.migrate("heads").stdout.splitlines()) == 2
    project.migrate("merge", "heads", "-m", "merge")
    [merge] = (project.path / "migrations" / "versions").glob("*_merge.py")
    assert list(functions(merge)) == FUNCTIONS_PER_DATABASE
    project.migrate("upgrade")
    head = head_of(project)
    assert versions_in_each() == [{head}] * 3
    for command in (["history"], ["heads"], ["show", "head"], ["current"]):
        assert head in project.migrate(*command).stdout
    history = project.migrate("history").stdout.splitlines()
    assert len(history) == len(set(history)) == 4, "each revision once, not once per database"
    assert project.migrate("branches").stdout.startswith(f"{first} (branchpoint)")
    project.migrate("downgrade", "base")  # through the merge and both branches
    assert versions_in_each() == [set()] * 3
    project.run("ruff", "check", "--no-cache", ".")


def test_offline_sql_is_written_per_database(project: Project) -> None:
    project.migrate("revision", "--autogenerate", "-m", "first")
    sql = project.migrate("upgrade", "--sql").stdout
    default, rest = sql.split("-- Database: analytics")
    analytics, archive = rest.split("-- Database: archive")
    assert default.lstrip().startswith("-- Database: default")
    assert "CREATE TABLE users" in default and "CREATE TABLE events" not in default
    assert "CREATE TABLE events" in analytics and "CREATE TABLE users" not in analytics
    assert "CREATE TABLE alembic_version" in archive and "CREATE TABLE events" not in archive

    only = project.migrate("-x", "bind=analytics", "upgrade", "--sql").stdout
    assert "CREATE TABLE events" in only and "CREATE TABLE users" not in only
    assert "-- Database:" not in only


def test_an_error_rolls_back_every_database(project: Project) -> None:
    env = project.env
    project.migrate("revision", "--autogenerate", "-m", "first")
    project.migrate("upgrade")
    head = head_of(project)
    versions = project.path / "migrations" / "versions"
    (versions / "f0000000000f_fails.py").write_text(failing_revision(head, BINDS))

    result = project.migrate("upgrade", ok=False)
    assert result.stderr.strip().splitlines()[-1] == (
        "FAILED: (sqlite3.OperationalError) no such table: no_such_table"
    )
    assert tables(env["DATABASE_URL"]) == {"alembic_version", "users", "posts"}
    assert scalar(env["DATABASE_URL"], "SELECT count(*) FROM users") == 0
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version", "events"}
    assert tables(env["DATABASE_URL_ARCHIVE"]) == {"alembic_version"}
    for variable in DATABASE_VARIABLES:
        assert scalar(env[variable], "SELECT version_num FROM alembic_version") == head


def test_multidb_template_is_listed_and_initialised(project: Project) -> None:
    listing = project.migrate("list_templates").stdout
    assert "flask - Flask-aware environment" in listing
    assert "flask-multidb - Flask-aware environment for several databases" in listing

    project.migrate("init", "--template", "flask-multidb", "other")
    assert "revision_environment = true" in (project.path / "other" / "alembic.ini").read_text()
    config = ("-c", "other/alembic.ini")
    project.migrate(*config, "revision", "-m", "by hand")
    [revision] = (project.path / "other" / "versions").glob("*_by_hand.py")
    assert list(functions(revision)) == FUNCTIONS_PER_DATABASE
    project.migrate(*config, "upgrade")
    project.run("ruff", "check", "--no-cache", "other")


@pytest.mark.server
@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_a_server_database_with_a_sqlite_bind(
    make_project: Callable[..., Project],
    tmp_path: Path,
    server_database: Callable[[str], str],
    server: str,
) -> None:
    project = make_project(database=server, binds=["analytics"])
    project.env.update(urls(tmp_path, "analytics"))
    project.env["DATABASE_URL"] = server_database(server)
    env = project.env

    project.migrate("revision", "--autogenerate", "-m", "first")
    project.migrate("upgrade")
    head = head_of(project)
    assert tables(env["DATABASE_URL"]) == {"alembic_version", "users", "posts"}
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version", "events"}
    project.migrate("check")

    # A failure in the SQLite bind rolls the server's database back too: all of it on
    # PostgreSQL; on MySQL/MariaDB all but the DDL, which it commits at once.
    versions = project.path / "migrations" / "versions"
    (versions / "f0000000000f_fails.py").write_text(failing_revision(head, ["analytics"]))
    result = project.migrate("upgrade", ok=False)
    assert "no such table: no_such_table" in result.stderr
    kept = {"half_default"} if server == "mysql" else set()
    assert tables(env["DATABASE_URL"]) == {"alembic_version", "users", "posts", *kept}
    assert scalar(env["DATABASE_URL"], "SELECT count(*) FROM users") == 0
    assert scalar(env["DATABASE_URL"], "SELECT version_num FROM alembic_version") == head
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version", "events"}
    (versions / "f0000000000f_fails.py").unlink()
    if kept:
        execute(env["DATABASE_URL"], "DROP TABLE half_default")  # the README's recovery

    project.migrate("downgrade", "base")
    assert tables(env["DATABASE_URL"]) == {"alembic_version"}
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version"}
    project.run("pytest", "-q", "-p", "no:cacheprovider", TEST_DATABASE_URL=env["DATABASE_URL"])


@pytest.mark.server
@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_a_bind_on_the_same_server(
    make_project: Callable[..., Project], server_database: Callable[[str], str], server: str
) -> None:
    """Each database has a migration lock of its own: MySQL's GET_LOCK names are server-wide,
    and one run holding the default database's lock must not wait for itself on the bind's."""
    project = make_project(database=server, binds=["analytics"])
    project.env["DATABASE_URL"] = server_database(server)
    project.env["DATABASE_URL_ANALYTICS"] = server_database(server)
    project.migrate("revision", "--autogenerate", "-m", "first")
    project.migrate("upgrade")
    assert tables(project.env["DATABASE_URL"]) == {"alembic_version", "users", "posts"}
    assert tables(project.env["DATABASE_URL_ANALYTICS"]) == {"alembic_version", "events"}
    project.migrate("check")
    project.migrate("downgrade", "base")
    assert tables(project.env["DATABASE_URL_ANALYTICS"]) == {"alembic_version"}


def test_a_single_database_project_takes_binds_and_keeps_its_history(tmp_path: Path) -> None:
    """Flask-Migrate #179: a project with revisions and a migrated database gains a bind."""
    template = template_repository(tmp_path / "template")
    run(["git", "tag", "v1"], template, {})
    destination = tmp_path / "project"
    run([COPIER, "copy", "--trust", "--defaults", "--skip-tasks", template, destination],
        tmp_path, {})  # fmt: skip
    project = Project(destination).install()
    project.env.update(urls(tmp_path, "analytics"))
    env = project.env
    run(["git", "init", "--quiet"], destination, {})
    commit(destination, "Generated")
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    project.migrate("upgrade")
    add_age_column(destination, "my_flask_app")
    project.migrate("revision", "--autogenerate", "-m", "add user age")
    project.migrate("upgrade")
    head = head_of(project)
    execute(env["DATABASE_URL"], "INSERT INTO users (email, name, age) VALUES ('a@x.org', 'A', 3)")
    commit(destination, "Our revisions")
    versions = destination / "migrations" / "versions"
    before = {path.name: path.read_bytes() for path in versions.iterdir()}

    run([COPIER, "update", "--trust", "--defaults", "--skip-tasks", "--data",
         "binds=[analytics]"], destination, {})  # fmt: skip

    assert {path.name: path.read_bytes() for path in versions.iterdir()} == before
    config = (destination / "my_flask_app" / "config.py").read_text()
    assert '"analytics": os.environ.get(' in config
    assert "binds:\n- analytics" in (destination / ".copier-answers.yml").read_text()
    models = destination / "my_flask_app" / "models.py"
    assert "__bind_key__" not in models.read_text(), "models.py is the user's"
    models.write_text(
        models.read_text()
        + '\n\nclass Event(db.Model):\n    __bind_key__ = "analytics"\n    __tablename__ = "events"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    )

    project.migrate("upgrade")  # the old revisions belong to the default database only
    assert scalar(env["DATABASE_URL"], "SELECT version_num FROM alembic_version") == head
    assert scalar(env["DATABASE_URL"], "SELECT count(*) FROM users") == 1
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version"}
    assert scalar(env["DATABASE_URL_ANALYTICS"], "SELECT version_num FROM alembic_version") == head

    project.migrate("revision", "--autogenerate", "-m", "create events")
    [third] = versions.glob("*_create_events.py")
    parts = functions(third)
    assert 'op.create_table(\n        "events",' in parts["upgrade_analytics"]
    assert "op." not in parts["upgrade_default"]
    project.migrate("upgrade")
    project.migrate("check")
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version", "events"}
    assert scalar(env["DATABASE_URL"], "SELECT count(*) FROM users") == 1

    project.migrate("downgrade", "base")
    assert tables(env["DATABASE_URL"]) == {"alembic_version"}
    assert tables(env["DATABASE_URL_ANALYTICS"]) == {"alembic_version"}
    project.migrate("upgrade")
    project.run("ruff", "check", "--no-cache", ".")
    project.run("pytest", "-q", "-p", "no:cacheprovider")
