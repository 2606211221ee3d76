"""Benchmarks: how long users wait, against the peers measured in the same run.

    .venv/bin/python bench/run.py [--runs 3]

Prints medians of wall time, and ratios against Flask-Migrate (`flask db ...`) and plain
`alembic`. Needs the template suite's dependencies (copier, uv) and network access to
PyPI for the first install (uv caches it after).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
UV = BIN / "uv"

# The peer: the same two models, with Flask-Migrate, as `flask db init` users write them.
FLASK_MIGRATE_APP = """
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()


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


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///bench.db"
    db.init_app(app)
    Migrate(app, db)
    return app
"""


# The peer with binds: the same models plus an Event in the "analytics" bind, and an empty
# "archive" bind, migrated by Flask-Migrate's multi-database template (`flask db init --multidb`).
FLASK_MIGRATE_MULTIDB_APP = FLASK_MIGRATE_APP.replace(
    'app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///bench.db"',
    'app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///bench.db"\n'
    '    app.config["SQLALCHEMY_BINDS"] = {"analytics": "sqlite:///analytics.db",'
    ' "archive": "sqlite:///archive.db"}',
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


def timed(command: list[object], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Seconds one command takes; it must succeed."""
    environment = {**os.environ, **(env or {})}
    start = time.perf_counter()
    subprocess.run([str(c) for c in command], cwd=cwd, env=environment, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def copier_copy(destination: Path, *options: str, with_uv: bool = True) -> float:
    path = os.environ["PATH"].split(os.pathsep)
    path = [str(BIN), *path] if with_uv else [p for p in path if p != str(BIN)]
    command = [BIN / "copier", "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "--quiet",
               *options, TEMPLATE, destination]  # fmt: skip
    return timed(command, destination.parent, {"PATH": os.pathsep.join(path)})


def median(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        results: dict[str, list[float]] = {}

        def measure(name: str, function: Callable[[int], float]) -> None:
            results[name] = [function(i) for i in range(runs)]
            print(f"{name:<46} {median(results[name])}", flush=True)

        measure(
            "copier copy --skip-tasks", lambda i: copier_copy(work / f"plain{i}", "--skip-tasks")
        )
        measure("copier copy, hooks with uv", lambda i: copier_copy(work / f"uv{i}"))
        measure("copier copy, hooks with venv+pip",
                lambda i: copier_copy(work / f"pip{i}", with_uv=False))  # fmt: skip

        # `copier update` from v1 to v2 of a template repository (v2: a fix in env.py).
        template = work / "template"
        shutil.copytree(TEMPLATE, template, ignore=shutil.ignore_patterns(".git", ".venv"))
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        timed([*git, "init", "-q"], template)
        for version in ("v1", "v2"):
            env_py = template / "template" / "migrations" / "env.py.jinja"
            env_py.write_text(env_py.read_text() + f"# {version}\n")
            timed([*git, "add", "-A"], template)
            timed([*git, "commit", "-qm", version], template)
            timed([*git, "tag", version], template)
        updated = work / "updated"
        timed([BIN / "copier", "copy", "--trust", "--defaults", "--quiet", "--skip-tasks",
               "--vcs-ref", "v1", template, updated], work)  # fmt: skip
        timed([*git, "init", "-q"], updated)
        timed([*git, "add", "-A"], updated)
        timed([*git, "commit", "-qm", "v1"], updated)

        def update(_: int) -> float:
            seconds = timed([BIN / "copier", "update", "--trust", "--defaults", "--quiet"], updated)
            timed([*git, "reset", "-q", "--hard"], updated)
            return seconds

        measure("copier update (v1 to v2)", update)

        # The verify step alone, on a project with .venv but no revision yet.
        project = work / "uv0"
        answers = '{"database": "sqlite", "example_model": true, "binds": []}'
        hook = [project / ".venv" / "bin" / "python", TEMPLATE / "hooks" / "verify.py", answers]

        def verify(_: int) -> float:
            for revision in (project / "migrations" / "versions").glob("*.py"):
                revision.unlink()
            return timed(hook, project)

        measure("hooks/verify.py alone (one process)", verify)

        # The peer: Flask-Migrate's steps for the same proof, one process per command.
        peer = work / "flask-migrate"
        peer.mkdir()
        (peer / "app.py").write_text(FLASK_MIGRATE_APP)
        timed([UV, "venv", "--quiet", "--python", sys.executable, ".venv"], peer)
        timed([UV, "pip", "install", "--quiet", "--compile-bytecode",
               "--python", peer / ".venv" / "bin" / "python", "flask>=3.1,<3.2", "flask-sqlalchemy==3.1.1", "flask-migrate==4.1.0",
               "sqlalchemy>=2.1,<2.2", "alembic>=1.20,<1.21"], peer)  # fmt: skip
        flask = [peer / ".venv" / "bin" / "flask", "--app", "app", "db"]

        def flask_migrate(_: int) -> float:
            shutil.rmtree(peer / "migrations", ignore_errors=True)
            shutil.rmtree(peer / "instance", ignore_errors=True)
            steps = [
                ["init"],
                ["migrate", "-m", "create users and posts"],
                ["upgrade"],
                ["check"],
                ["downgrade", "base"],
                ["upgrade"],
                ["upgrade", "--sql"],
            ]
            return sum(timed([*flask, *step], peer) for step in steps)

        measure("flask db init, migrate, upgrade, check, ...", flask_migrate)

        # Several databases: upgrade then downgrade base, on the default database and two binds.
        binds = work / "binds"
        copier_copy(binds, "--data", "binds=[analytics, archive]")
        ours_multidb = [binds / ".venv" / "bin" / "python", "manage.py", "migrate"]
        measure("manage.py migrate upgrade + downgrade base, binds",
                lambda i: timed([*ours_multidb, "upgrade"], binds)
                + timed([*ours_multidb, "downgrade", "base"], binds))  # fmt: skip
        peer_multidb = work / "flask-migrate-multidb"
        peer_multidb.mkdir()
        (peer_multidb / "app.py").write_text(FLASK_MIGRATE_MULTIDB_APP)
        flask_multidb = [peer / ".venv" / "bin" / "flask", "--app", "app", "db"]
        timed([*flask_multidb, "init", "--multidb"], peer_multidb)
        timed([*flask_multidb, "migrate", "-m", "create users, posts and events"], peer_multidb)
        measure("flask db upgrade + downgrade base, multidb",
                lambda i: timed([*flask_multidb, "upgrade"], peer_multidb)
                + timed([*flask_multidb, "downgrade", "base"], peer_multidb))  # fmt: skip

        # One command's latency: ours, Flask-Migrate's, bare alembic's.
        ours = [project / ".venv" / "bin" / "python", "manage.py", "migrate", "heads"]
        measure("python manage.py migrate heads", lambda i: timed(ours, project))
        measure("flask db heads (Flask-Migrate)", lambda i: timed([*flask, "heads"], peer))
        alembic = [project / ".venv" / "bin" / "alembic", "heads"]
        measure("alembic heads (bare, our env.py)", lambda i: timed(alembic, project))

        def ratio(a: str, b: str) -> str:
            return f"{statistics.median(results[a]) / statistics.median(results[b]):.2f}"

        print()
        print(
            "verify.py / Flask-Migrate's same steps:     ",
            ratio(
                "hooks/verify.py alone (one process)", "flask db init, migrate, upgrade, check, ..."
            ),
        )
        print(
            "copy with uv hooks / with pip hooks:        ",
            ratio("copier copy, hooks with uv", "copier copy, hooks with venv+pip"),
        )
        print(
            "manage.py migrate heads / flask db heads:   ",
            ratio("python manage.py migrate heads", "flask db heads (Flask-Migrate)"),
        )
        print(
            "binds: upgrade + downgrade, ours / Flask-Migrate multidb:",
            ratio(
                "manage.py migrate upgrade + downgrade base, binds",
                "flask db upgrade + downgrade base, multidb",
            ),
        )
        print(
            "manage.py migrate heads / alembic heads:    ",
            ratio("python manage.py migrate heads", "alembic heads (bare, our env.py)"),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
