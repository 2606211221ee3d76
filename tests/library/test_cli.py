"""cli.py: `flask migrate ...` and `flask db ...`, the commands the package registers in
Flask's command line; without Flask-Migrate installed, `db` is `migrate` by another name."""

from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask.cli import FlaskGroup

from .conftest import Project


def flask(*args: str) -> Result:
    """`flask ARGS` in the current folder, where it finds wsgi.py."""
    return CliRunner().invoke(FlaskGroup(), list(args), prog_name="flask")


@pytest.fixture
def app_project(project: Project, wsgi_app: Callable[[], Path]) -> Project:
    """The project, its app in wsgi.py (a `notes` model), worked on from its folder."""
    assert find_spec("flask_migrate") is None, "these tests are for a project without it"
    wsgi_app()
    return project


def test_flask_lists_migrate_and_db(app_project: Project) -> None:
    listing = flask("--help").output
    assert "  migrate  Run an Alembic command (`--help` lists them all)." in listing
    assert "  db       Run an Alembic command, as `migrate`" in listing


@pytest.mark.parametrize("group", ["migrate", "db"])
def test_flask_group_runs_alembic_with_the_app_flask_found(
    app_project: Project, group: str
) -> None:
    written = flask(group, "revision", "--autogenerate", "-m", "notes")
    assert written.exit_code == 0, written.output
    [revision] = app_project.versions.glob("*_notes.py")
    assert f"Generating {revision}" in written.output
    assert "op.create_table('notes'," in revision.read_text()

    assert flask(group, "upgrade").exit_code == 0
    assert app_project.tables() - {"users", "posts"} == {"alembic_version", "notes"}
    current = flask(group, "current")
    assert current.output.strip() == f"{revision.name.split('_')[0]} (head)"


@pytest.mark.parametrize("group", ["migrate", "db"])
def test_usage_and_errors_name_the_flask_command(app_project: Project, group: str) -> None:
    usage = flask(group, "upgrade", "--help")
    assert usage.exit_code == 0
    assert usage.output.startswith(f"usage: flask {group} upgrade [-h]")
    failed = flask(group, "downgrade", "nosuch")
    assert failed.exit_code == 1
    assert failed.output.splitlines()[-1] == (
        f"FAILED: no revision 'nosuch' in the history: `flask {group} history` lists them"
    )


def test_doctor_loads_the_app_flask_found(app_project: Project) -> None:
    assert flask("migrate", "revision", "--autogenerate", "-m", "notes").exit_code == 0
    assert flask("migrate", "upgrade").exit_code == 0
    report = flask("db", "doctor")
    assert report.exit_code == 0, report.output
    assert report.output.splitlines()[-2:] == [
        "default: the history replayed on a scratch database gives its schema (1 tables)",
        "check: the models match the migrations",
    ]


def test_without_an_app_to_find_flask_migrate_is_one_line(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    project.write_revision("a1", None)
    result = flask("migrate", "upgrade")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(
        "FAILED: Could not locate a Flask application."  # then Flask's advice, by release
    )


def test_an_environment_only_flask_migrate_knows_is_found_through_the_app(
    app_project: Project,
) -> None:
    """No [tool.alembic] and no migrations/alembic.ini: the environment is where the app's
    Flask-Migrate extension says (`Migrate(app, db, directory="pkg/migrations")`)."""
    (app_project.root / "pkg").mkdir()
    app_project.migrations.rename(app_project.root / "pkg" / "migrations")
    (app_project.root / "pyproject.toml").write_text("[tool.ruff]\n")
    wsgi = app_project.root / "wsgi.py"
    wsgi.write_text(
        wsgi.read_text() + "\nfrom types import SimpleNamespace\n\n"
        'app.extensions["migrate"] = SimpleNamespace(directory="pkg/migrations")\n'
    )
    written = flask("migrate", "revision", "--autogenerate", "-m", "notes")
    assert written.exit_code == 0, written.output
    assert list((app_project.root / "pkg" / "migrations" / "versions").glob("*_notes.py"))
    assert flask("migrate", "upgrade").exit_code == 0
    assert "notes" in app_project.tables()
