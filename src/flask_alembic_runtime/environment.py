"""The machinery of a project's `migrations/env.py`: `run_migrations(...)` is the one call
env.py makes, with the settings the project chose.

Its callers, one path:
- `python manage.py migrate ...` and plain `alembic ...` from the project root: it makes
  the app (env.py's `load_app`) and pushes its context (only the commands that need a
  database run env.py at all);
- Flask-Migrate's `flask db ...`, tests and `migrate doctor` run it in their app context;
- pytest-alembic, or code, may hand over an Engine or a Connection in
  `config.attributes["connection"]` (the default database), or several in
  `config.attributes["connections"]` (by name).

It migrates each database of the app: the main one, named "default", and every bind, each
with its own models and its own alembic_version table. `-x bind=NAME[,NAME...]` limits a
run to some of them. Nothing is read at import: env.py may run many times in one process.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.util import find_spec
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from .databases import DEFAULT, app_databases, sqlalchemy_object, target_metadata
from .locks import DEFAULT_TIMEOUT, migration_lock
from .type_comparison import compare_type

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger("alembic.env")

#: The databases whose DDL a rollback undoes: there a run is one transaction.
TRANSACTIONAL_DDL = ("sqlite", "postgresql")


@dataclass
class Run:
    """One run of env.py: Alembic's context, the app's databases and the project's settings."""

    context: EnvironmentContext
    db: SQLAlchemy
    #: Every database of the app, by name ("default" first), and those this run migrates.
    every_database: dict[str, Engine]
    databases: dict[str, Engine]
    #: The `-x NAME=VALUE` arguments.
    options: dict[str, str]
    lock_name: str
    lock_timeout: int
    #: Options for Alembic's `context.configure()` that the project set in env.py.
    configure_options: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Config:
        return self.context.config


def run_migrations(
    app: Flask | Callable[[], Flask] | None = None,
    *,
    lock_name: str = "migrations",
    lock_timeout: int = DEFAULT_TIMEOUT,
    x_names: Collection[str] = (),
    **configure_options: Any,
) -> None:
    """Run the Alembic command that loaded env.py on every database of the app.

    `app` is used when no app context is active: the app, or a function that makes it;
    None takes the app of the command that runs (`manage.py migrate`, `flask migrate`), or
    else finds it as `flask` does (FLASK_APP, `.flaskenv`, `app.py`, `wsgi.py`).
    `lock_name` names the migration lock (a bind's lock adds the bind's name); a run gives
    up waiting for it after `lock_timeout` seconds (`-x lock_timeout=SECONDS` for one run).
    `x_names` are the `-x NAME=VALUE` names env.py reads itself (`context.get_x_argument`),
    taken besides the library's own; any other name is refused.
    `configure_options` go to Alembic's `context.configure()` for every database, online
    and offline (e.g. `include_object`, `compare_server_default`); they override ours.
    """
    from alembic import context as alembic_context

    # Alembic's `context` module stands for the EnvironmentContext of the running command.
    context = cast("EnvironmentContext", alembic_context)
    show_progress(context.config)
    CREATED_AT_START.set(())
    options = x_arguments(context, x_names)  # before the app: nothing runs on a typo
    with app_context(app or context.config.attributes.get("load_app")) as flask_app:
        db = sqlalchemy_object(flask_app)
        every_database = app_databases(db)
        run = Run(
            context=context,
            db=db,
            every_database=every_database,
            databases=chosen(every_database, options.get("bind")),
            options=options,
            lock_name=lock_name,
            lock_timeout=timeout(options, lock_timeout),
            configure_options=configure_options,
        )
        # For the commands that compare schemas themselves (doctor): env.py's filters.
        context.config.attributes["configure_options"] = configure_options
        if any(engine.dialect.name == "postgresql" for engine in run.databases.values()):
            enable_postgresql_enums()
        for script in context.script.walk_revisions():
            take_database_argument(script.module)
        if context.is_offline_mode():
            run_offline(run)
            return
        try:
            run_online(run)
        except Exception as error:
            created_at_start(error)
            read_only_sqlite(error, run.databases)
            raise


def show_progress(config: Config) -> None:
    """On a command line (ours, plain alembic or Flask-Migrate's), show Alembic's progress
    ("Running upgrade ...") unless asked to be quiet; called from code, leave logging to
    the caller."""
    if config.cmd_opts is None or getattr(config.cmd_opts, "quiet", False):
        return
    logging.basicConfig(format="%(levelname)-5.5s [%(name)s] %(message)s")
    logging.getLogger("alembic").setLevel(logging.INFO)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # alembic_postgresql_enum: its "Detected ..." lines, not its two more per Enum column.
    logging.getLogger("alembic.alembic_postgresql_enum.add_create_type_false").setLevel(
        logging.WARNING
    )


@contextmanager
def app_context(app: Flask | Callable[[], Flask] | None) -> Iterator[Flask]:
    """The active app, or `app` (made now if it is a function) in a context of its own:
    then the run closes that app's connections at its end (its pool would hold them)."""
    from flask import Flask, current_app, has_app_context

    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    if not isinstance(app, Flask):
        with alembic_context_kept():
            app = made_app(app)
    with app.app_context():
        try:
            yield app
        finally:
            for engine in app_databases(sqlalchemy_object(app)).values():
                engine.dispose()


def read_only_sqlite(error: Exception, databases: dict[str, Engine]) -> None:
    """Name the file when a write fails on a SQLite database this run may only read."""
    if "readonly database" not in str(error):
        return
    for engine in databases.values():
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            path = os.path.abspath(engine.url.database)
            error.add_note(
                f"this command writes to {path}: it and its folder need write access here "
                "(current, check and --sql only read)"
            )
            return


def find_app(location: str | None = None) -> Flask:
    """The app, found as `flask --app LOCATION` finds it: LOCATION is a module or a file
    (`app`, `pkg.run`, `AppName`, `wsgi.py`), with `:name` or `:factory(args)` where Flask
    should not guess (it takes `app` or `application`, else calls `create_app` or
    `make_app`). Without one: FLASK_APP, else `app.py` or `wsgi.py`. `.env` and
    `.flaskenv` are loaded first, as `flask` loads them."""
    from flask.cli import ScriptInfo, load_dotenv

    load_dotenv()
    return ScriptInfo(app_import_path=location or os.environ.get("FLASK_APP")).load_app()


def made_app(make_app: Callable[[], Flask] | None) -> Flask:
    """The app `make_app` makes, or else the one `flask` finds (see find_app), made for a
    migration command: its own `create_all()` does nothing meanwhile (see
    `create_all_skipped`), and a table it creates anyway is remembered (see
    `created_at_start`)."""
    from sqlalchemy import Table, event

    created: list[str] = []

    def record(table: Table, *args: Any, **kwargs: Any) -> None:
        created.append(table.name)

    event.listen(Table, "after_create", record)
    try:
        with create_all_skipped() as skipped:
            try:
                return make_app() if make_app is not None else find_app()
            except Exception as error:
                if skipped and MISSING_TABLE.search(str(error)):
                    error.add_note(
                        "the app reads its tables as it starts, and migrate skips its "
                        "db.create_all() so that the revisions make them: move that "
                        "start-up code to a command or a revision, then run this again"
                    )
                raise
    finally:
        event.remove(Table, "after_create", record)
        CREATED_AT_START.set(tuple(created))


#: A database's words for a table that is not there (SQLite, PostgreSQL, MySQL/MariaDB).
MISSING_TABLE = re.compile(r"no such table|relation \S+ does not exist|Table \S+ doesn't exist")


@contextmanager
def create_all_skipped() -> Iterator[list[MetaData]]:
    """While it lasts, `create_all()` (Flask-SQLAlchemy's, or a MetaData's) does nothing
    and only lists its MetaData in what it yields.

    An app that calls `db.create_all()` as it starts would, on a new database, make the
    tables before the first revision could (which then fails: "already exists"), and
    before autogenerate compares, which would then see no new table. The revisions make
    the schema; the app's own starts, outside migrate, still call it.
    """
    from sqlalchemy import MetaData

    skipped: list[MetaData] = []
    create_all = MetaData.create_all

    def skip(metadata: MetaData, *args: Any, **kwargs: Any) -> None:
        skipped.append(metadata)

    MetaData.create_all = skip  # type: ignore[method-assign,assignment]
    try:
        yield skipped
    finally:
        MetaData.create_all = create_all  # type: ignore[method-assign]


#: The tables the app made last created itself while it started (a `Table.create()` or
#: raw DDL in its factory): on a new database, the first revision then finds them there.
CREATED_AT_START: ContextVar[tuple[str, ...]] = ContextVar("created_at_start", default=())


def created_at_start(error: Exception) -> None:
    """Name the cause when a revision fails because the app created its tables itself."""
    tables = CREATED_AT_START.get()
    if tables and "already exists" in str(error):
        error.add_note(
            f"the app created {', '.join(sorted(tables))} itself as it started: let the "
            "revisions create tables (create them in tests only), drop those new empty "
            "tables, then upgrade"
        )


@contextmanager
def alembic_context_kept() -> Iterator[None]:
    """Keep the running command's Alembic context through the making of the app.

    An app that migrates at start-up (Flask-Migrate's `upgrade()` in its factory) runs a
    whole Alembic command of its own while it is made: that command's context replaces
    this one in Alembic's `context` module and is removed at its end, leaving none. The
    running command's context is put back, and its run goes on (the database is then
    already upgraded, as by any start of the app).
    """
    from alembic import context as alembic_context

    running = getattr(alembic_context, "_proxy", None)
    try:
        yield
    finally:
        if running is not None and getattr(alembic_context, "_proxy", None) is not running:
            running._install_proxy()


#: The `-x NAME=VALUE` arguments the library reads, as the help shows them.
X_ARGUMENTS = {"bind": "NAME[,NAME...]", "lock": "off", "lock_timeout": "SECONDS"}


def x_arguments(context: EnvironmentContext, x_names: Collection[str] = ()) -> dict[str, str]:
    """The `-x NAME=VALUE` arguments (none when the caller's options have no -x at all,
    as Flask-Migrate's bare Namespace): the library's, and the `x_names` env.py reads."""
    from alembic.util import CommandError

    cmd_opts = context.config.cmd_opts
    if cmd_opts is not None and not hasattr(cmd_opts, "x"):
        return {}
    for argument in getattr(cmd_opts, "x", None) or []:
        if "=" not in argument:
            raise CommandError(f"-x {argument}: write -x NAME=VALUE, e.g. -x bind=default")
    arguments: dict[str, str] = context.get_x_argument(as_dictionary=True)
    for name in arguments:
        if name not in X_ARGUMENTS and name not in x_names:
            known = [f"-x {key}={value}" for key, value in X_ARGUMENTS.items()]
            known += [f"-x {key}=..." for key in x_names]
            raise CommandError(f"-x {name}: no such option; the options are {', '.join(known)}")
    return arguments


def timeout(options: dict[str, str], default: int) -> int:
    """The seconds a run waits for the migration lock: `-x lock_timeout=` or the default."""
    from alembic.util import CommandError

    given = options.get("lock_timeout")
    if given is None:
        return default
    if not (given.isascii() and given.isdigit()):
        raise CommandError(f"-x lock_timeout={given}: give whole seconds, e.g. 60")
    return int(given)


def lock_wanted(options: dict[str, str]) -> bool:
    """Whether the run takes the migration lock: yes, unless `-x lock=off`."""
    from alembic.util import CommandError

    value = options.get("lock", "on")
    if value not in ("on", "off"):
        raise CommandError(f"-x lock={value}: write -x lock=off (or on, the default)")
    return value == "on"


def chosen(databases: dict[str, Engine], wanted: str | None) -> dict[str, Engine]:
    """The databases this run migrates: all, or those that `-x bind=NAME[,NAME...]` names."""
    from alembic.util import CommandError

    if not wanted:
        return databases
    names = wanted.split(",")
    unknown = [name for name in names if name not in databases]
    if unknown:
        raise CommandError(
            f"-x bind={wanted}: no database named {', '.join(unknown)}; "
            f"choose from {', '.join(databases)}"
        )
    return {name: engine for name, engine in databases.items() if name in names}


def enable_postgresql_enums() -> None:
    """Let autogenerate create, alter and drop PostgreSQL ENUM types, where the project
    installs alembic-postgresql-enum (a PostgreSQL project's dependency)."""
    if find_spec("alembic_postgresql_enum") is not None:
        import alembic_postgresql_enum  # type: ignore[import-not-found]  # noqa: F401


def take_database_argument(revision: ModuleType) -> None:
    """Make a revision's upgrade() and downgrade() run its part for one database.

    A revision written for several databases has `upgrade_<database>()` and
    `downgrade_<database>()` for each (none for a bind added after it: nothing to do
    there). One written while the app had one database has plain upgrade() and
    downgrade(): they belong to the default database.
    """
    for direction in ("upgrade", "downgrade"):
        plain = getattr(revision, direction, None)
        if getattr(plain, "takes_database", False):
            continue

        def run(database: str, direction: str = direction, plain: Any = plain) -> None:
            if plain is None or hasattr(revision, f"{direction}_default"):
                getattr(revision, f"{direction}_{database}", lambda: None)()
            elif database == DEFAULT:
                plain()

        run.__name__ = direction  # Alembic logs "Running upgrade ..." by this name
        run.takes_database = True  # type: ignore[attr-defined]
        setattr(revision, direction, run)


def in_order(operation: Any) -> Any:
    """The operation, but a value added between two others as a rebuild of the ENUM type.

    alembic-postgresql-enum 1.11 writes op.add_enum_value(..., before_value=...) for it,
    which runs ALTER TYPE ... ADD VALUE ... AFTER that value: the wrong place, and `check`
    fails after the upgrade. Its op.sync_enum_values() puts every value in order.
    """
    if find_spec("alembic_postgresql_enum") is None:
        return operation
    from alembic_postgresql_enum.operations import (  # type: ignore[import-not-found]
        AddEnumValuesOp,
        SyncEnumValuesOp,
    )

    if not isinstance(operation, AddEnumValuesOp):
        return operation
    if operation.new_values[: len(operation.old_values)] == operation.old_values:
        return operation  # added at the end: ADD VALUE is right, and quick
    return SyncEnumValuesOp(
        operation.schema,
        operation.name,
        operation.old_values,
        operation.new_values,
        operation.affected_columns,
    )


def revision_directives(run: Run) -> Callable[[Any, Any, list[Any]], None]:
    """Alembic's `process_revision_directives` for this run: tidy what autogenerate found,
    and write no file when it found nothing. Called after each database is compared."""

    def process(migration_context: Any, revision: Any, directives: list[Any]) -> None:
        script = directives[0]
        latest = script.upgrade_ops_list[-1]  # this database's; the ones before had their turn
        latest.ops = [in_order(operation) for operation in latest.ops]
        compared_all = len(script.upgrade_ops_list) == len(run.databases)
        found_nothing = all(upgrade_ops.is_empty() for upgrade_ops in script.upgrade_ops_list)
        if getattr(run.config.cmd_opts, "autogenerate", False) and compared_all and found_nothing:
            directives[:] = []  # write no revision file
            run.config.print_stdout("No changes in schema detected.")

    return process


def configure(run: Run, database: str, dialect_name: str, **kwargs: Any) -> None:
    """Configure the migration context for one database: the same options online and offline."""
    options: dict[str, Any] = {
        "target_metadata": target_metadata(run.db, database),
        # SQLite cannot ALTER most things: rebuild the table in "batch" mode instead.
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": compare_type,
        "compare_server_default": True,
        "process_revision_directives": revision_directives(run),
        **run.configure_options,
        # Autogenerate writes this database's changes into upgrade_<database>() and
        # downgrade_<database>() of the new revision, when the app has several (script.py.mako).
        "upgrade_token": f"{database}_upgrades",
        "downgrade_token": f"{database}_downgrades",
        "template_args": {"databases": list(run.every_database)},
    }
    run.context.configure(**options, **kwargs)


def run_offline(run: Run) -> None:
    """Write the SQL to standard output (`--sql`) instead of running it, database by database."""
    for name, engine in run.databases.items():
        if len(run.databases) > 1:
            print(f"\n-- Database: {name}\n", file=run.config.output_buffer or sys.stdout)
        configure(
            run,
            name,
            engine.dialect.name,
            url=engine.url,
            literal_binds=True,
            transaction_per_migration=True,
        )
        with run.context.begin_transaction():
            run.context.run_migrations(database=name)


@contextmanager
def connect(database: str, engine: Engine) -> Iterator[Connection]:
    """A connection to one database; one that cannot be made is one line that says where."""
    from alembic.util import CommandError
    from sqlalchemy.exc import OperationalError

    where = engine.url.render_as_string(hide_password=True)
    try:
        connection = engine.connect()
    except OperationalError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        raise CommandError(
            f"cannot connect to the {database} database at {where}: {reason}"
        ) from None
    except (AttributeError, LookupError, TypeError, ValueError) as error:
        # The driver choking on a URL's option (PyMySQL on `?charset=nope`, say).
        raise CommandError(
            f"cannot connect to the {database} database at {where}: the driver refused "
            f"the URL ({type(error).__name__}: {error}): check its ?options"
        ) from None
    with connection:
        yield connection


@contextmanager
def one_transaction(connection: Connection) -> Iterator[None]:
    """One transaction for the whole run: committed at the end, rolled back on an error."""
    if connection.in_transaction():  # the caller's: theirs to end
        yield
        return
    with connection.begin():
        if connection.dialect.name == "sqlite":
            # pysqlite starts no transaction before DDL: start it, so a rollback undoes DDL too.
            connection.exec_driver_sql("BEGIN")
        yield


def given_targets(run: Run) -> dict[str, Engine | Connection]:
    """What each database of the run migrates through: the app's engine, or the Engine or
    Connection a caller handed over (pytest-alembic: "connection"; code: "connections")."""
    given = dict(run.config.attributes.get("connections", {}))
    if run.config.attributes.get("connection") is not None:
        given[DEFAULT] = run.config.attributes["connection"]
    return {name: given.get(name, engine) for name, engine in run.databases.items()}


def stop_on_signals(
    run: Run, targets: dict[str, Engine | Connection]
) -> AbstractContextManager[None]:
    """On a command line, SIGTERM and SIGINT stop the run cleanly: rolled back where DDL is
    transactional, the lock released, one line (cli.stopped_by_signals). Called from code,
    or on connections a caller handed over, the signals stay the caller's."""
    from sqlalchemy.engine import Engine

    engines = {name: target for name, target in targets.items() if isinstance(target, Engine)}
    if run.config.cmd_opts is None or len(engines) < len(targets):
        return nullcontext()
    names = ("version_table", "version_table_schema")
    version_options = {
        name: run.configure_options[name] for name in names if name in run.configure_options
    }
    from .cli import stopped_by_signals

    return stopped_by_signals(engines, version_options)


def run_online(run: Run) -> None:
    """Run the migrations on each database, holding its migration lock.

    Where DDL is transactional (SQLite, PostgreSQL) the whole run is one transaction: it
    commits at the end, or an error rolls it all back, so a deploy is all or nothing (and
    500 revisions cost one commit, not 500). MySQL and MariaDB commit DDL at once: there
    each revision commits on its own. With several databases, each runs in one transaction
    and all commit together at the end, so that they stay at the same revision.
    """
    from sqlalchemy.engine import Connection

    targets = given_targets(run)
    together = len(targets) > 1
    with stop_on_signals(run, targets), ExitStack() as stack:
        connections: dict[str, Connection] = {}
        for name, target in targets.items():
            if isinstance(target, Connection):  # handed over by the caller: stays theirs
                connections[name] = target
                continue
            connections[name] = stack.enter_context(connect(name, target))
            if lock_wanted(run.options):
                lock = migration_lock(connections[name], run.lock_name, name, run.lock_timeout)
                stack.enter_context(lock)
        from .repair import refuse_half_applied

        refuse_half_applied(run, connections)  # MySQL: a revision half-applied? repair first
        as_one = {
            name: together or connection.dialect.name in TRANSACTIONAL_DDL
            for name, connection in connections.items()
        }
        for name, connection in connections.items():
            if as_one[name]:
                stack.enter_context(one_transaction(connection))
        for name, connection in connections.items():
            if together:
                logger.info("Database %s", name)
            configure(
                run,
                name,
                connection.dialect.name,
                connection=connection,
                transaction_per_migration=not as_one[name],
            )
            with run.context.begin_transaction():
                run.context.run_migrations(database=name)
