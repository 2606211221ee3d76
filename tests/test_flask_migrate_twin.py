"""Flask-Migrate 4.1's command line, as its users type it: each invocation of one scenario
runs in a Flask-Migrate twin (a small app with `Migrate(app, db)` and the environment
`flask db init` made) and in a generated project, as `flask db ...` and as
`python manage.py migrate ...`; the exit codes and the effects must be the same: the
revision files, the database's alembic_version rows and its tables and columns, and what
the read-only commands (show, history, heads, branches, current) and --sql runs print."""

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from helpers import UV, Project, add_age_column, database, run

# The twin: the generated project's models, as a Flask-Migrate user writes them.
TWIN_APP = """\
import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The generated project's naming convention: --sql runs print the same constraint names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)


class Post(db.Model):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))


app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db.init_app(app)
Migrate(app, db)
"""

# Environments the scenario makes with `init`, removed after it.
NEW_ENVIRONMENTS = (
    "twin_custom", "twin_multidb", "twin_flask", "twin_aioflask", "twin_nosuch", "twin_grouped"
)  # fmt: skip

#: The commands that only read: what they print is compared too (as are --sql runs').
READ_ONLY = ("show", "history", "heads", "branches", "current")

#: The options of `flask db` itself, typed before the command, that take a value.
GROUP_OPTIONS = ("-d", "--directory", "-x", "--x-arg")


def add_age_to_twin(project: Path) -> None:
    """The twin's side of helpers.add_age_column: a new nullable column on User."""
    app = project / "app.py"
    anchor = "    name: Mapped[str] = mapped_column(String(100), index=True)\n"
    app.write_text(app.read_text().replace(anchor, anchor + "    age: Mapped[int | None]\n"))


@dataclass(frozen=True)
class Step:
    """What a user types after `flask db`; Flask-Migrate's spelling of the same where it
    differs; whether the models gain a column before it runs; and, where ours deliberately
    differs, the exit codes (Flask-Migrate's, ours)."""

    args: tuple[str, ...]
    flask_migrate_args: tuple[str, ...] | None = None
    env: dict[str, str] = field(default_factory=dict)
    edits_models: bool = False
    exit_codes: tuple[int, int] | None = None

    @property
    def shows(self) -> bool:
        """Whether what it prints is compared: a read-only command's, or a --sql run's."""
        words = iter(self.args)
        for word in words:
            if word in GROUP_OPTIONS:
                next(words, None)  # its value
            elif not word.startswith("-"):
                return word in READ_ONLY or "--sql" in self.args
        return "--sql" in self.args

    def argv(self, flask_migrate: bool) -> tuple[str, ...]:
        """The arguments to type: Flask-Migrate's own in the twin."""
        return (self.flask_migrate_args or self.args) if flask_migrate else self.args

    def __str__(self) -> str:
        return " ".join(self.args)


def step(
    *args: str,
    flask_migrate: tuple[str, ...] | None = None,
    env: dict[str, str] | None = None,
    edits_models: bool = False,
    exit_codes: tuple[int, int] | None = None,
) -> Step:
    """A Step, written as the command line it is."""
    return Step(args, flask_migrate, env or {}, edits_models, exit_codes)


# One history, in order: each step's exit code and effects are compared.
EDITOR = {"EDITOR": "true"}
ADD_AGE = (
    "migrate", "-m", "add age", "-x", "lock_timeout=60", "--rev-id", "age1", "--head", "head",
    "--branch-label", "main", "--version-path", "migrations/versions",
)  # fmt: skip
MERGE = ("merge", "-m", "merge heads", "--rev-id", "merge1", "--branch-label", "merged")
SCENARIO = [
    step("check"),  # no revision yet: the models differ, exit 1
    step("migrate", "-m", "create users and posts"),
    step("migrate", "--sql", "-m", "offline"),  # --sql with autogenerate: exit 1
    step("revision", "--autogenerate", "--sql", "-m", "offline"),  # likewise
    step("revision", "--sql", "-m", "offline"),  # no revision_environment: exit 1
    step("check"),  # the database is not up to date
    step("-x", "lock_timeout=60", "upgrade", "--sql"),  # -x before the command
    step("upgrade"),
    step("check", "-d", "migrations"),
    step("current"),
    step("-d", "migrations", "current"),
    step("heads"),
    step("history"),
    step("show"),  # head's
    step("show", "head"),
    step("downgrade", "--sql"),  # head:-1, printed
    step("downgrade", "--sql", "--tag", "t2", "-x", "lock_timeout=60", "head:base"),
    # Flask-Migrate's click reads -1 as an option (exit 2: `downgrade -- -1` it needs); ours
    # reads Alembic's relative revision, which --sql refuses (it needs FROM:TO): exit 1.
    step("downgrade", "--sql", "-1", exit_codes=(2, 1)),
    step("check", edits_models=True),  # a new column: exit 1
    step(*ADD_AGE),
    step("revision", "--autogenerate", "-m", "nothing new"),  # not upgraded: exit 1
    step("upgrade", "-x", "lock_timeout=60", "--x-arg", "lock=on"),
    step("-x", "lock_timeout=60", "migrate", "-m", "nothing new either"),  # no file
    step("show", "age1"),
    step("edit", "-d", "migrations", "age1", env=EDITOR),
    step("history", "-r", "-1:current"),  # a value that starts with a dash is -r's
    step("downgrade", "--", "-1"),  # Flask-Migrate's spelling of a relative revision
    step("downgrade"),  # -1
    step("downgrade"),  # nothing left to downgrade: exit 1
    step("upgrade", "--sql", "--tag", "t1"),
    step("upgrade", "-d", "migrations"),
    step("stamp", "--purge"),
    step("stamp", "base"),
    step("stamp", "--sql", "--tag", "t3", "age1"),  # printed; the database stays at base
    step("stamp", "--sql", "--purge"),  # --purge needs the database: exit 1
    step("stamp", "--tag", "t3", "--purge", "age1"),
    step("stamp"),
    step("edit", env=EDITOR),
    step("revision", "-m", "-note", "--rev-id", "note1"),  # a message that starts with a dash
    step("revision", "-m", "side", "--rev-id", "side1", "--head", "base", "--branch-label", "side"),
    step("revision", "-m", "taken", "--rev-id", "side1"),  # exit 1
    step("revision", "-m", "nowhere", "--version-path", "nosuch"),  # no such location: exit 1
    step("heads", "-v", "--resolve-dependencies"),
    step("heads", "-v"),
    step("heads", "--resolve-dependencies"),
    step("branches", "-v"),
    step("upgrade"),  # two heads: exit 1
    # Flask-Migrate's `merge` without revisions writes a revision that merges none.
    step(*MERGE, flask_migrate=(*MERGE, "heads")),
    step("upgrade"),
    step("history", "-r", "base:head", "-v", "-i"),
    step("history", "-r", "side1:"),
    step("history", "-v"),
    step("history", "-i"),
    step("current", "-v"),
    step("show", "current"),
    # The models have not changed: no file, with or without --splice.
    step("migrate", "-m", "no change", "--head", "side1", "--splice", "--rev-id", "splice0"),
    step("revision", "-m", "not spliced", "--head", "side1"),  # not a head: exit 1
    step("revision", "-m", "spliced", "--head", "side1", "--splice", "--rev-id", "splice1"),
    step("show", "heads"),
    step("branches"),
    step("--directory", "migrations", "downgrade", "side1"),
    step("heads", "--directory=migrations"),
    step("heads", "-d", "nosuch"),  # exit 1
    step("show", "nosuch"),  # exit 1
    step("edit", "nosuch", env=EDITOR),  # exit 1
    step("list-templates"),
    step("init"),  # migrations exists: exit 1
    step("init", "-d", "twin_custom", "--package"),
    step("heads", "-d", "twin_custom"),
    step("init", "--multidb", "-d", "twin_multidb"),
    step("init", "-t", "flask", "-d", "twin_flask"),
    # Flask-Migrate's template for aioflask apps: ours offers its own flask and flask-multidb
    # and Alembic's (`list-templates`), so it is no such template here.
    step("init", "-t", "aioflask", "-d", "twin_aioflask", exit_codes=(0, 1)),
    step("init", "-t", "nosuch", "-d", "twin_nosuch"),  # exit 1
    step("-d", "twin_grouped", "init"),  # -d before the command names init's folder too
    step("nosuch"),  # exit 2
    step("upgrade", "--nosuch"),  # exit 2
]

# How the generated project is run: the prefixes of its command lines.
FRONT_ENDS = {
    "flask db": ("flask", "db"),
    "manage.py migrate": ("python", "manage.py", "migrate"),
}


@dataclass
class Outcome:
    """What a step did: its exit code, its effects and, for a step that `shows`, what it
    printed (see `printed`); its output, for the failure message."""

    exit_code: int
    revisions: list[str]
    rows: list[str]
    tables: dict[str, list[str]]
    printed: list[str] | None
    output: str = field(compare=False, repr=False)


def printed(project: Project, stdout: str, slugs: dict[str, str], read_only: bool) -> list[str]:
    """What a command printed, less what differs between two projects: the project's folder
    and database URL, creation dates, trailing spaces, revision ids (as `<slug>`: most are
    random). Alembic lists a revision's branch labels and branches in set order: those are
    sorted, and a read-only command's lines too (--sql runs' keep their order)."""
    text = stdout.replace(project.env["DATABASE_URL"], "<database>")
    text = text.replace(str(project.path), "<project>")
    text = re.sub(r"Create Date: .*", "Create Date: <date>", text)
    if slugs:
        ids = "|".join(sorted(map(re.escape, slugs), key=len, reverse=True))
        text = re.sub(rf"(?<![0-9a-z])({ids})(?![0-9a-z])", lambda m: f"<{slugs[m[1]]}>", text)
    text = re.sub(
        r"\(([^()]*, [^()]*)\)", lambda m: f"({', '.join(sorted(m[1].split(', ')))})", text
    )
    text = re.sub(
        r"^(\s*(?:Branch names|Branches into): )(.*)$",
        lambda m: m[1] + ", ".join(sorted(m[2].split(", "))),
        text,
        flags=re.MULTILINE,
    )
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return sorted(lines) if read_only else lines


def outcome(
    project: Project, result: subprocess.CompletedProcess[str], scenario_step: Step
) -> Outcome:
    """The step's exit code and the project's state: its revision files (by slug, the
    revision ids differ), its database's revisions (likewise) and tables with their columns;
    what it printed, if it `shows`."""
    slugs = {
        path.name.split("_", 1)[0]: path.stem.split("_", 1)[1]
        for path in (project.path / "migrations" / "versions").glob("*.py")
    }
    with database(project.env["DATABASE_URL"]) as engine, engine.connect() as connection:
        schema = inspect(connection)
        tables = {
            table: sorted(column["name"] for column in schema.get_columns(table))
            for table in schema.get_table_names()
        }
        rows = []
        if "alembic_version" in tables:
            found = connection.execute(text("SELECT version_num FROM alembic_version"))
            rows = sorted(slugs.get(revision, revision) for revision in found.scalars())
    shown = None
    if scenario_step.shows:
        shown = printed(project, result.stdout, slugs, read_only="--sql" not in scenario_step.args)
    output = f"{result.stdout}{result.stderr}"
    return Outcome(result.returncode, sorted(slugs.values()), rows, tables, shown, output)


def play(
    project: Project, prefix: tuple[str, ...], edit_models: Callable[[], None], twin: bool = False
) -> list[Outcome]:
    """Run the scenario in the project, each step as `PREFIX ARGS`: what each did."""
    outcomes = []
    for scenario_step in SCENARIO:
        if scenario_step.edits_models:
            edit_models()
        args = scenario_step.argv(flask_migrate=twin)
        result = project.run(*prefix, *args, ok=None, **scenario_step.env)
        outcomes.append(outcome(project, result, scenario_step))
    return outcomes


def play_twin(path: Path) -> list[Outcome]:
    """The scenario played in a new Flask-Migrate twin at `path`, Flask-Migrate 4.1 installed."""
    run([UV, "venv", "--quiet", "--python", sys.executable, ".venv"], path, {})
    install = [UV, "pip", "install", "--quiet", "--compile-bytecode", "flask-migrate>=4.1,<4.2"]
    run(install, path, {"VIRTUAL_ENV": ".venv"})
    (path / "app.py").write_text(TWIN_APP)
    twin = Project(path, {"FLASK_APP": "app", "DATABASE_URL": f"sqlite:///{path / 'app.db'}"})
    twin.run("flask", "db", "init")
    return play(twin, ("flask", "db"), partial(add_age_to_twin, path), twin=True)


@pytest.fixture(scope="module")
def twin_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[list[Outcome]]]:
    """What the scenario does in the twin: played in the background, while the generated
    project is installed and plays it."""
    with ThreadPoolExecutor(max_workers=1) as background:
        yield background.submit(play_twin, tmp_path_factory.mktemp("twin"))


@pytest.fixture(scope="module")
def project(installed: Callable[..., AbstractContextManager[Project]]) -> Iterator[Project]:
    """The session's installed default project."""
    with installed() as project:
        yield project


@contextmanager
def afresh(project: Project, url: str) -> Iterator[Project]:
    """The project on a new database; afterwards as it was: its revisions, its models, no
    new environments."""
    models = project.path / "my_flask_app" / "models.py"
    saved = models.read_text()
    versions = project.path / "migrations" / "versions"
    files = set(versions.glob("*.py"))
    try:
        yield Project(project.path, {"DATABASE_URL": url})
    finally:
        models.write_text(saved)
        for path in set(versions.glob("*.py")) - files:
            path.unlink()
        for name in NEW_ENVIRONMENTS:
            shutil.rmtree(project.path / name, ignore_errors=True)


def test_flask_migrate_spellings_do_what_flask_migrate_does(
    project: Project, twin_outcomes: Future[list[Outcome]], tmp_path: Path
) -> None:
    """The scenario, played from the start by each front end (one test: the twin, played
    once, is shared)."""
    for front_end, prefix in FRONT_ENDS.items():
        url = f"sqlite:///{tmp_path / front_end.replace(' ', '_')}.db"
        with afresh(project, url) as fresh:
            outcomes = play(fresh, prefix, partial(add_age_column, fresh.path, "my_flask_app"))
        for scenario_step, ours, theirs in zip(
            SCENARIO, outcomes, twin_outcomes.result(), strict=True
        ):
            if scenario_step.exit_codes is not None:  # a deliberate difference
                their_exit, our_exit = scenario_step.exit_codes
                assert theirs.exit_code == their_exit, theirs.output
                theirs = replace(theirs, exit_code=our_exit)
            assert ours == theirs, (
                f"`{front_end} {scenario_step}`\nours:\n{ours.output}\n"
                f"Flask-Migrate's:\n{theirs.output}"
            )
