"""The migration lock: one run at a time per database, so that app replicas (or workers)
upgrading at once apply each revision exactly once: the others wait, then find nothing
to do. A run that waits says so at once on stderr, naming who holds the lock where the
database tells, and again every 30 seconds.

PostgreSQL: an advisory lock; MySQL and MariaDB: GET_LOCK; SQLite: a lock on the file
`<database file>.migration-lock` beside it. A run turns it off with `-x lock=off`.
"""

from __future__ import annotations

import errno
import os
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # Windows: SQLite runs there without a migration lock
    fcntl = None  # type: ignore[assignment]

from .databases import DEFAULT
from .output import warn

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: Seconds a run waits for the lock before it fails: an hour.
DEFAULT_TIMEOUT = 3600

#: Seconds between two "waiting for the migration lock" lines of a run that waits.
ANNOUNCE_EVERY = 30.0

#: Seconds between two tries of a SQLite run waiting for the lock file.
SQLITE_POLL = 0.05

#: MySQL's limit on a lock name's length.
MYSQL_NAME_LIMIT = 64

#: The holders of a PostgreSQL advisory lock taken with one bigint key (below 2**32, as
#: crc32 gives: `classid` 0, `objid` the key), in this database.
POSTGRESQL_HOLDERS = """\
SELECT activity.pid, activity.application_name, activity.client_addr,
       activity.backend_start
FROM pg_locks AS locks JOIN pg_stat_activity AS activity ON activity.pid = locks.pid
WHERE locks.locktype = 'advisory' AND locks.granted AND locks.classid = 0
  AND locks.objid::bigint = :key AND locks.objsubid = 1
  AND locks.database = (SELECT oid FROM pg_database WHERE datname = current_database())"""

#: A MySQL/MariaDB connection, from the server's process list (where the user may see it).
MYSQL_CONNECTION = """\
SELECT USER, HOST, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID = :id"""

#: Who holds a lock that was free by the time the waiting run asked.
JUST_RELEASED = "a connection that has just released it"


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
    connection: Connection,
    base: str,
    database: str,
    timeout: float,
    announce_every: float = ANNOUNCE_EVERY,
) -> Iterator[None]:
    """Hold the database-wide lock of `database` for the whole run; fail after waiting
    `timeout` seconds for it. While it waits, a line on stderr says so and who holds the
    lock, at once and then every `announce_every` seconds."""
    name = lock_name(base, database)
    dialect = connection.dialect.name
    if dialect == "sqlite":
        with sqlite_file_lock(connection.engine.url.database, name, timeout, announce_every):
            yield
        return
    lock = (
        PostgresqlLock(connection, name) if dialect == "postgresql" else MysqlLock(connection, name)
    )
    wait_for(lock.take, lock.holder, lock.name, timeout, announce_every)
    try:
        yield
    finally:
        lock.release()


def wait_for(
    take: Callable[[float], bool],
    holder: Callable[[], str],
    name: str,
    timeout: float,
    announce_every: float,
) -> None:
    """Take a lock with `take(seconds)` (True once taken, False when `seconds` ran out):
    at once if it is free, else waiting at most `timeout` seconds, with a line on stderr
    naming `holder()` at the start of the wait and every `announce_every` seconds."""
    if take(0):
        return
    started = time.monotonic()
    so_far = ""
    while (left := started + timeout - time.monotonic()) > 0:
        warn(
            f"waiting for the migration lock {name}, held by {holder()}... "
            f"({so_far}gives up after {timeout:g} s)"
        )
        if take(min(announce_every, left)):
            return
        so_far = f"{time.monotonic() - started:.0f} s so far; "
    raise not_free(name, timeout)


class ServerLock:
    """A lock that a database server holds for a connection's session: `take` it (waiting
    at most some seconds), say who holds it, `release` it."""

    #: The statement that releases the lock, with `params`.
    RELEASE = ""

    def __init__(self, connection: Connection, name: str) -> None:
        self.connection, self.name = connection, name
        self.params: dict[str, Any] = {}

    def execute(self, sql: str, **params: Any) -> Any:
        """The first column of the first row `sql` gives; the transaction it began ends:
        the lock belongs to the session, not to a transaction."""
        from sqlalchemy import text

        value = self.connection.execute(text(sql), {**self.params, **params}).scalar()
        end_transaction(self.connection)
        return value

    def release(self) -> None:
        self.execute(self.RELEASE)


class PostgresqlLock(ServerLock):
    """An advisory lock, keyed by a checksum of its name, taken under a `lock_timeout`."""

    RELEASE = "SELECT pg_advisory_unlock(:key)"

    def __init__(self, connection: Connection, name: str) -> None:
        super().__init__(connection, name)
        self.params = {"key": zlib.crc32(name.encode())}

    def take(self, seconds: float) -> bool:
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError

        if seconds <= 0:
            return bool(self.execute("SELECT pg_try_advisory_lock(:key)"))
        # In milliseconds, at least one: PostgreSQL reads 0 as "wait for ever".
        self.connection.execute(text(f"SET lock_timeout = '{max(int(seconds * 1000), 1)}ms'"))
        try:
            self.connection.execute(text("SELECT pg_advisory_lock(:key)"), self.params)
            taken = True
        except OperationalError:  # lock_timeout ran out: the transaction, SET included, is void
            end_transaction(self.connection, "rollback")
            taken = False
        self.connection.execute(text("RESET lock_timeout"))
        end_transaction(self.connection)
        return taken

    def holder(self) -> str:
        """Who holds the lock, from `pg_locks` and `pg_stat_activity`."""
        from sqlalchemy import text

        rows = self.connection.execute(text(POSTGRESQL_HOLDERS), self.params).all()
        end_transaction(self.connection)
        if not rows:
            return JUST_RELEASED
        pid, application, client, connected = rows[0]
        if connected is None:  # another role's session: PostgreSQL shows only its pid
            return f"PostgreSQL backend pid {pid}"
        details = [f"client {client}" if client else "a local socket"]
        if application:
            details.append(f"application {application}")
        details.append(f"connected at {connected:%Y-%m-%d %H:%M:%S %Z}".rstrip())
        return f"PostgreSQL backend pid {pid} ({', '.join(details)})"


class MysqlLock(ServerLock):
    """A MySQL/MariaDB user lock (`GET_LOCK`), under a name the server accepts."""

    RELEASE = "SELECT RELEASE_LOCK(:name)"

    def __init__(self, connection: Connection, name: str) -> None:
        super().__init__(connection, mysql_lock_name(name))
        self.params = {"name": self.name}

    def take(self, seconds: float) -> bool:
        # 1: taken; 0: `seconds` ran out; NULL: an error.
        return bool(self.execute("SELECT GET_LOCK(:name, :timeout)", timeout=seconds) == 1)

    def holder(self) -> str:
        """Who holds the lock: `IS_USED_LOCK` gives its connection, the process list the rest."""
        from sqlalchemy import text

        connection_id = self.execute("SELECT IS_USED_LOCK(:name)")
        if connection_id is None:
            return JUST_RELEASED
        row = self.connection.execute(text(MYSQL_CONNECTION), {"id": connection_id}).first()
        end_transaction(self.connection)
        if row is None:  # another user's connection, without the PROCESS privilege
            return f"connection {connection_id}"
        user, host, command, seconds = row
        return f"connection {connection_id} ({user}@{host}, {command} for {seconds} s)"


def end_transaction(connection: Connection, how: str = "commit") -> None:
    """Commit (or roll back) what `connection` began: its own transaction (SQLAlchemy 2.0
    begins one with the first statement), or the driver's (1.4's connections, which begin
    none of their own, leave the driver's open)."""
    if hasattr(connection, how):
        getattr(connection, how)()
    else:
        getattr(connection.connection, how)()


def not_free(name: str, timeout: float) -> Exception:
    """The error of a run that waited `timeout` seconds for the lock `name`."""
    from alembic.util import CommandError

    return CommandError(
        f"the migration lock {name} was not free after {timeout:g} s: another migration "
        "holds it; let it finish, then run this again"
    )


@contextmanager
def sqlite_file_lock(
    path: str | None, name: str, timeout: float, announce_every: float = ANNOUNCE_EVERY
) -> Iterator[None]:
    """Lock the file beside a SQLite database, waiting at most `timeout` seconds (no lock
    for an in-memory database, or where the operating system has no flock). The holder
    writes its process id and host into the file, for the runs that wait to name it."""
    if not path or path == ":memory:" or fcntl is None:
        yield
        return
    lock_path = f"{path}.migration-lock"
    try:
        lock_file = open(lock_path, "a+")  # noqa: SIM115 (closed below)
    except OSError as error:
        if error.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        # A folder this run cannot write in: neither can it write the database (SQLite
        # writes its journal there), so nothing needs the lock. Reads go on; a write fails
        # on its own, and the error path says what needs write access (environment.py).
        yield
        return
    with lock_file:

        def take(seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            while True:  # another run holds it: try again, until the deadline
                try:
                    fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(SQLITE_POLL)

        def holder() -> str:
            lock_file.seek(0)
            who = lock_file.read().strip()
            return f"{who or 'another run'} (the lock file {lock_path})"

        wait_for(take, holder, name, timeout, announce_every)
        write_holder(lock_file)
        try:
            yield
        finally:
            lock_file.truncate(0)  # it names a holder only while one holds it
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def write_holder(lock_file: IO[str]) -> None:
    """Say in the lock file who holds it: this process, on this host."""
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(f"process {os.getpid()} on {socket.gethostname()}\n")
    lock_file.flush()
