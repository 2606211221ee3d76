"""Hook: prove with Alembic that the generated project's migrations work.

Runs in the project's own `.venv` interpreter, with the configuration and env.py
that `python manage.py migrate` uses, all in one process through Alembic's API, and
against scratch databases only (never the ones DATABASE_URL and DATABASE_URL_<BIND>
name): a temporary SQLite file, or for a server database a temporary database created
beside the one DATABASE_URL names, when it is set and reachable; each bind gets a
temporary SQLite file.

Run by hand from the project root, with the answers that matter here as JSON:
    python path/to/hooks/verify.py '{"database": "sqlite", "example_model": true, "binds": []}'
"""

import argparse
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from pathlib import Path

from progress import say, skipped, step
from setup_env import venv_python

FIRST_REVISION_MESSAGE = "create users and posts"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "answers", type=json.loads, help="JSON: database, example_model and binds, as answered"
    )
    parser.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Verify, with `argv` (default: this process's) as the command line."""
    argv = sys.argv[1:] if argv is None else argv
    options = parse_args(argv)
    answers = options.answers
    if not options.in_venv:
        # Start again in the project's interpreter, where Flask and Alembic are installed.
        command = [str(venv_python(Path.cwd())), __file__, *argv, "--in-venv"]
        try:
            returncode = subprocess.run(command, check=False).returncode
        except KeyboardInterrupt:  # Ctrl-C reached both: the run in .venv says where it was
            sys.exit(130)
        if returncode:
            sys.exit(returncode)
        return

    sys.path.insert(0, str(Path.cwd()))  # the project: its app and manage.py
    # A key for this run: without one, the app would keep a development key in instance/,
    # and the verification leaves the project as it was made.
    os.environ.setdefault("SECRET_KEY", secrets.token_hex())
    with scratch_database(answers["database"]) as url, scratch_binds(answers["binds"]):
        if url is None:
            skipped(
                "Database steps",
                f"set DATABASE_URL to a reachable {answers['database']} server to run them",
            )
            verify(answers, database_steps=False)
        else:
            os.environ["DATABASE_URL"] = url
            verify(answers, database_steps=True)


@contextmanager
def scratch_database(database: str) -> Iterator[str | None]:
    """The URL of a database made for this run, removed afterwards (None: none to be had)."""
    if database == "sqlite":
        with tempfile.TemporaryDirectory(prefix="verify-") as folder:
            yield f"sqlite:///{Path(folder) / 'verify.db'}"
        return
    if not os.environ.get("DATABASE_URL"):
        yield None
        return
    from sqlalchemy import create_engine

    from flask_alembic_runtime.errors import masked
    from flask_alembic_runtime.schema import scratch_database as database_beside

    shown = masked(os.environ["DATABASE_URL"])
    with ExitStack() as stack:
        try:
            engine = create_engine(os.environ["DATABASE_URL"])
            if engine.dialect.name not in (
                {"mysql", "mariadb"} if database == "mysql" else {database}
            ):
                raise ValueError(f"it is no {database} URL")
            # Created beside the one DATABASE_URL names, which may not exist yet.
            scratch = stack.enter_context(database_beside(engine))
        except Exception as error:  # noqa: BLE001 - the shell's setting only skips the steps
            # A setting of the shell, for another project or none: the app's own default
            # serves the steps left (they connect to nothing).
            del os.environ["DATABASE_URL"]
            reason = str(error).splitlines()[0]
            say(f"DATABASE_URL={shown} gives no scratch database ({reason}): ignored")
            yield None
            return
        yield scratch.url.render_as_string(hide_password=False)


@contextmanager
def scratch_binds(binds: list[str]) -> Iterator[None]:
    """Point each bind's DATABASE_URL_<NAME> at a temporary SQLite file."""
    with tempfile.TemporaryDirectory(prefix="verify-binds-") as folder:
        for name in binds:
            os.environ[f"DATABASE_URL_{name.upper()}"] = f"sqlite:///{Path(folder) / name}.db"
        yield


def verify(answers: dict[str, object], database_steps: bool) -> None:
    """Load the app and its environment, then (with a database) write the first revision
    and migrate up, down and up again."""
    from alembic import command

    migrate = "DATABASE_URL=<scratch database> .venv/bin/python manage.py migrate"
    with step("Migration environment loads (heads)", f"{migrate} heads"):
        import manage
        from flask_alembic_runtime.config import alembic_config

        manage.load_app().app_context().push()
        config = alembic_config()
        config.stdout = io.StringIO()  # the summary says what matters
        command.heads(config)
    if not database_steps:
        return
    if answers["example_model"]:
        with (
            step(
                "First revision autogenerated into migrations/versions/",
                f'{migrate} revision --autogenerate -m "{FIRST_REVISION_MESSAGE}"',
            ),
            redirect_stdout(io.StringIO()),  # Alembic's "Generating ...": the step says it
        ):
            command.revision(config, message=FIRST_REVISION_MESSAGE, autogenerate=True)
    with step("upgrade head", f"{migrate} upgrade head"):
        command.upgrade(config, "head")
    with step("check: the models match the migrated schema", f"{migrate} check"):
        command.check(config)
    with step("downgrade base", f"{migrate} downgrade base"):
        command.downgrade(config, "base")
    with step("upgrade head again", f"{migrate} upgrade head"):
        command.upgrade(config, "head")
    with step("upgrade --sql renders offline", f"{migrate} upgrade head --sql"):
        config.output_buffer = io.StringIO()
        command.upgrade(config, "head", sql=True)
        created = "CREATE TABLE alembic_version" in config.output_buffer.getvalue()
        if answers["example_model"] and not created:  # without a revision there is no SQL
            raise RuntimeError("the offline SQL does not create the version table")


if __name__ == "__main__":
    main()
