"""errors.py: the one line `migrate` prints for an error it knows (the cause and the fix),
and None for those that keep their traceback."""

import errno
import re
from pathlib import Path

import pytest
import sqlalchemy
from alembic.util import CommandError
from bad_database_urls import BAD_URLS
from flask.cli import NoAppException
from packaging.version import Version
from sqlalchemy.exc import ArgumentError

from flask_alembic_runtime.errors import bad_database_url, error_line, first_line, masked

from .conftest import Project

# env.py as a generated project writes it: the app made from DATABASE_URL, when needed.
ENV_FROM_DATABASE_URL = """\
import os

from flask_alembic_runtime import run_migrations

from library.conftest import create_app

run_migrations(lambda: create_app({"default": os.environ["DATABASE_URL"]}))
"""


@pytest.mark.parametrize(
    ("url", "line"),
    [
        *BAD_URLS,
        # A driver neither test environment installs (the older ones, with SQLAlchemy 1.4
        # and 2.0, have psycopg2: their postgresql:// URLs need it).
        ("mysql+mysqldb://u:secret@localhost:1/x", ("FAILED: the database driver MySQLdb"
         " is not installed: pip install -e '.[dev]' (the project's packages), or pip install"
         " 'mysqlclient'")),
    ],
)  # fmt: skip
def test_a_bad_database_url_is_one_line(
    project: Project, monkeypatch: pytest.MonkeyPatch, url: str, line: str
) -> None:
    (project.migrations / "env.py").write_text(ENV_FROM_DATABASE_URL)
    monkeypatch.setenv("DATABASE_URL", url)
    project.migrate("heads", in_app_context=False)  # reads no database: works all the same
    # SQLAlchemy's own reason, in parentheses, is worded by its release: ours frames it.
    failure = project.failure("current", in_app_context=False)
    assert re.sub(r" \(.*\):", " (...):", failure) == re.sub(r" \(.*\):", " (...):", line)
    assert failure == line or Version(sqlalchemy.__version__) < Version("2.0")


def test_the_bad_setting_is_named_among_the_database_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///app.db")
    monkeypatch.setenv("DATABASE_URLS", "not one of them")
    assert bad_database_url() is None
    monkeypatch.setenv("DATABASE_URL_ANALYTICS", "postgresql://reader:secret@db:5432")
    assert bad_database_url() is None
    monkeypatch.setenv("DATABASE_URL_ARCHIVE", "postgres-ql://archivist:secret@db/archive")
    assert str(bad_database_url()).startswith(
        "DATABASE_URL_ARCHIVE=postgres-ql://archivist:***@db/archive is not a database URL"
    )


def test_an_argument_error_without_a_bad_setting_is_its_first_line() -> None:
    assert error_line(ArgumentError("a bad argument\nin detail")) == "a bad argument"


@pytest.mark.parametrize(
    ("given", "name"),
    [("/venv/site-packages/alembic/templates/aioflask", "aioflask"), ("'nope'", "nope")],
)
def test_an_unknown_template_names_the_command_that_lists_them(given: str, name: str) -> None:
    """Alembic names the folder it looked for (older releases the name, quoted)."""
    line = error_line(CommandError(f"No such template {given}"), "flask db")
    assert line == f"no template '{name}': `flask db list-templates` lists them"


def test_a_missing_module_that_is_no_database_driver_keeps_its_traceback() -> None:
    assert error_line(ModuleNotFoundError("No module named 'yaml'", name="yaml")) is None


def test_a_revision_that_does_not_compile_is_its_file_and_line(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = project.versions / "broken.py"
    broken.write_text('"""A revision with a typo."""\n\nrevision = "broken"\ndef upgrade(:\n')
    monkeypatch.chdir(project.root)
    assert project.failure("heads") == (
        "FAILED: migrations/versions/broken.py:4: SyntaxError: invalid syntax"
    )
    monkeypatch.chdir(project.versions.parent.parent.parent)
    line = project.failure("heads")
    assert line.startswith(f"FAILED: {Path(project.root.name) / 'migrations'}/versions/broken.py:")


def test_models_that_differ_from_the_migrations_are_listed_with_the_fix(project: Project) -> None:
    project.write_revision("a1", None)
    project.migrate("upgrade")
    assert project.failure("check") == (
        "FAILED: the models differ from the migrations (add_table users, add_index "
        "ix_users_name, add_table posts): write a revision with "
        "`python manage.py migrate revision --autogenerate -m MESSAGE`"
    )


def test_known_errors_are_their_first_line_and_others_none() -> None:
    assert error_line(CommandError("the cause: the fix\nTraceback...")) == "the cause: the fix"
    assert error_line(ValueError("a bug")) is None
    assert error_line(SyntaxError("no file")) is None
    assert error_line(NoAppException("Could not locate a Flask application.\nUse...")) == (
        "Could not locate a Flask application."
    )
    assert first_line(ValueError("\n  first\nsecond")) == "first"


def test_a_password_is_masked_wherever_the_url_has_one() -> None:
    assert masked("postgresql://user:s3cret@host/db") == "postgresql://user:***@host/db"
    assert masked("postgresql://user@host/db") == "postgresql://user@host/db"
    assert masked("sqlite:///app.db") == "sqlite:///app.db"
    assert masked("postgresql://u:p@ss:w/rd%@h/db") == "postgresql://u:***@h/db"
    assert masked("postgresql://u:p@word@127.0.0.1/db") == "postgresql://u:***@127.0.0.1/db"


def test_autogenerate_on_a_database_behind_names_the_upgrade(project: Project) -> None:
    project.write_revision("a1", None, 'op.create_table("notes", sa.Column("id", sa.Integer))')
    assert project.failure("revision", "--autogenerate", "-m", "more") == (
        "FAILED: the database is behind the newest revision, so autogenerate would write again "
        "what a revision already does: run `python manage.py migrate upgrade` first"
    )
    assert [path.name for path in project.versions.glob("*.py")] == ["a1_a1.py"]


def test_a_write_where_the_user_may_not_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "versions" / "a1_new.py"
    for code, reason in (
        (errno.EROFS, "Read-only file system"),
        (errno.EACCES, "Permission denied"),
    ):
        assert error_line(OSError(code, reason, str(path))) == (
            f"cannot write {path} ({reason}): this command writes there, so it needs write "
            "access to that folder"
        )
    assert error_line(OSError(errno.ENOSPC, "No space left on device", str(path))) is None
