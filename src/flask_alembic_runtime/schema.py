"""What a database holds, described flat so that two databases can be compared, e.g.
`differences(describe_schema(old), describe_schema(new))` gives
`["column posts.score: FLOAT in the first, DOUBLE in the second"]`.
"""

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from alembic.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from .config import DEFAULT_COMMAND
from .leftovers import machine, run_over, temporary_folder

# Alembic's own bookkeeping, not part of the schema.
VERSION_TABLE = "alembic_version"

# The name of a scratch database (see `scratch_name`).
SCRATCH_NAME = re.compile(
    r"scratch_(?P<machine>[0-9a-f]{4})_(?P<pid>\d+)_(?P<time>\d+)_[0-9a-f]{6}"
)


@dataclass(frozen=True, order=True)
class SchemaObject:
    """One object of a schema: its kind ("table", "column", "index"...) and its name
    ("users", "users.email"); shown as "column users.email"."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


#: A described schema: each object, and its properties as the database reports them.
Schema = dict[SchemaObject, Any]


def describe_schema(
    connection: Connection, include_table: Callable[[str], bool] = lambda table: True
) -> Schema:
    """Every table, view, column (type as the database spells it, nullability, default),
    primary key, index, unique, foreign key and check constraint, with its name;
    PostgreSQL's enum types. Tables for which `include_table` is false are left out, with
    all they hold."""
    inspector = inspect(connection)
    dialect = connection.dialect
    schema: Schema = {SchemaObject("view", view): "present" for view in inspector.get_view_names()}
    tables = set(inspector.get_table_names()) - {VERSION_TABLE}
    for table in sorted(filter(include_table, tables)):
        schema[SchemaObject("table", table)] = "present"
        for column in inspector.get_columns(table):
            schema[SchemaObject("column", f"{table}.{column['name']}")] = (
                column["type"].compile(dialect=dialect),
                "NULL" if column["nullable"] else "NOT NULL",
                f"DEFAULT {column['default']}" if column.get("default") is not None else "",
            )
        primary_key = inspector.get_pk_constraint(table)
        if primary_key["constrained_columns"]:
            schema[SchemaObject("primary key", table)] = (
                primary_key.get("name"),
                primary_key["constrained_columns"],
            )
        for index in inspector.get_indexes(table):
            key = SchemaObject("index", f"{table}.{index['name']}")
            schema[key] = (index["column_names"], "UNIQUE" if index["unique"] else "")
        for unique in inspector.get_unique_constraints(table):
            key = SchemaObject(
                "unique", f"{table}.{unique['name'] or ','.join(unique['column_names'])}"
            )
            schema[key] = unique["column_names"]
        for foreign_key in inspector.get_foreign_keys(table):
            columns = ",".join(foreign_key["constrained_columns"])
            schema[SchemaObject("foreign key", f"{table}.{columns}")] = (
                foreign_key.get("name"),
                foreign_key["referred_table"],
                foreign_key["referred_columns"],
                foreign_key.get("options") or {},
            )
        for check in inspector.get_check_constraints(table):
            schema[SchemaObject("check", f"{table}.{check['name']}")] = check["sqltext"]
    if dialect.name == "postgresql":
        for enum in inspector.get_enums():  # type: ignore[attr-defined]
            schema[SchemaObject("enum type", enum["name"])] = enum["labels"]
    return schema


def env_py_tables(options: Mapping[str, Any]) -> Callable[[str], bool]:
    """Whether env.py's `include_object` (among the `options` it gave Alembic's
    `context.configure()`) lets autogenerate compare a table: IGNORED_TABLES, say."""
    include_object = options.get("include_object")
    if include_object is None:
        return lambda table: True
    from sqlalchemy import MetaData, Table

    return lambda table: bool(include_object(Table(table, MetaData()), table, "table", True, None))


def version_of(engine: Engine) -> tuple[set[str], str]:
    """The revisions a database has applied, and a word on what was found."""
    url = engine.url
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not Path(file).exists():
        return set(), "not created yet"  # connecting would create the file
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return set(), f"not reachable, not checked: {reason}"
    return current, f"at {', '.join(sorted(current))}" if current else "no revision applied"


def table_count(schema: Mapping[SchemaObject, Any]) -> int:
    """How many tables a described schema has."""
    return sum(item.kind == "table" for item in schema)


def differences(
    first: Mapping[Any, Any],
    second: Mapping[Any, Any],
    names: tuple[str, str] = ("first", "second"),
) -> list[str]:
    """What differs between two described schemas, one line each."""
    lines = []
    for key in sorted(first.keys() | second.keys()):
        if key not in second:
            lines.append(f"{key}: only in the {names[0]}")
        elif key not in first:
            lines.append(f"{key}: only in the {names[1]}")
        elif first[key] != second[key]:
            lines.append(
                f"{key}: {spell(first[key])} in the {names[0]}, {spell(second[key])} in the {names[1]}"
            )
    return lines


def spell(value: Any) -> str:
    """A described object's properties in a few words."""
    if isinstance(value, tuple):
        return " ".join(str(part) for part in value if part not in ("", None, {}))
    return str(value)


@contextmanager
def scratch_database(
    beside: Engine, say: Callable[[str], None] = lambda line: None
) -> Iterator[Engine]:
    """An empty database of the same kind, on the same server, dropped afterwards.

    SQLite: a file in a temporary folder (`temporary_folder`). PostgreSQL, MySQL and MariaDB: a new database created with
    the same credentials (they need the right to CREATE DATABASE), named after the
    machine, the process and the time (`scratch_name`); the scratch databases on the server
    that killed runs left are dropped first, and `say` is told which.
    """
    if beside.dialect.name == "sqlite":
        with temporary_folder("scratch") as folder:
            engine = create_engine(f"sqlite:///{folder / 'scratch.db'}")
            try:
                yield engine
            finally:
                engine.dispose()
        return
    postgresql = beside.dialect.name == "postgresql"
    # Connect to the server itself: "postgres" is PostgreSQL's maintenance database; MySQL
    # needs none (the one the URL names may not exist yet). `set` leaves a None unchanged.
    server_url = beside.url._replace(database="postgres" if postgresql else None)
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = scratch_name()
    try:
        with server.connect() as connection:
            drop_leftover_scratch(connection, say)
            try:
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
            except SQLAlchemyError as error:
                raise CannotCreateScratch(beside, error) from None
        engine = create_engine(beside.url.set(database=name))
        try:
            yield engine
        finally:
            engine.dispose()
            with server.connect() as connection:
                force = " WITH (FORCE)" if postgresql else ""
                connection.exec_driver_sql(f"DROP DATABASE {name}{force}")
    finally:
        server.dispose()


class CannotCreateScratch(CommandError):
    """The user the app connects as may not create the scratch database a proof needs."""

    def __init__(self, beside: Engine, error: SQLAlchemyError) -> None:
        where = beside.url._replace(database=None).render_as_string(hide_password=True)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        super().__init__(
            f"this command replays the history on a scratch database, which the user of "
            f"{where} may not create ({reason}): grant it CREATE and DROP on databases, or "
            "run the command with a DATABASE_URL whose user may"
        )


def scratch_name() -> str:
    """A new scratch database's name: `scratch_<machine>_<pid>_<unix time>_<random>`."""
    return f"scratch_{machine()}_{os.getpid()}_{int(time.time())}_{uuid4().hex[:6]}"


def left_by_a_killed_run(name: str) -> bool:
    """Whether a database is a scratch database whose run is over: made by a process of
    this machine that no longer runs, or, made elsewhere, more than an hour ago."""
    found = SCRATCH_NAME.fullmatch(name)
    return found is not None and run_over(found["machine"], int(found["pid"]), int(found["time"]))


def drop_leftover_scratch(server: Connection, say: Callable[[str], None]) -> None:
    """Drop the scratch databases on this server that killed runs left; say which."""
    postgresql = server.dialect.name == "postgresql"
    listed = "SELECT datname FROM pg_database" if postgresql else "SHOW DATABASES"
    dropped = []
    for name in server.exec_driver_sql(listed).scalars().all():
        if left_by_a_killed_run(name):
            force = " WITH (FORCE)" if postgresql else ""
            try:
                server.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
            except SQLAlchemyError:  # another user's: not ours to drop
                continue
            dropped.append(name)
    if dropped:
        say(f"dropped {len(dropped)} scratch database(s) left by killed runs: {', '.join(dropped)}")


def models_differ(diffs: list[Any], command: str = DEFAULT_COMMAND) -> str:
    """What `check` found, in one line with the fix in the words of `command`."""
    changes = ", ".join(describe_change(diff) for diff in diffs)
    return (
        f"the models differ from the migrations ({changes}): write a revision with "
        f"`{command} revision --autogenerate -m MESSAGE`"
    )


def describe_change(diff: Any) -> str:
    """One difference that autogenerate found, in a few words, e.g. `add_column users.age`."""
    first = diff[0] if isinstance(diff, list) else diff  # modify_* come as lists
    names = [
        str(getattr(part, "name", part))
        for part in first[1:4]
        if isinstance(part, str) or hasattr(part, "name")
    ]
    return f"{first[0]} {'.'.join(names)}"
