"""Hook: prove with Alembic that the generated project's migrations work.

Runs in the project's own `.venv` interpreter, with the configuration and env.py
that `python manage.py migrate` uses, all in one process through Alembic's API, and
against scratch databases only (never the ones DATABASE_URL and DATABASE_URL_<BIND>
name): a temporary SQLite file, or for a server database a temporary database created
beside the one DATABASE_URL names, when it is set and reachable; each bind gets a
temporary SQLite file.

Run by hand from the project root:
    python path/to/hooks/verify.py --app-style factory --database sqlite --example-model \
        --binds analytics,archive
"""

import argparse
import io
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from progress import say, skipped, step

FIRST_REVISION_MESSAGE = "create users and posts"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-style", choices=["factory", "module"], required=True)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "mysql"], required=True)
    parser.add_argument("--example-model", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--binds", default="", help="the binds' names, separated by commas")
    parser.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    options = parse_args()
    if not options.in_venv:
        # Start again in the project's interpreter, where Flask and Alembic are installed.
        venv_python = Path(".venv") / ("Scripts" if os.name == "nt" else "bin") / "python"
        command = [str(venv_python), __file__, *sys.argv[1:], "--in-venv"]
        sys.exit(subprocess.run(command, check=False).returncode)

    with scratch_database(options.database) as url, scratch_binds(options.binds):
        if url is None:
            skipped(
                "Database steps",
                f"set DATABASE_URL to a reachable {options.database} server to run them",
            )
            verify(options, database_steps=False)
        else:
            os.environ["DATABASE_URL"] = url
            verify(options, database_steps=True)


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
    from sqlalchemy import create_engine, make_url

    server_url = make_url(os.environ["DATABASE_URL"])
    postgresql = server_url.get_backend_name() == "postgresql"
    # Connect to the server itself: the database DATABASE_URL names may not exist yet.
    maintenance = "postgres" if postgresql else None
    server = create_engine(server_url.set(database=maintenance), isolation_level="AUTOCOMMIT")
    name = f"verify_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as error:  # noqa: BLE001 - an unreachable server only skips the steps
        say(f"Could not create a scratch database beside DATABASE_URL: {error}".splitlines()[0])
        yield None
        return
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE (PostgreSQL 13+) ends the app's pooled connections to the scratch database.
        force = " WITH (FORCE)" if postgresql else ""
        try:
            with server.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE {name}{force}")
        except Exception as error:  # noqa: BLE001 - report it, the verification is done
            say(f"Could not drop the scratch database {name}: {error}".splitlines()[0])
        server.dispose()


@contextmanager
def scratch_binds(binds: str) -> Iterator[None]:
    """Point each bind's DATABASE_URL_<NAME> at a temporary SQLite file."""
    with tempfile.TemporaryDirectory(prefix="verify-binds-") as folder:
        for name in filter(None, binds.split(",")):
            os.environ[f"DATABASE_URL_{name.upper()}"] = f"sqlite:///{Path(folder) / name}.db"
        yield


def verify(options: argparse.Namespace, database_steps: bool) -> None:
    """Load the app and its environment, then (with a database) write the first revision
    and migrate up, down and up again."""
    sys.path.insert(0, str(Path.cwd()))
    from alembic import command

    migrate = "DATABASE_URL=<scratch database> .venv/bin/python manage.py migrate"
    with step("Migration environment loads (heads)", f"{migrate} heads"):
        import manage

        app = manage.create_app() if options.app_style == "factory" else manage.app
        app.app_context().push()
        config = manage.alembic_config()
        config.stdout = io.StringIO()  # the summary says what matters
        command.heads(config)
    if not database_steps:
        return
    if options.example_model:
        with step(
            "First revision autogenerated into migrations/versions/",
            f'{migrate} revision --autogenerate -m "{FIRST_REVISION_MESSAGE}"',
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
        if "CREATE TABLE alembic_version" not in config.output_buffer.getvalue():
            raise RuntimeError("the offline SQL does not create the version table")


if __name__ == "__main__":
    main()
