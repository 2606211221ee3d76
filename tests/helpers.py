"""The suite's shared helpers: render the template with the real Copier, install the
result into a real virtualenv with uv, run the generated project's own commands, and
look into databases. Fixtures are in conftest.py."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import copier
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

TEMPLATE = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")
COPIER = Path(sys.executable).with_name("copier")

# The commands `migrate` adds to Alembic's, in the order `migrate --help` lists them.
OWN_COMMANDS = ("doctor", "squash", "rebase", "lint", "repair")

# Seconds before a hung command (say, a migration waiting on a lock) fails its test.
COMMAND_TIMEOUT = 300

# Variables from the developer's shell that would change what a generated project does.
ISOLATED_VARIABLES = (
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "VIRTUAL_ENV",
    "ALEMBIC_CONFIG",
    # Set by nox for its session's virtualenv: uv would install a project's packages there.
    "UV_PYTHON",
    "UV_PROJECT_ENVIRONMENT",
)


def render(
    destination: Path,
    skip_tasks: bool = True,
    source: Path | None = None,
    vcs_ref: str = "HEAD",
    **answers: object,
) -> Path:
    """Copy a template to `destination`: by default this one, its working tree as it is,
    committed or not (see `snapshot`); else a template repository at a tag or commit."""
    copier.run_copy(
        str(source or snapshot()),
        destination,
        data=answers,
        defaults=True,
        unsafe=True,
        vcs_ref=vcs_ref,
        quiet=True,
        skip_tasks=skip_tasks,
    )
    return destination


@cache
def snapshot() -> Path:
    """This template's working tree, committed or not, as a git repository of its own, made
    once per test process: projects rendered from it pin flask-alembic-runtime at a commit
    that exists (Copier's commit of a dirty tree lives only in a temporary clone)."""
    folder = Path(tempfile.mkdtemp(prefix="template-snapshot-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return template_repository(folder / "template")


def template_repository(destination: Path) -> Path:
    """A git repository holding a copy of the template's working tree, committed."""
    shutil.copytree(
        TEMPLATE, destination,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache",
            "node_modules", ".coverage",
        ),
    )  # fmt: skip
    run(["git", "init", "--quiet"], destination, {})
    commit(destination, "The template")
    return destination


def release(repository: Path, version: str) -> None:
    """Commit everything and tag it `version`: Copier updates to the newest PEP 440 tag."""
    commit(repository, version)
    run(["git", "tag", version], repository, {})


def commit(repository: Path, message: str) -> None:
    """Commit everything in `repository`, whoever runs the suite."""
    identity = ["-c", "user.name=Template Tests", "-c", "user.email=tests@localhost"]
    run(["git", "add", "--all"], repository, {})
    run(["git", *identity, "commit", "--quiet", "-m", message], repository, {})


@dataclass
class Project:
    """A generated project with its own virtualenv in `.venv`."""

    path: Path
    # Environment variables for every command run in the project, e.g. DATABASE_URL.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        return self.path / ".venv" / "bin"

    def install(self) -> "Project":
        """Create `.venv` and install the project with its dev extra (uv's cache makes it quick)."""
        venv = [UV, "venv", "--quiet", "--allow-existing", "--python", sys.executable, ".venv"]
        run(venv, self.path, {})
        install = [UV, "pip", "install", "--quiet", "--compile-bytecode", "-e", ".[dev]"]
        run(install, self.path, {"VIRTUAL_ENV": ".venv"})
        return self

    def environment(self, **env: str) -> dict[str, str]:
        """The environment the project's commands run in."""
        variables = {"PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}", **self.env, **env}
        return environment(variables)

    def run(
        self, *args: str, ok: bool | None = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run a command of the project's virtualenv in its root.

        `ok=True` asserts that it succeeds, `ok=False` that it fails, `ok=None` neither.
        """
        result = run(args, self.path, self.environment(**env), check=False)
        if ok is not None and (result.returncode == 0) != ok:
            raise AssertionError(
                f"`{' '.join(args)}` exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def migrate(
        self, *args: str, ok: bool | None = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`python manage.py migrate ARGS`."""
        return self.run("python", "manage.py", "migrate", *args, ok=ok, **env)


def environment(variables: dict[str, str]) -> dict[str, str]:
    """`variables` over a copy of this environment less ISOLATED_VARIABLES."""
    base = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
    return {**base, **variables}


def run(
    args: list[object] | tuple[object, ...], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command in `cwd`, with `env` over this environment (see `environment`)."""
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=environment(env),
        capture_output=True,
        text=True,
        check=check,
        timeout=COMMAND_TIMEOUT,
    )


def add_age_column(project: Path, package: str) -> None:
    """A model change, as a user makes it: a new nullable column on User."""
    models = project / package / "models.py"
    text = models.read_text()
    anchor = "    name: Mapped[str] = mapped_column(String(100), index=True)\n"
    assert anchor in text
    models.write_text(text.replace(anchor, anchor + "    age: Mapped[int | None]\n"))


@contextmanager
def database(url: str) -> Iterator[Engine]:
    """An engine on the database at `url`, disposed of afterwards."""
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    """The tables in the database at `url`."""
    with database(url) as engine:
        return set(inspect(engine).get_table_names())


def columns(url: str, table: str) -> set[str]:
    """The columns of `table` in the database at `url`."""
    with database(url) as engine:
        return {column["name"] for column in inspect(engine).get_columns(table)}


def scalar(url: str, sql: str) -> object:
    """The one value a query returns."""
    with database(url) as engine, engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def values(url: str, sql: str) -> list[object]:
    """The values a one-column query returns, one per row."""
    with database(url) as engine, engine.connect() as connection:
        return list(connection.execute(text(sql)).scalars())


def execute(url: str, sql: str) -> None:
    """Run one statement and commit it."""
    with database(url) as engine, engine.begin() as connection:
        connection.execute(text(sql))


# The database servers of the developers' and CI's machines (trust auth, no password).
SERVERS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
}


# A revision that fails if it is applied twice (its table exists) and counts its runs.
SLOW_ONCE = '''\
"""Create the runs table, slowly."""

import time

import sqlalchemy as sa
from alembic import op

revision = "slow_once"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Upgrade the schema."""
    op.create_table("runs", sa.Column("id", sa.Integer, primary_key=True))
    time.sleep(2)  # long enough for every other process to be waiting
    op.execute("INSERT INTO runs (id) VALUES (1)")


def downgrade() -> None:
    """Downgrade the schema."""
    op.drop_table("runs")
'''


# A revision after SLOW_ONCE that creates a table, then fails.
FAILS_MIDWAY = '''\
"""Add a table, then fail."""

import sqlalchemy as sa
from alembic import op

revision = "fails_midway"
down_revision = "slow_once"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Upgrade the schema."""
    op.create_table("half", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("INSERT INTO no_such_table VALUES (1)")


def downgrade() -> None:
    """Downgrade the schema."""
    op.drop_table("half")
'''


def with_revisions(project: Project, *revisions: tuple[str, str]) -> None:
    for name, text_ in revisions:
        (project.path / "migrations" / "versions" / f"{name}.py").write_text(text_)


def upgrade_at_once(
    project: Project, processes: int, *options: str
) -> list[subprocess.CompletedProcess[str]]:
    """Start `processes` upgrades together, as app replicas do on deploy."""
    env = project.environment()
    started = [
        subprocess.Popen(["python", "manage.py", "migrate", *options, "upgrade"], cwd=project.path,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]  # fmt: skip
    results = []
    for process in started:
        stdout, stderr = process.communicate(timeout=300)
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results
