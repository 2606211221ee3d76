"""The migration lock: one run at a time per database, so that app replicas (or workers)
upgrading at once apply each revision exactly once: the others wait, then find nothing
to do.

PostgreSQL: an advisory lock; MySQL and MariaDB: GET_LOCK; SQLite: a lock on the file
`<database file>.migration-lock` beside it. A run turns it off with `-x lock=off`.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # Windows: SQLite runs there without a migration lock
    fcntl = None  # type: ignore[assignment]

from .databases import DEFAULT

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: Seconds a run waits for the lock before it fails: an hour.
DEFAULT_TIMEOUT = 3600

#: Seconds between two tries of a SQLite run waiting for the lock file.
SQLITE_POLL = 0.05

#: MySQL's limit on a lock name's length.
MYSQL_NAME_LIMIT = 64


def lock_name(base: str, database: str) -> str:
    """The lock of one database: `base`, plus the bind's name for a bind. (MySQL's lock
    names are server-wide, and a run must not wait for itself when two of its databases
    share a server.)"""
    return base if database == DEFAULT else f"{base}.{database}"


def mysql_lock_name(name: str) -> str:
    """A lock name MySQL accepts: the name, or its start and a checksum of the whole."""
    if len(name) <= MYSQL_NAME_LIMIT:
        return name
    return f"{name[:55]}.{zlib.crc32(name.encode()):08x}"


@contextmanager
def migration_lock(
    connection: Connection, base: str, database: str, timeout: int
) -> Iterator[None]:
    """Hold the database-wide lock of `database` for the whole run; fail after waiting
    `timeout` seconds for it."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    name = lock_name(base, database)
    dialect = connection.dialect.name
    if dialect == "sqlite":
        with sqlite_file_lock(connection.engine.url.database, name, timeout):
            yield
        return
    params: dict[str, Any]
    if dialect == "postgresql":
        params = {"key": zlib.crc32(name.encode())}
        # In milliseconds, at least one: PostgreSQL reads 0 as "wait for ever".
        connection.execute(text(f"SET lock_timeout = '{max(int(timeout) * 1000, 1)}ms'"))
        try:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), params)
            taken = 1
        except OperationalError:  # lock_timeout ran out: the transaction, SET included, is void
            end_transaction(connection, "rollback")
            taken = 0
        connection.execute(text("RESET lock_timeout"))
        release = "SELECT pg_advisory_unlock(:key)"
    else:
        name = mysql_lock_name(name)
        params = {"name": name, "timeout": timeout}
        taken = connection.execute(text("SELECT GET_LOCK(:name, :timeout)"), params).scalar_one()
        release = "SELECT RELEASE_LOCK(:name)"
    end_transaction(connection)  # the lock belongs to the session, not to this transaction
    if taken != 1:  # 0: timed out; NULL: an error
        raise not_free(name, timeout)
    try:
        yield
    finally:
        connection.execute(text(release), params)
        end_transaction(connection)


def end_transaction(connection: Connection, how: str = "commit") -> None:
    """Commit (or roll back) what `connection` began: its own transaction (SQLAlchemy 2.0
    begins one with the first statement), or the driver's (1.4's connections, which begin
    none of their own, leave the driver's open)."""
    if hasattr(connection, how):
        getattr(connection, how)()
    else:
        getattr(connection.connection, how)()


def not_free(name: str, timeout: int) -> Exception:
    """The error of a run that waited `timeout` seconds for the lock `name`."""
    from alembic.util import CommandError

    return CommandError(
        f"the migration lock {name} was not free after {timeout} s: another migration "
        "holds it; let it finish, then run this again"
    )


@contextmanager
def sqlite_file_lock(path: str | None, name: str, timeout: int) -> Iterator[None]:
    """Lock the file beside a SQLite database, waiting at most `timeout` seconds (no lock
    for an in-memory database, or where the operating system has no flock)."""
    if not path or path == ":memory:" or fcntl is None:
        yield
        return
    with open(f"{path}.migration-lock", "a") as lock_file:
        deadline = time.monotonic() + timeout
        while True:  # another run holds it: try again, until the deadline
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise not_free(name, timeout) from None
                time.sleep(SQLITE_POLL)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
