"""Benchmarks: how long users wait, against the peers measured in the same rounds.

    .venv/bin/python bench/run.py [--runs N] [--quick] [--output bench/results.md] [--keep]

Four contenders run the same Alembic commands, all from ONE virtualenv (the generated
project's dependencies plus Flask-Migrate 4.1):

- ours: a project generated from this template, `python manage.py migrate ...`;
- ours via flask: the same project through Flask's command line, `flask migrate ...`
  (information only: `flask db` is Flask-Migrate's own while it is installed);
- flask db: a Flask-Migrate app with the same two models, `flask db ...`;
- alembic: `alembic init -t generic` with the same models in plain SQLAlchemy, `alembic ...`.

Each row is measured in paired rounds: every contender runs once per round, in an order
rotated each round, and the table gives the medians over the rounds, their ratios and the
issue's targets. Project generation (copier copy against a trivial template, the hooks,
copier update, the verify hook, binds) forms a second table. Writes a Markdown report
(--output) and prints it. Needs copier and uv (the template suite's dependencies), and
PyPI or uv's cache for the first install; the PostgreSQL and MariaDB rows need the
servers on 127.0.0.1 and are skipped, with a note, when they are down.
"""

import argparse
import atexit
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import version
from pathlib import Path

from copy_phases import phase_table

TEMPLATE = Path(__file__).resolve().parents[1]
# What a template copy leaves out of its git repository.
NOT_TEMPLATE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "node_modules"
)
BIN = Path(sys.executable).parent
UV = BIN / "uv"
COPIER = BIN / "copier"

# What the shared virtualenv holds besides the generated project and its dev extra.
PEER_REQUIREMENTS = ["flask-migrate>=4.1,<4.2", "psycopg[binary]>=3.2,<3.4", "pymysql>=1.1,<1.3"]
# The packages whose versions the report names.
REPORTED_PACKAGES = ["flask", "flask-sqlalchemy", "sqlalchemy", "alembic", "flask-migrate"]

# The generated project's app package (project_name's default, "My Flask App").
OURS_MODULE = "my_flask_app"
FIRST_REVISION = "create users and posts"

# The template's two example models, written on a given base class (db.Model, or Base).
MODELS = """
class User({base}):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    posts: Mapped[list["Post"]] = relationship(back_populates="author")


class Post({base}):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[User] = relationship(back_populates="posts")
"""

# The Flask-Migrate twin: the same two models, as `flask db init` users write them.
FLASK_MIGRATE_APP = (
    """import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

db = SQLAlchemy()
"""
    + MODELS.format(base="db.Model")
    + """

def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///bench.db")
    db.init_app(app)
    Migrate(app, db)
    return app
"""
)

# The same twin with binds: an Event in the "analytics" bind and an empty "archive" bind,
# migrated by Flask-Migrate's multi-database template (`flask db init --multidb`).
FLASK_MIGRATE_MULTIDB_APP = FLASK_MIGRATE_APP.replace(
    "    db.init_app(app)",
    '    app.config["SQLALCHEMY_BINDS"] = {\n'
    '        "analytics": "sqlite:///analytics.db", "archive": "sqlite:///archive.db"\n'
    "    }\n"
    "    db.init_app(app)",
).replace(
    "def create_app():",
    "class Event(db.Model):\n"
    '    __bind_key__ = "analytics"\n'
    '    __tablename__ = "events"\n'
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    user_id: Mapped[int]\n"
    "    name: Mapped[str] = mapped_column(String(100))\n\n\n"
    "def create_app():",
)

# The bare Alembic twin's models: the same two, in plain SQLAlchemy.
PLAIN_MODELS = """from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass

""" + MODELS.format(base="Base")

# What the bare twin's env.py gets after `config = context.config`: its models, and the
# database URL from the environment when set (as ours and the Flask-Migrate twin read it).
ALEMBIC_ENV_SETTINGS = """
import os

from models import Base

if os.environ.get("DATABASE_URL"):
    config.set_main_option("sqlalchemy.url", os.environ["DATABASE_URL"])
"""

# One revision of the long history: a plain upgrade() and downgrade(), one small table.
CHAIN_REVISION = '''"""Step {number} of the benchmark's history."""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("t_{number:03d}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("t_{number:03d}")
'''

# The database servers: a URL to their administrative database.
SERVERS = {
    "PostgreSQL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "MariaDB": "mysql+pymysql://root@127.0.0.1:3306/mysql",
}

# The commands whose cost is starting up: (row name, arguments).
STARTUP_COMMANDS = [
    ("--help", ["--help"]),
    ("upgrade --help", ["upgrade", "--help"]),
    ("heads", ["heads"]),
    ("history", ["history"]),
    ("show head", ["show", "head"]),
    ("branches", ["branches"]),
    ("list_templates", ["list_templates"]),
]
# The commands that open the database (already at head).
DATABASE_COMMANDS = [
    ("current", ["current"]),
    ("check", ["check"]),
    ("upgrade (nothing to do)", ["upgrade", "head"]),
]


# Running commands.


def base_environment() -> dict[str, str]:
    """This process's environment, less what would steer a contender elsewhere."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_URL", "FLASK_", "ALEMBIC_"))
    }


def run(command: list[object], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command that must succeed; its output, or stop with it on failure."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**base_environment(), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(
            f"FAILED ({result.returncode}) in {cwd}: {shlex.join(map(str, command))}\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def timed(command: list[object], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Seconds of wall time one command takes; it must succeed."""
    start = time.perf_counter()
    run(command, cwd, env)
    return time.perf_counter() - start


def fresh(path: Path) -> Path:
    """The path, with whatever was there removed."""
    if path.is_dir():
        shutil.rmtree(path)
    path.unlink(missing_ok=True)
    return path


# Measuring and reporting.

#: One contender's run in a round: given the round's number, its seconds.
Job = Callable[[int], float]


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    runs: int  # paired rounds per row
    revisions: int  # the long history's length
    servers: bool  # measure the PostgreSQL and MariaDB rows
    warmup: bool  # an untimed round before each command's rounds
    info_runs: int  # paired rounds for the rows without a target

    def describe(self) -> str:
        """The plan in words, for the report's header."""
        rounds = f"{self.runs} paired rounds per row"
        if self.info_runs != self.runs:
            rounds += f" ({self.info_runs} for the rows without a target)"
        if self.warmup:
            rounds += ", after an untimed one for the commands"
        return (
            f"{rounds}; the order rotated each round; medians of wall time, in seconds;"
            f" a history of {self.revisions} revisions"
        )

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> "Plan":
        """The full benchmark, or with --quick a short one (for the tests)."""
        if options.quick:
            runs = options.runs or 2
            return cls(runs, revisions=20, servers=False, warmup=False, info_runs=1)
        runs = options.runs or 5
        return cls(runs, revisions=500, servers=True, warmup=True, info_runs=runs)


def paired(runs: int, jobs: dict[str, Job], warmup: bool = False) -> dict[str, list[float]]:
    """Each job's seconds over `runs` rounds: every job once per round, the order rotated
    each round so that none always goes first. `warmup` adds an untimed round before."""
    names = list(jobs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    if warmup:
        for name in names:
            jobs[name](-1)
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(jobs[name](round_))
    return seconds


@dataclass(frozen=True)
class Target:
    """A goal for ours: its median over a peer's at most `limit`, or with no peer, its
    median at most `limit` seconds."""

    limit: float
    peer: str | None = None

    def value(self, medians: dict[str, float]) -> float:
        """The measured ratio (or seconds) that the limit bounds."""
        return medians["ours"] / medians[self.peer] if self.peer else medians["ours"]

    def met(self, medians: dict[str, float]) -> bool:
        """Whether the medians meet this target."""
        return self.value(medians) <= self.limit

    def measured(self, medians: dict[str, float]) -> str:
        """What was measured, e.g. "ours / alembic = 1.13"."""
        if self.peer:
            return f"ours / {self.peer} = {self.value(medians):.2f}"
        return f"ours = {self.value(medians):.2f} s"

    def describe(self) -> str:
        """The target in words, e.g. "ours / alembic ≤ 1.10"."""
        if self.peer:
            return f"ours / {self.peer} ≤ {self.limit:.2f}"
        return f"ours ≤ {self.limit:g} s"


@dataclass
class Row:
    """One measurement: each contender's seconds per round, and ours's targets."""

    name: str
    seconds: dict[str, list[float]] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    skipped: str = ""  # why it was not measured

    def medians(self) -> dict[str, float]:
        """Each contender's median seconds."""
        return {name: statistics.median(values) for name, values in self.seconds.items()}

    def verdict(self) -> str:
        """Whether ours meets its targets: "yes", or "no (...)" with what missed them."""
        if self.skipped:
            return f"skipped: {self.skipped}"
        if not self.targets:
            return "info"
        medians = self.medians()
        missed = [target for target in self.targets if not target.met(medians)]
        if not missed:
            return "yes"
        return "no (" + ", ".join(target.measured(medians) for target in missed) + ")"


def seconds_cell(medians: dict[str, float], name: str) -> str:
    """A contender's median for a table cell, or a dash when it did not run."""
    return f"{medians[name]:.3f}" if name in medians else "—"


def ratio_cell(medians: dict[str, float], name: str, peer: str) -> str:
    """One median over another for a table cell, or a dash."""
    if name in medians and peer in medians:
        return f"{medians[name] / medians[peer]:.2f}"
    return "—"


def targets_cell(row: Row) -> str:
    """The row's targets, or a note that it is there for information."""
    return ", ".join(target.describe() for target in row.targets) or "— (information)"


COMMAND_COLUMNS = ["ours", "ours via flask", "flask db", "alembic"]
COMMANDS_LEGEND = (
    "ours: `python manage.py migrate ...` in a generated project; ours via `flask migrate`: the"
    " same through Flask's command line; `flask db`: Flask-Migrate 4.1 with the same two models;"
    " `alembic`: `alembic init -t generic` with the same models in plain SQLAlchemy. All four in"
    " one virtualenv, each on its own SQLite file (at head, for the commands above the history"
    " rows) or its own new server database."
)


def command_table(rows: list[Row]) -> list[str]:
    """The migration commands: each contender's median, ours's ratios, targets."""
    lines = [
        (
            "| Command | ours (s) | ours via `flask migrate` (s) | `flask db` (s) | `alembic` (s)"
            " | ours / flask db | ours / alembic | Target | Met |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        if row.skipped:
            dashes = " — |" * 6
            lines.append(f"| {row.name} |{dashes} {targets_cell(row)} | {row.verdict()} |")
            continue
        medians = row.medians()
        cells = [seconds_cell(medians, name) for name in COMMAND_COLUMNS]
        cells += [ratio_cell(medians, "ours", peer) for peer in ("flask db", "alembic")]
        lines.append(
            f"| {row.name} | {' | '.join(cells)} | {targets_cell(row)} | {row.verdict()} |"
        )
    return lines


def generation_table(rows: list[Row]) -> list[str]:
    """Project generation and the hooks: ours's median against one peer's, or alone."""
    lines = [
        "| Measurement | ours (s) | Peer | Peer (s) | Ratio | Target | Met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for row in rows:
        medians = row.medians()
        peer = next((name for name in medians if name != "ours"), "")
        cells = [
            seconds_cell(medians, "ours"),
            peer or "—",
            seconds_cell(medians, peer),
            ratio_cell(medians, "ours", peer),
        ]
        lines.append(
            f"| {row.name} | {' | '.join(cells)} | {targets_cell(row)} | {row.verdict()} |"
        )
    return lines


def progress(row: Row) -> None:
    """One line as each row is done."""
    if row.skipped:
        print(f"{row.name:<44} {row.verdict()}", flush=True)
        return
    medians = ", ".join(f"{name} {value:.3f}" for name, value in row.medians().items())
    print(f"{row.name:<44} {medians}  [{row.verdict()}]", flush=True)


# The shared virtualenv and the contenders' projects.


def venv_bin(venv: Path, program: str) -> Path:
    """A program of the virtualenv."""
    return venv / "bin" / program


def render_ours(destination: Path) -> Path:
    """A project from this template, its hooks skipped."""
    copier_copy(source(), destination, "--skip-tasks")
    return destination


def shared_venv(venv: Path, project: Path) -> Path:
    """One virtualenv: the project (editable, with its dev extra) and Flask-Migrate."""
    run([UV, "venv", "--quiet", "--python", sys.executable, venv], venv.parent)
    run(
        [
            UV,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            venv_bin(venv, "python"),
            "-e",
            f"{project}[dev]",
            *PEER_REQUIREMENTS,
        ],
        venv.parent,
    )
    return venv


def flask_migrate_twin(folder: Path, venv: Path, app: str = FLASK_MIGRATE_APP) -> Path:
    """The Flask-Migrate app, its migrations folder made by `flask db init`."""
    folder.mkdir()
    (folder / "app.py").write_text(app)
    multidb = ["--multidb"] if app is FLASK_MIGRATE_MULTIDB_APP else []
    run([venv_bin(venv, "flask"), "--app", "app", "db", "init", *multidb], folder)
    return folder


def alembic_twin(folder: Path, venv: Path) -> Path:
    """`alembic init -t generic`, its env.py given the plain models and DATABASE_URL."""
    folder.mkdir()
    (folder / "models.py").write_text(PLAIN_MODELS)
    run([venv_bin(venv, "alembic"), "init", "-t", "generic", "migrations"], folder)
    env_py = folder / "migrations" / "env.py"
    text = env_py.read_text().replace("target_metadata = None", "target_metadata = Base.metadata")
    text = text.replace(
        "config = context.config\n", "config = context.config\n" + ALEMBIC_ENV_SETTINGS
    )
    env_py.write_text(text)
    ini = folder / "alembic.ini"
    ini.write_text(
        re.sub(
            r"(?m)^sqlalchemy\.url = .*$", "sqlalchemy.url = sqlite:///bench.db", ini.read_text()
        )
    )
    return folder


# Alembic's command names that Flask-Migrate's Click commands spell with a dash.
FLASK_DB_SPELLING = (("list_templates", "list-templates"),)


@dataclass(frozen=True)
class Contender:
    """A way to run Alembic commands on a project: a command prefix and its folder."""

    name: str
    prefix: tuple[object, ...]
    cwd: Path
    # Command names this contender spells differently (Click's dashes for flask db).
    spelling: tuple[tuple[str, str], ...] = ()

    @property
    def versions(self) -> Path:
        """The folder of its revisions (each project's is migrations/versions)."""
        return self.cwd / "migrations" / "versions"

    def command(self, arguments: list[str]) -> list[object]:
        """The command line running Alembic's command `arguments` this way."""
        spelled = dict(self.spelling)
        return [*self.prefix, *(spelled.get(argument, argument) for argument in arguments)]

    def run(self, arguments: list[str], database_url: str) -> float:
        """Seconds the command takes against this database."""
        return timed(self.command(arguments), self.cwd, {"DATABASE_URL": database_url})


def contenders(work: Path, venv: Path) -> list[Contender]:
    """The four contenders, their projects made (ours is already installed in venv)."""
    ours, flask_twin = work / "ours", flask_migrate_twin(work / "flask-migrate", venv)
    bare = alembic_twin(work / "alembic", venv)
    flask = venv_bin(venv, "flask")
    return [
        Contender("ours", (venv_bin(venv, "python"), "manage.py", "migrate"), ours),
        Contender("ours via flask", (flask, "--app", OURS_MODULE, "migrate"), ours),
        Contender("flask db", (flask, "--app", "app", "db"), flask_twin, FLASK_DB_SPELLING),
        Contender("alembic", (venv_bin(venv, "alembic"),), bare),
    ]


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def first_revision(contender: Contender, database_url: str) -> str:
    """Autogenerate the models' revision and upgrade to it: its revision id."""
    contender.run(["revision", "--autogenerate", "-m", FIRST_REVISION], database_url)
    contender.run(["upgrade", "head"], database_url)
    (path,) = contender.versions.glob("*.py")
    return re.search(r"""(?m)^revision(?:: str)? = ['"](\w+)['"]""", path.read_text())[1]


def add_history(versions: Path, down_revision: str, count: int) -> None:
    """`count` revisions after `down_revision`, one chain, each creating one table."""
    for number in range(1, count + 1):
        revision = f"bench{number:07d}"
        text = CHAIN_REVISION.format(number=number, revision=revision, down_revision=down_revision)
        (versions / f"{revision}_step_{number}.py").write_text(text)
        down_revision = revision


# The migration commands' rows.


def command_jobs(
    players: list[Contender], arguments: list[str], urls: dict[str, str]
) -> dict[str, Job]:
    """Each contender running the same command against its own database."""
    return {p.name: lambda _, p=p: p.run(arguments, urls[p.name]) for p in players}


def command_rows(players: list[Contender], urls: dict[str, str], plan: Plan) -> Iterator[Row]:
    """The startup and database commands, on the one-revision history, databases at head."""
    for name, arguments in STARTUP_COMMANDS:
        seconds = paired(plan.runs, command_jobs(players, arguments, urls), plan.warmup)
        yield Row(name, seconds, (Target(1.10, "alembic"),))
    for name, arguments in DATABASE_COMMANDS:
        seconds = paired(plan.runs, command_jobs(players, arguments, urls), plan.warmup)
        yield Row(name, seconds, (Target(0.95, "flask db"), Target(1.20, "alembic")))


def sqlite_upgrade_jobs(players: list[Contender], scratch: Path) -> dict[str, Job]:
    """Each contender upgrading an empty SQLite file (deleted first) to head."""

    def job(player: Contender) -> Job:
        path = scratch / f"{player.name.replace(' ', '-')}.db"
        return lambda _: player.run(["upgrade", "head"], sqlite_url(fresh(path)))

    return {player.name: job(player) for player in players}


@contextmanager
def server_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server: its URL. Dropped afterwards."""
    from sqlalchemy import create_engine

    server = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    force = " WITH (FORCE)" if server.dialect.name == "postgresql" else ""
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        server.dispose()


def server_down(admin_url: str) -> str:
    """Why the server cannot be used, or "" when it answers."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        return f"server down ({str(error).splitlines()[0][:80]})"
    finally:
        engine.dispose()
    return ""


def server_upgrade_jobs(players: list[Contender], admin_url: str) -> dict[str, Job]:
    """Each contender upgrading a new database on the server to head."""

    def job(player: Contender) -> Job:
        def upgrade(_: int) -> float:
            with server_database(admin_url) as url:
                return player.run(["upgrade", "head"], url)

        return upgrade

    return {player.name: job(player) for player in players}


def history_rows(players: list[Contender], scratch: Path, plan: Plan) -> Iterator[Row]:
    """Upgrading an empty database through the whole history, on SQLite and the servers."""
    target = (Target(1.10, "alembic"),)
    yield Row(
        f"upgrade {plan.revisions} revisions, empty SQLite",
        paired(plan.runs, sqlite_upgrade_jobs(players, scratch)),
        target,
    )
    for server, admin_url in SERVERS.items():
        name = f"upgrade {plan.revisions} revisions, new {server} database"
        why = server_down(admin_url) if plan.servers else "not measured with --quick"
        if why:
            yield Row(name, targets=target, skipped=why)
        else:
            yield Row(name, paired(plan.runs, server_upgrade_jobs(players, admin_url)), target)


def migration_rows(work: Path, venv: Path, plan: Plan) -> Iterator[Row]:
    """The commands table: the contenders set up, measured on a short history, then on a
    history of `plan.revisions` revisions."""
    players = contenders(work, venv)
    scratch = work / "databases"
    scratch.mkdir()
    # One SQLite file per project: ours and ours via flask share theirs.
    urls = {p.name: sqlite_url(scratch / f"{p.cwd.name}.db") for p in players}
    firsts = {
        p.versions: first_revision(p, urls[p.name]) for p in players if p.name != "ours via flask"
    }
    yield from command_rows(players, urls, plan)
    for versions, revision in firsts.items():
        add_history(versions, revision, plan.revisions - 1)
    for player in players:  # compile the new revisions before timing them
        player.run(["heads"], urls[player.name])
    yield from history_rows(players, scratch, plan)


# The project generation rows.


def copier_copy(
    template: Path, destination: Path, *options: str, env: dict[str, str] | None = None
) -> float:
    """Seconds of `copier copy` into a fresh destination, uv first on PATH for the hooks,
    with `env` (e.g. a DATABASE_URL) over this environment."""
    path = os.pathsep.join([str(BIN), os.environ["PATH"]])
    command = [
        COPIER,
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref",
        "HEAD",
        "--quiet",
        *options,
        template,
        fresh(destination),
    ]
    return timed(command, destination.parent, {"PATH": path, **(env or {})})


def git_commit_all(folder: Path, message: str) -> None:
    """Commit everything in the folder, making it a repository first if needed."""
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    if not (folder / ".git").exists():
        run([*git, "init", "-q"], folder)
    run([*git, "add", "-A"], folder)
    run([*git, "commit", "-qm", message], folder)


def template_files() -> list[Path]:
    """The files this template renders from."""
    return [
        p
        for p in (TEMPLATE / "template").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]


def trivial_template(folder: Path) -> Path:
    """A Copier template with one question and as many small files as ours (as many of
    them .jinja), a git repository like ours."""
    files = template_files()
    rendered = sum(path.suffix == ".jinja" for path in files) - 1  # less the answers file
    folder.mkdir()
    (folder / "copier.yml").write_text(
        "name:\n  type: str\n  default: demo\n\n_subdirectory: template\n_templates_suffix: .jinja\n"
    )
    template = folder / "template"
    template.mkdir()
    (template / "{{ _copier_conf.answers_file }}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml }}"
    )
    for number in range(len(files) - 1):
        suffix = ".jinja" if number < rendered else ""
        (template / f"file_{number:02d}.txt{suffix}").write_text(
            f"File {number} of {{{{ name }}}}.\n"
        )
    git_commit_all(folder, "trivial template")
    return folder


def copy_rows(work: Path, plan: Plan) -> Iterator[Row]:
    """copier copy without hooks against the trivial template, and with its hooks: a
    SQLite project, and a PostgreSQL one proven on a scratch database beside the server's
    `postgres` database."""
    runs = plan.runs
    trivial = trivial_template(work / "trivial-template")
    peer = f"trivial template ({len(template_files())} files)"
    jobs = {
        "ours": lambda _: copier_copy(source(), work / "copy-ours", "--skip-tasks"),
        peer: lambda _: copier_copy(trivial, work / "copy-trivial"),
    }
    yield Row("copier copy --skip-tasks", paired(runs, jobs), (Target(1.20, peer),))
    jobs = {"ours": lambda i: copier_copy(source(), work / "hooks" / f"copy{i}")}
    (work / "hooks").mkdir()
    yield Row("copier copy, hooks with uv", paired(runs, jobs), (Target(4.0),))
    name, admin_url = "copier copy, hooks with uv, PostgreSQL", SERVERS["PostgreSQL"]
    why = server_down(admin_url) if plan.servers else "not measured with --quick"
    if why:
        yield Row(name, targets=(Target(5.0),), skipped=why)
        return
    postgresql = ("--data", "database=postgresql")
    jobs = {
        "ours": lambda i: copier_copy(
            source(),
            work / "hooks" / f"postgresql{i}",
            *postgresql,
            env={"DATABASE_URL": admin_url},
        )
    }
    yield Row(name, paired(runs, jobs), (Target(5.0),))


@cache
def source() -> Path:
    """This template's working tree, committed or not, as a git repository of its own:
    projects copied from it pin flask-alembic-runtime at a commit that exists (Copier's
    commit of a dirty tree lives only in its temporary clone)."""
    template = Path(tempfile.mkdtemp(prefix="bench-template-"))
    atexit.register(shutil.rmtree, template, ignore_errors=True)
    shutil.copytree(TEMPLATE, template, ignore=NOT_TEMPLATE, dirs_exist_ok=True)
    git_commit_all(template, "The template as benchmarked")
    return template


def update_row(work: Path, runs: int) -> Row:
    """`copier update` from v1 to v2 of a copy of this template (v2: a line in env.py)."""
    template = work / "template-repo"
    shutil.copytree(TEMPLATE, template, ignore=NOT_TEMPLATE)
    for tag in ("v1", "v2"):
        env_py = template / "template" / "{{ migrations_dir }}" / "env.py.jinja"
        env_py.write_text(env_py.read_text() + f"# {tag}\n")
        git_commit_all(template, tag)
        run(["git", "tag", tag], template)
    project = work / "updated"
    run(
        [
            COPIER,
            "copy",
            "--trust",
            "--defaults",
            "--quiet",
            "--skip-tasks",
            "--vcs-ref",
            "v1",
            template,
            project,
        ],
        work,
    )
    git_commit_all(project, "v1")

    def update(_: int) -> float:
        seconds = timed([COPIER, "update", "--trust", "--defaults", "--quiet"], project)
        run(["git", "reset", "-q", "--hard"], project)
        return seconds

    return Row("copier update (v1 to v2)", paired(runs, {"ours": update}))


def verify_row(project: Path, work: Path, venv: Path, runs: int) -> Row:
    """hooks/verify.py on a project with .venv and no revision, against Flask-Migrate's
    commands for the same proof, one process each."""
    answers = '{"database": "sqlite", "example_model": true, "binds": []}'
    hook = [venv_bin(project / ".venv", "python"), TEMPLATE / "hooks" / "verify.py", answers]

    def verify(_: int) -> float:
        for revision in (project / "migrations" / "versions").glob("*.py"):
            revision.unlink()
        return timed(hook, project)

    peer = fresh(work / "flask-migrate-steps")
    peer.mkdir()
    (peer / "app.py").write_text(FLASK_MIGRATE_APP)
    steps = [
        ["init"],
        ["migrate", "-m", FIRST_REVISION],
        ["upgrade"],
        ["check"],
        ["downgrade", "base"],
        ["upgrade"],
        ["upgrade", "--sql"],
    ]
    flask = [venv_bin(venv, "flask"), "--app", "app", "db"]

    def flask_migrate(_: int) -> float:
        fresh(peer / "migrations")
        fresh(peer / "instance")
        return sum(timed([*flask, *step], peer) for step in steps)

    jobs = {
        "ours": verify,
        "flask db: init, migrate, upgrade, check, downgrade, upgrade, upgrade --sql": flask_migrate,
    }
    return Row("hooks/verify.py (one process)", paired(runs, jobs))


def binds_row(work: Path, venv: Path, runs: int) -> Row:
    """upgrade then downgrade base on the main database and two binds: ours (its own .venv,
    made by the hooks) against Flask-Migrate's multidb template."""
    project = work / "binds"
    copier_copy(source(), project, "--data", "binds=[analytics, archive]")
    ours = [venv_bin(project / ".venv", "python"), "manage.py", "migrate"]
    peer = flask_migrate_twin(work / "flask-migrate-multidb", venv, FLASK_MIGRATE_MULTIDB_APP)
    flask = [venv_bin(venv, "flask"), "--app", "app", "db"]
    run([*flask, "migrate", "-m", "create users, posts and events"], peer)

    def both(command: list[object], cwd: Path) -> Job:
        return lambda _: (
            timed([*command, "upgrade"], cwd) + timed([*command, "downgrade", "base"], cwd)
        )

    jobs = {"ours": both(ours, project), "flask db (multidb)": both(flask, peer)}
    return Row("binds: upgrade + downgrade base, 3 databases", paired(runs, jobs))


def generation_rows(work: Path, venv: Path, plan: Plan) -> Iterator[Row]:
    """The project generation table's rows (the verify row uses the first hooks copy)."""
    yield from copy_rows(work, plan)
    yield update_row(work, plan.info_runs)
    yield verify_row(work / "hooks" / "copy0", work, venv, plan.info_runs)
    yield binds_row(work, venv, plan.info_runs)


# The report.


def installed_versions(venv: Path) -> dict[str, str]:
    """The reported packages' versions in the shared virtualenv, and copier's here."""
    code = f"import importlib.metadata as m, json; print(json.dumps({{p: m.version(p) for p in {REPORTED_PACKAGES!r}}}))"
    found = json.loads(run([venv_bin(venv, "python"), "-c", code], venv))
    return {**found, "copier": version("copier")}


def template_state() -> str:
    """The template's commit, and whether uncommitted changes went into the copies."""
    head = run(["git", "rev-parse", "--short", "HEAD"], TEMPLATE).strip()
    dirty = run(["git", "status", "--porcelain", "--", "template", "copier.yml", "hooks"], TEMPLATE)
    changes = ", with uncommitted changes (copier includes them)" if dirty.strip() else ""
    return f"{head}{changes}"


@dataclass(frozen=True)
class Conditions:
    """What the run measured with: its start, the template's state, the packages."""

    started: datetime
    template: str
    versions: dict[str, str]


def header(plan: Plan, conditions: Conditions) -> list[str]:
    """The report's title and the conditions of the run."""
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    packages = ", ".join(f"{name} {number}" for name, number in conditions.versions.items())
    return [
        "# Benchmark: flask-alembic-template against Flask-Migrate and bare Alembic",
        "",
        f"- Date: {conditions.started.strftime('%Y-%m-%d %H:%M UTC')} (start)",
        f"- Machine: {platform.platform()}, {os.cpu_count()} CPUs",
        f"- Python: {platform.python_version()}",
        f"- Packages: {packages}",
        f"- Template: {conditions.template}",
        f"- Command: `{command}`",
        f"- Runs: {plan.describe()}",
        "",
    ]


# What the phase table is for, under its heading.
PHASES_LEGEND = (
    "The profile behind the `copier copy --skip-tasks` row: the same copies through "
    "Copier's API, timed phase by phase (medians; bench/copy_phases.py)."
)


def report(
    plan: Plan,
    conditions: Conditions,
    commands: list[Row],
    generation: list[Row],
    phases: list[str],
) -> str:
    """The Markdown report: the header, then the tables."""
    lines = header(plan, conditions)
    lines += [
        "## Migration commands",
        "",
        COMMANDS_LEGEND,
        "",
        *command_table(commands),
        "",
        "## Generating a project",
        "",
        *generation_table(generation),
        "",
        "## Where `copier copy` spends its time",
        "",
        PHASES_LEGEND,
        "",
        *phases,
        "",
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="paired rounds per row (default: 5, --quick: 2)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 rounds (1 for rows without a target), a 20-revision history, no server rows,"
        " no warm-up rounds: for the tests",
    )
    parser.add_argument("--output", type=Path, default=TEMPLATE / "bench" / "results.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and print it")
    return parser.parse_args()


def measure(rows: Iterator[Row]) -> list[Row]:
    """The rows, each printed as it is measured."""
    measured = []
    for row in rows:
        progress(row)
        measured.append(row)
    return measured


def main() -> None:
    """Measure every row in a temporary folder, then print and write the report."""
    options = parse_args()
    plan = Plan.from_options(options)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        started, template = datetime.now(UTC), template_state()
        venv = shared_venv(work / "venv", render_ours(work / "ours"))
        conditions = Conditions(started, template, installed_versions(venv))
        commands = measure(migration_rows(work, venv, plan))
        generation = measure(generation_rows(work, venv, plan))
        phases = phase_table(TEMPLATE, work / "trivial-template", work, plan.runs)
        text = report(plan, conditions, commands, generation, phases)
        options.output.write_text(text)
        print(f"\n{text}")
    finally:
        if options.keep:
            print(f"Work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
