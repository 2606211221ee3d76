"""Shared fixtures of the library's unit tests: a project in a temporary folder, as the
template lays one out (pyproject.toml's `[tool.alembic]`, `migrations/` made from the
library's own `flask` environment), with a small Flask app whose Flask-SQLAlchemy models
live on SQLite files beside it; helpers to write revisions, run Alembic's commands and
`migrate`, and look into the databases."""

import gc
import inspect
import logging
import os
import shutil
import sys
import textwrap
from argparse import Namespace
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from alembic.config import Config
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Column, ForeignKey, Integer, String, text
from sqlalchemy.engine import Engine

from flask_alembic_runtime.command import run_alembic
from flask_alembic_runtime.config import TEMPLATES, MigrateConfig
from flask_alembic_runtime.databases import app_databases, sqlalchemy_object

PYPROJECT = """\
[tool.alembic]
script_location = "%(here)s/migrations"
prepend_sys_path = ["%(here)s"]
"""

# A revision as a user writes one by hand; its functions are filled in.
REVISION = '''\
"""{message}

Revision ID: {revision}
Revises: {revises}
Create Date: 2026-01-01 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = {branch_labels!r}
depends_on = {depends_on!r}
{functions}'''

# The sys.stdout that Alembic's Config writes to unless told otherwise.
STDOUT_AT_IMPORT = inspect.signature(Config.__init__).parameters["stdout"].default

# Loggers that env.py sets up for a command line (environment.show_progress).
PROGRESS_LOGGERS = (
    "alembic",
    "alembic.runtime.plugins",
    "alembic.alembic_postgresql_enum.add_create_type_false",
)


def create_app(urls: dict[str, str], with_age: bool = False, name_column: str = "name") -> Flask:
    """A Flask app with Flask-SQLAlchemy models: users and posts in the default database
    (`urls["default"]`), events in the "analytics" bind; every other name in `urls` is a
    bind without models. `with_age`: the users model has gained a nullable `age` column;
    `name_column`: the users' name column, renamed in the database. The models are written
    in the classic `Column` style that every supported release takes (SQLAlchemy 1.4 to 2.1,
    Flask-SQLAlchemy 2.5 to 3.1)."""
    db = SQLAlchemy()

    class User(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        name = Column(name_column, String(100), nullable=False, index=True)
        if with_age:
            age = Column(Integer, nullable=True)

    class Post(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "posts"
        id = Column(Integer, primary_key=True)
        title = Column(String(200), nullable=False)
        user_id = Column(Integer, ForeignKey("users.id"), nullable=False)

    if "analytics" in urls:

        class Event(db.Model):  # type: ignore[name-defined,misc]
            __bind_key__ = "analytics"
            __tablename__ = "events"
            id = Column(Integer, primary_key=True)
            name = Column(String(100), nullable=False)

    app = Flask("unit_tests_app")
    app.config["SQLALCHEMY_DATABASE_URI"] = urls["default"]
    app.config["SQLALCHEMY_BINDS"] = {key: url for key, url in urls.items() if key != "default"}
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False  # Flask-SQLAlchemy 2.5 warns otherwise
    db.init_app(app)
    return app


def dispose(app: Flask) -> None:
    """Close the app's pooled connections (SQLite files stay open otherwise)."""
    with app.app_context():
        for engine in app_databases(sqlalchemy_object(app)).values():
            engine.dispose()


class Project:
    """A project folder: pyproject.toml, migrations/ with env.py (the library's `flask`
    environment: it finds the active app), and an app on SQLite files in the folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.migrations = root / "migrations"
        self.versions = self.migrations / "versions"
        (root / "pyproject.toml").write_text(PYPROJECT)
        # As `migrate init` makes it, less the alembic.ini of its own: pyproject.toml has it.
        ignored = shutil.ignore_patterns("alembic.ini.mako")
        shutil.copytree(TEMPLATES / "flask", self.migrations, ignore=ignored)
        self.versions.mkdir()
        self.apps: list[Flask] = []
        self.app = self.make_app()

    def url(self, database: str = "default") -> str:
        return f"sqlite:///{self.root / database}.db"

    def make_app(
        self,
        binds: Sequence[str] = (),
        with_age: bool = False,
        name_column: str = "name",
        **urls: str,
    ) -> Flask:
        """Make the app the commands run with (see `create_app`): the default database and
        these binds, each on a SQLite file of its own unless `urls` names another URL."""
        names = {"default": self.url(), **{bind: self.url(bind) for bind in binds}, **urls}
        self.app = create_app(names, with_age=with_age, name_column=name_column)
        self.apps.append(self.app)
        return self.app

    def config(self, *x_arguments: str, quiet: bool = True, **options: Any) -> MigrateConfig:
        """The project's Alembic config for a command run from code, with these -x."""
        cmd_opts = Namespace(x=list(x_arguments), quiet=quiet, **options)
        return MigrateConfig(toml_file=str(self.root / "pyproject.toml"), cmd_opts=cmd_opts)

    def migrate(
        self, *argv: str, prog: str = "manage.py migrate", in_app_context: bool = True
    ) -> None:
        """`python manage.py migrate ARGV`, as manage.py runs it, in the app's context (as
        a test or Flask-Migrate gives env.py), or outside it: env.py finds its app."""
        try:
            with self.app.app_context() if in_app_context else nullcontext():
                run_alembic(list(argv), prog=prog, load_app=lambda: self.app, root=self.root)
        finally:
            gc.unfreeze()  # run_alembic freezes the heap, as the last thing a process does

    def failure(self, *argv: str, **options: Any) -> str:
        """The one line a failing `migrate ARGV` exits with."""
        with pytest.raises(SystemExit) as exit_:
            self.migrate(*argv, **options)
        message = str(exit_.value.code)
        assert message.startswith("FAILED: ") and "\n" not in message, message
        return message

    def write_revision(
        self,
        revision: str,
        down_revision: str | tuple[str, ...] | None,
        upgrade: str = "pass",
        downgrade: str = "pass",
        *,
        message: str | None = None,
        functions: dict[str, str] | None = None,
        branch_labels: str | tuple[str, ...] | None = None,
        depends_on: str | None = None,
    ) -> Path:
        """A hand-written revision file `versions/<revision>_<revision>.py`: `upgrade()`
        and `downgrade()` with these bodies, or the `functions` given by name."""
        functions = functions or {"upgrade": upgrade, "downgrade": downgrade}
        code = "".join(
            f"\n\ndef {name}() -> None:\n{textwrap.indent(body, '    ')}\n"
            for name, body in functions.items()
        )
        revises = ", ".join(down_revision) if isinstance(down_revision, tuple) else down_revision
        path = self.versions / f"{revision}_{revision}.py"
        path.write_text(
            REVISION.format(
                message=message or f"Revision {revision}",
                revision=revision,
                revises=revises or "",
                down_revision=down_revision,
                branch_labels=branch_labels,
                depends_on=depends_on,
                functions=code,
            )
        )
        return path

    def tables(self, database: str = "default") -> set[str]:
        """The tables in one of the app's databases."""
        with engine_of(self.app, database) as engine:
            return set(sqlalchemy.inspect(engine).get_table_names())

    def columns(self, table: str, database: str = "default") -> set[str]:
        with engine_of(self.app, database) as engine:
            return {column["name"] for column in sqlalchemy.inspect(engine).get_columns(table)}

    def versions_in(self, database: str = "default") -> list[str]:
        """The revisions the database's alembic_version table holds."""
        sql = text("SELECT version_num FROM alembic_version")
        with engine_of(self.app, database) as engine, engine.connect() as connection:
            return list(connection.execute(sql).scalars())

    def execute(self, sql: str, database: str = "default") -> None:
        """Run one statement on one of the app's databases, and commit it."""
        with engine_of(self.app, database) as engine, engine.begin() as connection:
            connection.execute(text(sql))

    def close(self) -> None:
        for app in self.apps:
            dispose(app)


@contextmanager
def engine_of(app: Flask, database: str = "default") -> Iterator[Engine]:
    """The app's engine of one database ("default" or a bind's name), in its context."""
    with app.app_context():
        yield app_databases(sqlalchemy_object(app))[database]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """An empty project (no revisions yet) with its app, on SQLite files in `tmp_path`."""
    made = Project(tmp_path)
    yield made
    made.close()


class CurrentStdout:
    """Standard output as it is when written to: Alembic's Config defaults to the
    sys.stdout of when alembic was imported (here: pytest's, at collection), so capsys
    would not see what a user sees."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture(autouse=True)
def isolated_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what a command does to the process: sys.path (Alembic's prepend_sys_path),
    the levels of the progress loggers, bytecode (revision files are rewritten within
    a second), and the settings of the developer's shell (DATABASE_URL..., FLASK_APP); and
    let Alembic's output reach capsys."""
    defaults = Config.__init__.__defaults__ or ()
    current = tuple(CurrentStdout() if value is STDOUT_AT_IMPORT else value for value in defaults)
    monkeypatch.setattr(Config.__init__, "__defaults__", current)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    for name in list(os.environ):
        if name.startswith("DATABASE_URL") or name in ("FLASK_APP", "ALEMBIC_CONFIG"):
            monkeypatch.delenv(name)
    levels = {name: logging.getLogger(name).level for name in PROGRESS_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


WSGI = '''\
"""The app, where `flask` finds it."""

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class Note(db.Model):
    __tablename__ = "notes"
    id = db.Column(db.Integer, primary_key=True)


app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = {url!r}
app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
db.init_app(app)
'''


@pytest.fixture
def wsgi_app(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Path]]:
    """Write the project's `wsgi.py`, an app as a user writes one (a `notes` model), and
    work in the project's folder, where `flask` and env.py's app=None look for it."""
    monkeypatch.chdir(project.root)
    monkeypatch.delitem(sys.modules, "wsgi", raising=False)

    def write() -> Path:
        path = project.root / "wsgi.py"
        path.write_text(WSGI.format(url=project.url()))
        return path

    yield write
    sys.modules.pop("wsgi", None)
