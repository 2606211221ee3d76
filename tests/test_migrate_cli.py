"""`python manage.py migrate`: every Alembic command, with Alembic's options, usage
strings in the project's words, friendly defaults, one-line errors, and `init`."""

import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from bad_database_urls import BAD_URLS

from helpers import OWN_COMMANDS, Project, execute, values

# Alembic's own command line, asked in the project's virtualenv: its commands, in order.
ALEMBIC_COMMANDS = (
    "from alembic.config import CommandLine; print(*CommandLine().subparsers.choices)"
)


@pytest.fixture(scope="module")
def shared(
    installed: Callable[..., AbstractContextManager[Project]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Project]:
    """The session's installed default project with its first revision, shared by the
    tests that only read it; each test gives it a database of its own."""
    with installed() as project:
        url = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'first.db'}"
        project.migrate(
            "revision", "--autogenerate", "-m", "create users and posts", DATABASE_URL=url
        )
        yield project


@pytest.fixture
def project(shared: Project, tmp_path: Path) -> Project:
    """The shared project, on an empty SQLite database of this test's own."""
    return Project(shared.path, {"DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}"})


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What a user sees on standard error, less Alembic's INFO progress lines."""
    return [line for line in result.stderr.splitlines() if not line.startswith("INFO ")]


def test_flask_commands_and_migrate_are_listed(project: Project) -> None:
    help_text = project.run("python", "manage.py", "--help").stdout
    for command in ("migrate", "routes", "run", "shell"):
        assert f"\n  {command} " in help_text
    assert "/users" in project.run("python", "manage.py", "routes").stdout


def test_every_alembic_command_has_its_usage(project: Project) -> None:
    alembic_commands = project.run("python", "-c", ALEMBIC_COMMANDS).stdout.split()
    assert {"upgrade", "check", "ensure_version", "list_templates"} <= set(alembic_commands)
    commands = [*alembic_commands, *OWN_COMMANDS]  # and this project's own
    overview = project.migrate("--help").stdout
    assert overview.startswith("usage: manage.py migrate [-h]")
    assert "{" + ",".join(commands) + "}" in overview
    for command in commands:
        usage = project.migrate(command, "--help").stdout
        assert usage.startswith(f"usage: manage.py migrate {command} [-h]"), usage


def test_migrate_alone_shows_the_help(project: Project) -> None:
    assert project.migrate().stdout.startswith("usage: manage.py migrate")


def test_options_without_a_command_name_the_fix(project: Project) -> None:
    result = project.migrate("-x", "a=b", ok=False)
    assert result.returncode == 2
    assert "error: name a command, e.g. `upgrade`; `--help` lists them" in result.stderr


def test_upgrade_alone_means_head(project: Project) -> None:
    project.migrate("upgrade")
    assert project.migrate("current").stdout.strip().endswith("(head)")
    assert "[revision]" in project.migrate("upgrade", "--help").stdout


def test_an_environment_that_lags_the_project_is_told_the_command_that_syncs_it(
    project: Project,
) -> None:
    """A teammate pulled a newer range and the library's pin moved by `copier update`."""
    pyproject = project.path / "pyproject.toml"
    rendered = pyproject.read_text()
    pin = re.search(r"flask-alembic-runtime @ git\+\S+@([0-9a-f]{40})", rendered)
    assert pin is not None
    flask = re.search(r'"flask>=([0-9.]+),<[0-9.]+"', rendered)
    assert flask is not None
    newer = rendered.replace(pin[1], "f" * 40).replace(flask[0], '"flask>=9.0,<9.1"')
    try:
        pyproject.write_text(newer)
        result = project.migrate("heads")
    finally:
        pyproject.write_text(rendered)
    version = "from importlib.metadata import version; print(version('flask'))"
    installed = project.run("python", "-c", version).stdout.strip()
    assert result.stderr.splitlines()[0] == (
        "warning: this environment lags pyproject.toml (flask-alembic-runtime is installed "
        f"from commit {pin[1][:12]}, not ffffffffffff; flask {installed} is installed, not "
        ">=9.0,<9.1): run `pip install -e '.[dev]'`"
    )
    assert "warning" not in project.migrate("heads").stderr


def test_x_and_quiet_options(project: Project) -> None:
    result = project.migrate("-q", "-x", "lock_timeout=60", "upgrade")
    assert result.stderr == "" and result.stdout == ""
    assert "Running downgrade" in project.migrate("downgrade", "base").stderr


def test_a_revision_written_by_hand_needs_no_import(project: Project) -> None:
    """`revision -m` writes a file that passes ruff as it is, and still does once its
    steps are written with `op` and `sa`; upgrade then runs them."""
    written = project.migrate("revision", "-m", "seed settings").stdout
    [path] = [Path(word) for word in written.split() if word.endswith("_seed_settings.py")]
    project.run("ruff", "check", "--no-cache", str(path))
    path.write_text(path.read_text().replace(
        '"""Upgrade the schema."""\n',
        '"""Upgrade the schema."""\n    op.create_table("settings", sa.Column("id", sa.Integer, '
        'primary_key=True))\n    op.execute("INSERT INTO settings (id) VALUES (1)")\n',
    ).replace(
        '"""Downgrade the schema."""\n', '"""Downgrade the schema."""\n    op.drop_table("settings")\n'
    ))  # fmt: skip
    project.run("ruff", "check", "--no-cache", str(path))
    project.migrate("upgrade")
    assert values(project.env["DATABASE_URL"], "SELECT id FROM settings") == [1]
    path.unlink()


def test_alembic_error_is_one_line_exit_1(project: Project) -> None:
    result = project.migrate("downgrade", "nosuch", ok=False)
    assert result.returncode == 1
    assert stderr_lines(result) == [
        "FAILED: no revision 'nosuch' in the history: `python manage.py migrate history` lists them"
    ]


def test_unreachable_database_is_one_line_exit_1(project: Project, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.db'}"
    result = project.migrate("upgrade", ok=False, DATABASE_URL=url)
    assert result.returncode == 1
    assert stderr_lines(result) == [
        f"FAILED: cannot connect to the default database at {url}: unable to open database file"
    ]


# Commands that read no database: they work whatever DATABASE_URL says.
WITHOUT_A_DATABASE = [
    ["--help"], ["upgrade", "--help"], ["heads"], ["history"], ["show", "head"], ["branches"],
    ["list_templates"],
]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "line"),
    [
        *BAD_URLS,
        ("postgresql://u:secret@localhost:1/x", ("FAILED: the database driver psycopg is not"
         " installed: pip install -e '.[dev]' (the project's packages), or pip install"
         " 'psycopg[binary]'")),
    ],
)  # fmt: skip
def test_a_bad_database_url_is_one_line(project: Project, url: str, line: str) -> None:
    for args in WITHOUT_A_DATABASE:
        project.migrate(*args, DATABASE_URL=url)
    result = project.migrate("current", ok=False, DATABASE_URL=url)
    assert result.returncode == 1
    assert stderr_lines(result) == [line]
    assert "secret" not in result.stderr
    # Flask's own commands make the app too.
    routes = project.run("python", "manage.py", "routes", ok=False, DATABASE_URL=url)
    assert (routes.returncode, routes.stderr.splitlines()) == (1, [line])


def test_a_revision_that_does_not_compile_is_one_line(project: Project) -> None:
    broken = project.path / "migrations" / "versions" / "broken.py"
    broken.write_text('"""A revision with a typo."""\n\nrevision = "broken"\ndef upgrade(:\n')
    try:
        result = project.migrate("heads", ok=False)
    finally:
        broken.unlink()
    assert stderr_lines(result) == [
        "FAILED: migrations/versions/broken.py:4: SyntaxError: invalid syntax"
    ]


@pytest.mark.parametrize(
    ("down_revision", "line"),
    [
        ('"ffffffffffff"', "migrations/versions/loop.py: down_revision 'ffffffffffff' is no revision here: set it to the one before, or None"),
        ('"loop"', "revisions loop -> loop form a circle: point the down_revision of migrations/versions/loop.py to an earlier one"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", [["python", "manage.py", "migrate"], ["flask", "db"]])
def test_a_revision_pointing_nowhere_or_to_itself_is_one_line(
    project: Project, down_revision: str, line: str, command: list[str]
) -> None:
    """As `migrate revision --rev-id` of an existing id or a hand edit leaves one."""
    broken = project.path / "migrations" / "versions" / "loop.py"
    broken.write_text(f'"""A loop."""\n\nrevision = "loop"\ndown_revision = {down_revision}\n')
    try:
        result = project.run(*command, "heads", ok=False)
    finally:
        broken.unlink()
    assert result.returncode == 1
    assert stderr_lines(result) == [f"FAILED: {line}"]


def test_raiseerr_shows_the_traceback(project: Project) -> None:
    result = project.migrate("--raiseerr", "downgrade", "nosuch", ok=False)
    assert "Traceback (most recent call last)" in result.stderr


def test_list_templates_offers_the_flask_template(project: Project) -> None:
    listing = project.migrate("list_templates").stdout
    assert "flask - Flask-aware environment" in listing
    assert "generic - Generic single-database configuration." in listing
    assert "python manage.py migrate init --template generic ./scripts" in listing
    assert "  alembic init" not in listing


def test_init_creates_a_working_flask_environment(project: Project) -> None:
    project.migrate("init", "custom")
    custom = project.path / "custom"
    assert sorted(p.name for p in custom.iterdir()) == [
        "README", "alembic.ini", "env.py", "script.py.mako", "versions",
    ]  # fmt: skip
    # The library's environment: the app comes from the command (here manage.py's), or as
    # `flask` finds it (.flaskenv) under plain alembic.
    assert "run_migrations(" in (custom / "env.py").read_text()
    assert list((custom / "versions").iterdir()) == []

    config = ("-c", "custom/alembic.ini")
    project.migrate(*config, "revision", "--autogenerate", "-m", "first")
    [revision] = (custom / "versions").glob("*_first.py")
    project.migrate(*config, "upgrade")
    assert "No new upgrade operations detected." in project.migrate(*config, "check").stdout
    head = revision.name.split("_")[0]
    assert project.run("alembic", *config, "current").stdout.strip() == f"{head} (head)"


def test_init_takes_a_template_and_package_arguments(project: Project) -> None:
    project.migrate("init", "--template", "flask", "--package", "other")
    assert (project.path / "other" / "__init__.py").is_file()
    assert (project.path / "other" / "versions" / "__init__.py").is_file()
    project.migrate("init", "-t", "generic", "plain")
    assert "engine_from_config" in (project.path / "plain" / "env.py").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("init", "migrations"), "FAILED: Directory migrations already exists and is not empty"),
        (
            ("init", "-t", "nosuch", "new"),
            "FAILED: no template 'nosuch': `python manage.py migrate list-templates` lists them",
        ),
    ],
)
def test_init_errors_are_one_line(project: Project, args: tuple[str, ...], message: str) -> None:
    result = project.migrate(*args, ok=False)
    [line] = stderr_lines(result)
    assert line.startswith(message)


def test_flask_migrate_scenario(make_project: Callable[..., Project], tmp_path: Path) -> None:
    """Flask-Migrate's own test, replayed: check before the first revision and before the
    upgrade fails, passes after; a String(100) to String(10) change is detected."""
    project = make_project()
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    assert project.migrate("check", ok=False).returncode == 1
    project.migrate("revision", "--autogenerate", "-m", "initial")
    assert project.migrate("check", ok=False).returncode == 1
    project.migrate("upgrade")
    project.migrate("check")

    models = project.path / "my_flask_app" / "models.py"
    models.write_text(models.read_text().replace("String(100)", "String(10)"))
    result = project.migrate("check", ok=False)
    assert "FAILED: the models differ from the migrations (modify_type users.name)" in result.stderr
    project.migrate("revision", "--autogenerate", "-m", "shorter names")
    [revision] = (project.path / "migrations" / "versions").glob("*_shorter_names.py")
    text = revision.read_text()
    assert "existing_type=sa.VARCHAR(length=100)" in text
    assert "type_=sa.String(length=10)" in text
    project.migrate("upgrade")
    project.migrate("check")


def test_doctor_proves_the_history_and_names_each_problem(project: Project) -> None:
    url = project.env["DATABASE_URL"]
    database = Path(url.removeprefix("sqlite:///"))
    project.migrate("upgrade")
    content = database.read_bytes()
    report = project.migrate("doctor").stdout.splitlines()
    assert report[0].startswith("default: at the head ")
    assert report[1:] == [
        "default: the history replayed on a scratch database gives its schema (2 tables)",
        "check: the models match the migrations",
    ]
    assert database.read_bytes() == content, "doctor wrote to the database"

    # An index renamed by hand: a database built from the history would differ from this one.
    execute(url, "DROP INDEX ix_users_name")
    execute(url, "CREATE INDEX users_by_name ON users (name)")
    result = project.migrate("doctor", ok=False)
    assert "default:   index users.ix_users_name: only in the replayed history" in result.stdout
    assert "default:   index users.users_by_name: only in the database" in result.stdout
    assert "check: TO DO the models differ from the migrations (" in result.stdout
    assert stderr_lines(result) == [
        "FAILED: doctor found 1 problem(s), each listed above with its fix"
    ]

    # A database with no revision recorded: upgrade it, or stamp it.
    execute(url, "DROP INDEX users_by_name")
    execute(url, "CREATE INDEX ix_users_name ON users (name)")
    project.migrate("downgrade", "base")
    result = project.migrate("doctor", ok=False)
    assert (
        f"default: PROBLEM no revision recorded in {url}: run `python manage.py migrate upgrade`,"
        " or `stamp head` if the schema is already there"
    ) in result.stdout


def test_name_picks_the_ini_files_section(project: Project) -> None:
    """`-n NAME` reads [NAME] of the file `-c` names, as plain alembic does."""
    settings = "[alembic]\nscript_location = nowhere\n\n[other]\nscript_location = migrations\n"
    (project.path / "two.ini").write_text(settings)
    try:
        heads = project.migrate("-c", "two.ini", "-n", "other", "heads").stdout
        assert "(head)" in heads
        result = project.migrate("-c", "two.ini", "heads", ok=False)
        assert "nowhere" in result.stderr
    finally:
        (project.path / "two.ini").unlink()
