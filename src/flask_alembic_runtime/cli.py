"""`flask migrate ...` and `flask db ...`: the `migrate` command in Flask's own command
line (this package registers both as Flask CLI plugins); a project's manage.py runs the
same command. This module imports only click, so that `flask --help` stays quick.

Both, and `manage.py migrate`, stop cleanly on SIGTERM and SIGINT while they migrate
(`stopped_by_signals`): a container's `docker stop` rolls the run back, where the database
allows, instead of killing it part-way or being ignored."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import click

from .output import warn

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: The signals that stop a migration: `docker stop` (and Kubernetes) send SIGTERM, Ctrl-C SIGINT.
STOPPING_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopped(SystemExit):
    """A signal stopped the run: raised inside the running migration, so that its
    transaction rolls back and its lock is released on the way out. It exits with 128 plus
    the signal's number (143 for SIGTERM, 130 for SIGINT), as a shell reports a process the
    signal ended. A SystemExit, so that no `except Exception` on the way swallows it, and
    psycopg cancels the statement the server is running (as for Ctrl-C)."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(128 + signal_number)
        self.signal_name = signal.Signals(signal_number).name


@contextmanager
def stopped_by_signals(
    databases: Mapping[str, Engine], version_options: Mapping[str, Any] | None = None
) -> Iterator[None]:
    """Turn SIGTERM and SIGINT into `Stopped` inside the block, which migrates `databases`;
    once the block has unwound (rolled back, lock released), print one line saying where the
    databases are, and exit 143 (SIGTERM) or 130 (SIGINT).

    `version_options` are the run's `version_table` and `version_table_schema`, if set.
    Outside the main thread (where Python runs no signal handler) the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signal_number: int, frame: object) -> None:
        # Once: a second signal (Ctrl-C pressed twice) must not break off the rollback.
        for each in STOPPING_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        raise Stopped(signal_number)

    previous = {each: signal.signal(each, stop) for each in STOPPING_SIGNALS}
    try:
        with left_running(databases) as sessions:
            yield
    except Stopped as stopped:
        end_sessions(sessions)
        where = databases_now(databases, version_options or {})
        warn(f"FAILED: stopped by {stopped.signal_name}: {where}")
        raise
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


@contextmanager
def left_running(databases: Mapping[str, Engine]) -> Iterator[list[tuple[Engine, int]]]:
    """Statements the block drops in the middle (a signal landed there: SQLAlchemy closes
    the connection), which the server would run to their end, holding the run's
    transaction and its migration lock meanwhile (a long UPDATE, a blocked ALTER).

    PostgreSQL: each is cancelled at once, through the driver's cancel() (on a socket of
    its own); the server then ends the session, which rolls back and frees the lock. (Newer
    psycopg 3.3 releases cancel on SystemExit themselves; psycopg 3.2 only on Ctrl-C,
    psycopg2 never.) MySQL and MariaDB: their server sessions are listed, by engine and
    thread id, for `end_sessions`.
    """
    from sqlalchemy import event

    sessions: list[tuple[Engine, int]] = []
    listeners = []
    for engine in databases.values():
        if engine.dialect.name == "postgresql":
            errors = engine.dialect.dbapi.Error  # type: ignore[union-attr]

            def cancel(
                dbapi_connection: Any, record: object, exception: object, errors: type = errors
            ) -> None:
                if exception is None or isinstance(exception, Exception):
                    return  # an error the server reported: its statement is over
                with suppress(errors, AttributeError):  # the server gone too, or no cancel()
                    dbapi_connection.cancel()

            dropped: Callable[..., None] = cancel

        elif engine.dialect.name in ("mysql", "mariadb"):

            def listed(dbapi_connection: Any, *_: object, engine: Engine = engine) -> None:
                sessions.append((engine, dbapi_connection.thread_id()))

            dropped = listed

        else:
            continue
        event.listen(engine, "invalidate", dropped)
        listeners.append((engine, dropped))
    try:
        yield sessions
    finally:
        for engine, listener in listeners:
            event.remove(engine, "invalidate", listener)


def end_sessions(sessions: list[tuple[Engine, int]]) -> None:
    """End the server sessions a stopped run left running (see left_running)."""
    from sqlalchemy.exc import SQLAlchemyError

    for engine, thread_id in sessions:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f"KILL {int(thread_id)}")
        except SQLAlchemyError:  # it ended on its own meanwhile
            pass


def databases_now(databases: Mapping[str, Engine], version_options: Mapping[str, Any]) -> str:
    """What a stopped run left: nothing applied where DDL is transactional, and the
    revision each database is at now (read again: on MySQL, each revision commits alone)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .environment import TRANSACTIONAL_DDL
    from .repair import recorded_revisions

    revisions = {}
    for name, engine in databases.items():
        try:
            with engine.connect() as connection:
                heads = recorded_revisions(connection, **version_options)
        except SQLAlchemyError:  # the server went away too: say how to look
            revisions[name] = "unknown (`migrate current` shows it)"
            continue
        revisions[name] = ", ".join(heads) or "no revision (base)"
    transactional = all(engine.dialect.name in TRANSACTIONAL_DDL for engine in databases.values())
    applied = (
        "nothing was applied"
        if transactional
        else "the revisions finished before it stay (MySQL and MariaDB commit each one)"
    )
    if len(revisions) == 1:
        [revision] = revisions.values()
        return f"{applied}; the database is at {revision}"
    listed = ", ".join(f"{name} at {revision}" for name, revision in revisions.items())
    return f"{applied}; the databases are: {listed}"


def run_in_flask(ctx: click.Context, argv: tuple[str, ...]) -> None:
    """Run `migrate ARGV` with the app Flask's command line found (`--app`, FLASK_APP).

    A project with no settings naming its migration environment (an adopted one, with
    requirements.txt and its environment where Flask-Migrate's `Migrate(app, db,
    directory=...)` puts it) gets the directory the app gives Flask-Migrate."""
    from flask.cli import ScriptInfo

    from .command import run_alembic
    from .config import has_settings, project_root
    from .environment import made_app

    load_app = ctx.ensure_object(ScriptInfo).load_app
    if not has_settings(project_root()):
        directory = getattr(made_app(load_app).extensions.get("migrate"), "directory", None)
        argv = argv if directory is None else ("--directory", str(directory), *argv)
    run_alembic(list(argv), prog=ctx.command_path, load_app=load_app)


SETTINGS = {"ignore_unknown_options": True, "help_option_names": []}


@click.command(context_settings=SETTINGS, add_help_option=False)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def migrate(ctx: click.Context, argv: tuple[str, ...]) -> None:
    """Run an Alembic command (`--help` lists them all)."""
    run_in_flask(ctx, argv)


@click.command(context_settings=SETTINGS, add_help_option=False)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def db(ctx: click.Context, argv: tuple[str, ...]) -> None:
    """Run an Alembic command, as `migrate` (Flask-Migrate's `db` where the app uses it)."""
    if find_spec("flask_migrate") is not None:
        from flask.cli import ScriptInfo

        from .environment import made_app

        # Made as migrate makes it (see made_app); Flask keeps it for the command.
        app = made_app(ctx.ensure_object(ScriptInfo).load_app)
        if "migrate" in app.extensions:  # Migrate(app, db): its own commands, as before
            from flask_migrate.cli import db as flask_migrate_db  # type: ignore[import-untyped]

            # Its group, parsed from here as `flask db ...` (with its own --help).
            group = flask_migrate_db.make_context(
                ctx.info_name, list(argv), parent=ctx.parent, help_option_names=["--help"]
            )
            with group:
                flask_migrate_db.invoke(group)
            return
    run_in_flask(ctx, argv)
