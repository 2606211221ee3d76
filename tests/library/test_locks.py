"""locks.py: the migration lock, one run at a time per database: a file lock beside a
SQLite database, an advisory lock on PostgreSQL, GET_LOCK on MariaDB; a run that waits
longer than its timeout fails with one line."""

import fcntl
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.util import CommandError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from flask_alembic_runtime.locks import (
    MYSQL_NAME_LIMIT,
    end_transaction,
    lock_name,
    migration_lock,
    mysql_lock_name,
    sqlite_file_lock,
)

from .conftest import Project


def is_locked(path: Path) -> bool:
    """Whether another open file holds the lock on `path` (flock: per open file)."""
    with open(path, "a") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(other, fcntl.LOCK_UN)
        return False


@pytest.fixture
def connect() -> Iterator[Callable[[str], Connection]]:
    """Connections to a database URL, closed (and their engines disposed) afterwards."""
    opened: list[Connection] = []

    def open_connection(url: str) -> Connection:
        opened.append(create_engine(url).connect())
        return opened[-1]

    yield open_connection
    for connection in opened:
        connection.close()
        connection.engine.dispose()


def not_free_after(name: str, seconds: int) -> str:
    return (
        f"the migration lock {name} was not free after {seconds} s: another migration holds "
        "it; let it finish, then run this again"
    )


def test_a_binds_lock_adds_its_name() -> None:
    assert lock_name("shop.migrations", "default") == "shop.migrations"
    assert lock_name("shop.migrations", "analytics") == "shop.migrations.analytics"


def test_a_mysql_lock_name_fits_the_servers_limit() -> None:
    fits = "a" * MYSQL_NAME_LIMIT
    assert mysql_lock_name(fits) == fits
    long_one, long_two = "b" * 70 + ".one", "b" * 70 + ".two"
    shortened = mysql_lock_name(long_one)
    assert len(shortened) == MYSQL_NAME_LIMIT
    assert shortened.startswith("b" * 55 + ".")
    assert shortened == mysql_lock_name(long_one)
    assert shortened != mysql_lock_name(long_two)


def test_the_sqlite_lock_is_a_file_beside_the_database(tmp_path: Path) -> None:
    lock_file = tmp_path / "app.db.migration-lock"
    with sqlite_file_lock(str(tmp_path / "app.db"), "migrations", 60):
        assert is_locked(lock_file)
    assert not is_locked(lock_file)


@pytest.mark.parametrize("database", [None, "", ":memory:"])
def test_an_in_memory_sqlite_database_has_no_lock_file(
    database: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with sqlite_file_lock(database, "migrations", 60):
        assert list(tmp_path.iterdir()) == []


def test_a_sqlite_connection_takes_its_databases_file_lock(
    tmp_path: Path, connect: Callable[[str], Connection]
) -> None:
    connection = connect(f"sqlite:///{tmp_path / 'app.db'}")
    with migration_lock(connection, "migrations", "default", 60):
        assert is_locked(tmp_path / "app.db.migration-lock")
    assert not is_locked(tmp_path / "app.db.migration-lock")


def test_a_sqlite_lock_not_free_in_time_is_an_error(
    tmp_path: Path, connect: Callable[[str], Connection]
) -> None:
    """`-x lock_timeout=1` on SQLite: the run should give up after a second, as on the
    servers. (The holder lets go after 1.5 s, so that a run that waits on does not hang.)"""
    connection = connect(f"sqlite:///{tmp_path / 'app.db'}")
    outcome: list[object] = []

    def run() -> None:
        try:
            with migration_lock(connection, "migrations", "default", 1):
                outcome.append("taken")
        except CommandError as error:
            outcome.append(error)

    with open(tmp_path / "app.db.migration-lock", "a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        waiting = threading.Thread(target=run)
        waiting.start()
        waiting.join(timeout=1.5)
        fcntl.flock(holder, fcntl.LOCK_UN)
    waiting.join()
    assert [str(found) for found in outcome] == [not_free_after("migrations", 1)]


@pytest.mark.server
def test_postgresql_holds_an_advisory_lock_for_the_run(
    server_database: Callable[..., str], connect: Callable[[str], Connection]
) -> None:
    url = server_database("postgresql")
    connection, other = connect(url), connect(url)
    key = {"key": zlib.crc32(b"shop.migrations.analytics")}
    try_lock = text("SELECT pg_try_advisory_lock(:key)")
    with migration_lock(connection, "shop.migrations", "analytics", 60):
        assert other.execute(try_lock, key).scalar() is False
    assert other.execute(try_lock, key).scalar() is True


@pytest.mark.server
def test_postgresql_lock_timeout_zero_does_not_wait(
    server_database: Callable[..., str], connect: Callable[[str], Connection]
) -> None:
    """`-x lock_timeout=0` (accepted by the -x check): MariaDB's GET_LOCK(name, 0) fails
    at once; PostgreSQL should too. (A statement_timeout of 1 s ends the wait.)"""
    url = server_database("postgresql")
    holder, connection = connect(url), connect(url)
    holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": zlib.crc32(b"migrations")})
    end_transaction(holder)
    connection.execute(text("SET statement_timeout = '1s'"))
    end_transaction(connection)
    started = time.monotonic()
    with pytest.raises(CommandError), migration_lock(connection, "migrations", "default", 0):
        pass
    assert time.monotonic() - started < 0.5


@pytest.mark.server
def test_mariadb_holds_get_lock_for_the_run(
    server_database: Callable[..., str], connect: Callable[[str], Connection]
) -> None:
    url = server_database("mysql")
    connection, other = connect(url), connect(url)
    name = f"unit-{uuid.uuid4().hex}"  # GET_LOCK's names are server-wide
    is_free = text("SELECT IS_FREE_LOCK(:name)")
    with migration_lock(connection, name, "analytics", 60):
        assert other.execute(is_free, {"name": f"{name}.analytics"}).scalar() == 0
    assert other.execute(is_free, {"name": f"{name}.analytics"}).scalar() == 1


@pytest.mark.server
def test_mariadb_lock_not_free_in_time_is_an_error_naming_the_servers_lock(
    server_database: Callable[..., str], connect: Callable[[str], Connection]
) -> None:
    """A name longer than MariaDB allows is held under its shortened form."""
    url = server_database("mysql")
    holder, connection = connect(url), connect(url)
    base = f"{'long' * 15}.{uuid.uuid4().hex}"
    held = mysql_lock_name(base)
    assert holder.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": held}).scalar() == 1
    with pytest.raises(CommandError) as error, migration_lock(connection, base, "default", 1):
        pass
    assert str(error.value) == not_free_after(held, 1)


@pytest.mark.server
@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_x_lock_timeout_bounds_a_runs_wait(
    server_database: Callable[..., str], project: Project, kind: str
) -> None:
    """`migrate -x lock_timeout=1 upgrade` while another run holds the lock: one line, and
    nothing applied; `-x lock=off` runs all the same."""
    url = server_database(kind)
    project.make_app(default=url)
    project.write_revision("a1", None)
    base = f"unit-{uuid.uuid4().hex}"
    (project.migrations / "env.py").write_text(
        "from flask_alembic_runtime import run_migrations\n\n"
        f"run_migrations(lock_name={base!r}, lock_timeout=3600)\n"
    )
    holder = create_engine(url)
    with holder.connect() as connection:
        if kind == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": zlib.crc32(base.encode())}
            )
        else:
            connection.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": base})
        end_transaction(connection)
        assert project.failure("-x", "lock_timeout=1", "upgrade") == (
            f"FAILED: {not_free_after(base, 1)}"
        )
        assert "alembic_version" not in project.tables()
        project.migrate("-x", "lock=off", "upgrade")
    holder.dispose()
    assert project.versions_in() == ["a1"]
