"""`python manage.py migrate repair`: finish or undo a revision that MySQL or MariaDB
applied part-way (Flyway's `repair` is the model).

MySQL and MariaDB commit each DDL statement by itself: a run killed in the middle of a
revision, or a revision that fails after its first statement, leaves the statements before
that point done while alembic_version still holds the revision before. Every later
`upgrade` would then fail on the first of them ("Table ... already exists").

The next revision of each database is read as `upgrade --sql` reads it: its upgrade() runs
against Alembic's operations writing SQL, and each call it makes is one step (create
table, add column, raw SQL...), with the SQL it writes. The database's schema then tells
how many steps ran: the points of the revision (after 0, 1, 2... steps) whose predicted
schema is the database's. Raw SQL (op.execute) and data leave nothing the schema shows:
whether they ran is unknown, so they widen the points the database agrees with.

SQLite and PostgreSQL run an upgrade in one transaction: a revision is never applied
part-way there, but repair reads them all the same.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from alembic.util import CommandError

from .config import command_of
from .environment import TRANSACTIONAL_DDL, connect, take_database_argument
from .locks import DEFAULT_TIMEOUT, migration_lock

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection, Dialect

    from .environment import Run

#: The dialects whose DDL commits each statement at once (SQLAlchemy names MariaDB either).
EACH_STATEMENT_COMMITS = ("mysql", "mariadb")

#: The exit status of an `upgrade` refused because a revision is half-applied: the
#: container's start.sh waits on it, where another failure would make it restart.
HALF_APPLIED_STATUS = 3

#: The calls on Alembic's DDL implementation that are a revision's steps.
STEP_CALLS = frozenset(
    {
        "create_table", "drop_table", "add_column", "drop_column", "create_index",
        "drop_index", "add_constraint", "drop_constraint", "rename_table", "alter_column",
        "execute", "bulk_insert", "create_table_comment", "drop_table_comment",
        "create_column_comment",
    }
)  # fmt: skip

#: What a step changes in the schema, e.g. ("table", "", "users") or ("column", "",
#: "users", "age"): the kind, the schema ("" for the default one), the table, the name.
Key = tuple[str, ...]


class HalfApplied(CommandError):
    """An upgrade refused: a revision is half-applied; `repair` comes first."""

    exit_status = HALF_APPLIED_STATUS


@dataclass
class Effect:
    """What a step makes true: whether an object exists (or a column is nullable) before
    and after it; None where that cannot be known."""

    key: Key
    before: bool | None
    after: bool | None


@dataclass
class Step:
    """One call a revision makes on Alembic's DDL implementation, as it can be run again."""

    call: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    #: The SQL it runs, as `upgrade --sql` writes it.
    sql: str = ""
    effects: list[Effect] = field(default_factory=list)

    def __str__(self) -> str:
        """What it does, e.g. `create table users` or `raw SQL: UPDATE users SET ...`."""
        verb = self.call.split("_")[0]
        first: Any = self.args[0] if self.args else None
        if self.call in ("create_table", "drop_table"):
            return f"{verb} table {first.name}"
        if self.call in ("add_column", "drop_column"):
            return f"{verb} column {first}.{self.args[1].name}"
        if self.call in ("create_index", "drop_index"):
            return f"{verb} index {first.name} on {first.table.name}"
        if self.call in ("add_constraint", "drop_constraint"):
            return f"{verb} constraint {first.name or '(unnamed)'} on {first.table.name}"
        if self.call == "rename_table":
            return f"rename table {first} to {self.args[1]}"
        if self.call == "alter_column":
            return f"alter column {first}.{self.args[1]}"
        if self.call == "bulk_insert":
            return f"insert rows into {first.name}"
        sql = " ".join(self.sql.split()).rstrip(";")
        return f"raw SQL: {sql[:57]}..." if len(sql) > 60 else f"raw SQL: {sql}"

    def inverse(self) -> Step | None:
        """The step that undoes this one, where one does; None where none can."""
        first: Any = self.args[0] if self.args else None
        if self.call == "create_table":
            return Step("drop_table", (first,), {})
        if self.call == "add_column":
            schema = {"schema": self.kwargs.get("schema")}
            return Step("drop_column", (first, self.args[1]), schema)
        if self.call == "create_index":
            return Step("drop_index", (first,), {})
        if self.call == "add_constraint" and first.name:
            return Step("drop_constraint", (first,), {})
        if self.call == "rename_table":
            return Step("rename_table", (self.args[1], first, *self.args[2:]), self.kwargs)
        return None


def effects_of(call: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Effect]:
    """What a step changes that the schema shows (none for raw SQL, data, comments, types)."""
    first: Any = args[0] if args else None
    maybe = kwargs.get("if_exists") or kwargs.get("if_not_exists")

    def made(key: Key, exists: bool = True) -> Effect:
        # A step with IF [NOT] EXISTS runs whatever was there before.
        return Effect(key, None if maybe else not exists, exists)

    if call in ("create_table", "drop_table"):
        return [made(("table", first.schema or "", first.name), call == "create_table")]
    if call in ("add_column", "drop_column"):
        key = ("column", kwargs.get("schema") or "", first, args[1].name)
        return [made(key, call == "add_column")]
    if call in ("create_index", "drop_index") and first.name:
        key = ("index", first.table.schema or "", first.table.name, first.name)
        return [made(key, call == "create_index")]
    if call in ("add_constraint", "drop_constraint") and first.name and first.table is not None:
        key = ("constraint", first.table.schema or "", first.table.name, first.name)
        return [made(key, call == "add_constraint")]
    if call == "rename_table":
        schema = (args[2] if len(args) > 2 else kwargs.get("schema")) or ""
        return [made(("table", schema, first), False), made(("table", schema, args[1]))]
    if call == "alter_column":
        schema = kwargs.get("schema") or ""
        if kwargs.get("name"):
            gone = made(("column", schema, first, args[1]), False)
            return [gone, made(("column", schema, first, kwargs["name"]))]
        if kwargs.get("nullable") is not None:
            key = ("nullable", schema, first, args[1])
            return [Effect(key, kwargs.get("existing_nullable"), kwargs["nullable"])]
    return []


class Recorder:
    """Alembic's DDL implementation in `--sql` mode, noting each step a revision takes
    (batch_alter_table's too: outside SQLite it calls the same methods)."""

    def __init__(self, real: Any, buffer: io.StringIO) -> None:
        self.real = real
        self.buffer = buffer
        self.steps: list[Step] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if name not in STEP_CALLS:
            return attribute

        def record(*args: Any, **kwargs: Any) -> None:
            start = len(self.buffer.getvalue())
            attribute(*args, **kwargs)
            sql = self.buffer.getvalue()[start:].strip()
            self.steps.append(Step(name, args, kwargs, sql, effects_of(name, args, kwargs)))

        return record


@contextmanager
def unannounced() -> Iterator[None]:
    """Without the lines Alembic logs as it makes a migration context ("Context impl
    MySQLImpl."): repair's own contexts are no news in an upgrade's output."""
    logger = logging.getLogger("alembic.runtime.migration")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def steps_of(revision: Script, database: str, dialect: Dialect) -> list[Step]:
    """The steps of a revision's upgrade for one database, recorded as `--sql` writes them."""
    from alembic import op
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    buffer = io.StringIO()
    options = {"as_sql": True, "output_buffer": buffer, "literal_binds": True}
    with unannounced():
        context = MigrationContext.configure(dialect=dialect, opts=options)
    recorder = Recorder(context.impl, buffer)
    context.impl = cast(Any, recorder)
    take_database_argument(revision.module)
    running = getattr(op, "_proxy", None)  # a command's own operations, if one runs
    operations = Operations(context)
    operations._install_proxy()  # what `op.` in the revision calls
    try:
        revision.module.upgrade(database=database)
    except Exception as error:  # the revision's own code: it may raise anything
        raise CommandError(
            f"repair cannot read the steps of revision {revision.revision} as `upgrade --sql` "
            f"would ({type(error).__name__}: {error}): compare it with the database by hand"
        ) from error
    finally:
        operations._remove_proxy()
        if running is not None:
            running._install_proxy()
    return recorder.steps


class LiveSchema:
    """What the database holds, read as the steps ask (each key once)."""

    def __init__(self, connection: Connection) -> None:
        from sqlalchemy import inspect

        self.inspector = inspect(connection)
        self.read: dict[Key, bool | None] = {}

    def value(self, key: Key) -> bool | None:
        if key not in self.read:
            self.read[key] = self.look(key)
        return self.read[key]

    def look(self, key: Key) -> bool | None:
        kind, schema_name, table, *name = key
        schema = schema_name or None
        exists = self.inspector.has_table(table, schema=schema)
        if kind == "table" or not exists:
            return exists if kind != "nullable" else None
        if kind in ("column", "nullable"):
            columns = {c["name"]: c["nullable"] for c in self.inspector.get_columns(table, schema)}
            return name[0] in columns if kind == "column" else columns.get(name[0])
        indexes = {index["name"] for index in self.inspector.get_indexes(table, schema)}
        if kind == "index":
            return name[0] in indexes
        constraints = [
            *self.inspector.get_foreign_keys(table, schema),
            *self.inspector.get_unique_constraints(table, schema),
            *self.inspector.get_check_constraints(table, schema),
        ]
        return name[0] in indexes | {constraint["name"] for constraint in constraints}


@dataclass
class Progress:
    """How far one database got into its next revision."""

    database: str
    revision: Script
    #: What alembic_version holds (empty: nothing).
    recorded: tuple[str, ...]
    steps: list[Step]
    #: The numbers of steps run that the database's schema agrees with.
    points: list[int]

    @property
    def begun(self) -> bool:
        """Whether the revision is half-applied: it was begun (some step shows)."""
        return bool(self.points) and 0 not in self.points

    @property
    def done(self) -> int:
        """The steps surely run: the first `done` ones."""
        return min(self.points)

    @property
    def reached(self) -> int:
        """The steps perhaps run: up to `reached`; those after it surely did not run."""
        return max(self.points)

    @property
    def finishable(self) -> bool:
        """Whether the steps left are known: each step up to `done` ran, none after it."""
        return self.done == self.reached

    def undoing(self) -> list[Step] | None:
        """The steps that undo what ran, last first; None where that cannot be done (a
        step without an inverse ran, or one that changes the schema perhaps ran)."""
        if any(step.effects for step in self.steps[self.done : self.reached]):
            return None
        inverses = [step.inverse() for step in reversed(self.steps[: self.done])]
        return None if None in inverses else cast("list[Step]", inverses)

    def summary(self) -> str:
        """E.g. `revision 3c1 (add posts) was applied part-way to the default database
        (1 of 3 steps done; alembic_version still holds 2b0)`."""
        if self.finishable:
            count = f"{self.done} of {len(self.steps)} steps done"
        else:
            count = f"{self.done} to {self.reached} of {len(self.steps)} steps done"
        return (
            f"revision {label(self.revision)} was applied part-way to the {self.database} "
            f"database ({count}; alembic_version still holds {held(self.recorded)})"
        )

    def state(self, index: int) -> str:
        """Whether step `index` ran: done, unknown or left."""
        return "done" if index < self.done else "unknown" if index < self.reached else "left"


def label(revision: Script) -> str:
    message = (revision.doc or "").strip()
    return f"{revision.revision} ({message})" if message else revision.revision


def held(recorded: tuple[str, ...]) -> str:
    return ", ".join(recorded) if recorded else "no revision"


def recorded_revisions(connection: Connection, **version_options: Any) -> tuple[str, ...]:
    """The revisions a database's alembic_version holds."""
    from alembic.runtime.migration import MigrationContext

    with unannounced():
        context = MigrationContext.configure(connection, opts=version_options)
    return context.get_current_heads()


def next_revisions(script: ScriptDirectory, recorded: tuple[str, ...]) -> list[Script]:
    """The revisions an upgrade would run first: each one not applied whose every parent is."""
    applied: set[str] = set()
    waiting = list(recorded)
    while waiting:
        revision = script.get_revision(waiting.pop())
        if revision is not None and revision.revision not in applied:
            applied.add(revision.revision)
            waiting.extend(parents(revision))
    return [
        revision
        for revision in script.walk_revisions()
        if revision.revision not in applied and all(p in applied for p in parents(revision))
    ]


def parents(revision: Script) -> tuple[str, ...]:
    down = revision.down_revision
    return (down,) if isinstance(down, str) else tuple(down or ())


def progress_of(
    connection: Connection, script: ScriptDirectory, database: str, **version_options: Any
) -> list[Progress]:
    """How far the database got into each of its next revisions."""
    recorded = recorded_revisions(connection, **version_options)
    schema = LiveSchema(connection)
    found = []
    for revision in next_revisions(script, recorded):
        steps = steps_of(revision, database, connection.dialect)
        points = [count for count in range(len(steps) + 1) if agrees(steps, count, schema)]
        found.append(Progress(database, revision, recorded, steps, points))
    return found


def agrees(steps: list[Step], count: int, schema: LiveSchema) -> bool:
    """Whether the database is what the first `count` steps make of the schema before."""
    predicted: dict[Key, bool | None] = {}
    for step in reversed(steps):  # the first effect on each key gives the value before
        for effect in reversed(step.effects):
            predicted[effect.key] = effect.before
    for step in steps[:count]:
        for effect in step.effects:
            predicted[effect.key] = effect.after
    return all(value is None or schema.value(key) == value for key, value in predicted.items())


def half_applied(
    connection: Connection, script: ScriptDirectory, database: str, **version_options: Any
) -> list[Progress]:
    """The revisions the database holds part of; none where a revision's code cannot be
    run to read its steps (one that reads the database as it runs, for one)."""
    try:
        found = progress_of(connection, script, database, **version_options)
    except CommandError:  # its steps cannot be read: the upgrade itself will tell
        return []
    return [progress for progress in found if progress.begun]


def refuse_half_applied(run: Run, connections: dict[str, Connection]) -> None:
    """Before an upgrade of a MySQL or MariaDB database, stop with one line (and exit
    status 3) where its next revision is half-applied, instead of failing on its first
    statement. The migration lock is held: no other run is half-way through it."""
    # Alembic's `context` module stands for the command's EnvironmentContext (its _proxy),
    # which holds the command's function: `upgrade`, `downgrade`, `stamp`...
    environment = getattr(run.context, "_proxy", run.context)
    if getattr(environment.context_opts.get("fn"), "__name__", None) != "upgrade":
        return
    version_options = {
        name: run.configure_options[name]
        for name in ("version_table", "version_table_schema")
        if name in run.configure_options
    }
    for name, connection in connections.items():
        if connection.dialect.name not in EACH_STATEMENT_COMMITS:
            continue
        with nullcontext() if connection.in_transaction() else connection.begin():
            found = half_applied(connection, run.context.script, name, **version_options)
        if found:
            # Plain `alembic` and Flask-Migrate's `flask db` have no repair: `flask migrate` has.
            command = command_of(run.config)
            fix = f"{'flask migrate' if command == 'alembic' else command} repair"
            raise HalfApplied(f"{found[0].summary()}: run `{fix}`, then upgrade again")


def repair(config: Config, yes: bool = False, undo: bool = False) -> None:
    """Finish (or, with --undo, undo) each revision that MySQL or MariaDB applied part-way;
    without --yes, only show what it would do."""
    from alembic.script import ScriptDirectory

    from .databases import current_databases

    script = ScriptDirectory.from_config(config)
    for name, engine in current_databases().items():
        with (
            connect(name, engine) as connection,
            locked(connection, name, yes),
            connection.begin(),
        ):
            found = progress_of(connection, script, name)
            for progress in found:
                if not progress.points:
                    raise unmatched(config, progress)
            begun = [progress for progress in found if progress.begun]
            for progress in begun:
                repair_one(config, connection, script, progress, yes=yes, undo=undo)
            if not begun:
                config.print_stdout(f"{name}: nothing to repair: {calm(found, connection)}")


@contextmanager
def locked(connection: Connection, database: str, acting: bool) -> Iterator[None]:
    """The migration lock, while repair changes the database: no upgrade runs meanwhile."""
    if not acting:
        yield
        return
    with migration_lock(connection, "migrations", database, DEFAULT_TIMEOUT):
        yield


def unmatched(config: Config, progress: Progress) -> CommandError:
    """The error of a database that is at no point of its next revision."""
    return CommandError(
        f"the {progress.database} database is at none of the steps of revision "
        f"{label(progress.revision)} (a table it creates exists already, or one it drops is "
        f"gone): this is no half-applied revision; compare them with `{command_of(config)} "
        "doctor` and fix by hand"
    )


#: The databases that run an upgrade in one transaction, by their names for people.
ONE_TRANSACTION = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def calm(found: list[Progress], connection: Connection) -> str:
    """Why a database needs no repair."""
    if not found:
        why = "it is at a head"
    else:
        pending = ", ".join(progress.revision.revision for progress in found)
        why = f"the next revision ({pending}) is not begun"
    if connection.dialect.name in TRANSACTIONAL_DDL:
        why += f"; {ONE_TRANSACTION[connection.dialect.name]} runs each upgrade in one transaction"
    return why


def repair_one(
    config: Config,
    connection: Connection,
    script: ScriptDirectory,
    progress: Progress,
    *,
    yes: bool,
    undo: bool,
) -> None:
    """Show one half-applied revision's steps, then finish it, undo it, or say how."""
    name, command = progress.database, command_of(config)
    config.print_stdout(f"{name}: {progress.summary()}")
    for index, step in enumerate(progress.steps):
        config.print_stdout(f"{name}:   {progress.state(index):<8} {step}")
    undoing = progress.undoing()
    was = held(progress.recorded)
    if not progress.finishable and undoing is None:
        config.print_stdout(f"-- The statements of {progress.revision.revision} perhaps not run:")
        for step in progress.steps[progress.done :]:
            config.print_stdout(f"{step.sql}\n")
        raise CommandError(
            f"repair cannot tell which raw SQL of {progress.revision.revision} ran, nor undo "
            f"it: run yourself the statements listed above that did not run, then `{command} "
            f"stamp {progress.revision.revision}`"
        )
    left = len(progress.steps) - progress.done
    finish = f"runs the {left} step(s) left, then records {progress.revision.revision}"
    if undo and undoing is not None:
        undone = ", ".join(str(step) for step in undoing)
        if not yes:
            config.print_stdout(
                f"{name}: `{command} repair --undo --yes` would {undone}; "
                f"alembic_version stays at {was}"
            )
            return
        run_steps(connection, undoing)
        config.print_stdout(f"{name}: undone: {undone}; alembic_version stays at {was}")
    elif undo:
        raise CommandError(
            f"repair cannot undo {progress.revision.revision}: a step that ran has no "
            f"inverse; finish it with `{command} repair --yes`"
        )
    elif yes and progress.finishable:
        run_steps(connection, progress.steps[progress.done :])
        stamp(connection, script, progress.revision.revision)
        config.print_stdout(
            f"{name}: finished {progress.revision.revision}: ran the {left} step(s) left, "
            "and recorded it in alembic_version"
        )
    elif yes:
        raise CommandError(
            f"repair cannot finish {progress.revision.revision}: whether its raw SQL ran "
            f"cannot be read from the database; undo it with `{command} repair --undo --yes`"
            ", fix the revision if it failed, then upgrade again"
        )
    else:
        if progress.finishable:
            config.print_stdout(f"{name}: to finish it: `{command} repair --yes` ({finish})")
        if undoing is not None:
            undone = ", ".join(str(step) for step in undoing)
            config.print_stdout(
                f"{name}: to undo it: `{command} repair --undo --yes` ({undone}; "
                f"alembic_version stays at {was})"
            )


def run_steps(connection: Connection, steps: list[Step]) -> None:
    """Run steps on the database, through Alembic's DDL implementation."""
    from alembic.runtime.migration import MigrationContext

    with unannounced():
        implementation = MigrationContext.configure(connection).impl
    for step in steps:
        getattr(implementation, step.call)(*step.args, **step.kwargs)


def stamp(connection: Connection, script: ScriptDirectory, revision: str) -> None:
    """Record in alembic_version that the database is at `revision`."""
    from alembic.runtime.migration import MigrationContext

    with unannounced():
        context = MigrationContext.configure(connection)
    context.stamp(script, revision)
