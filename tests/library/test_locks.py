"""locks.py: the migration lock, one run at a time per database: a file lock beside a
SQLite database, an advisory lock on PostgreSQL, GET_LOCK on MariaDB; a run that waits
says so on stderr, naming the holder, and fails with one line after its timeout."""

import fcntl
import os
import re
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
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


def waiting_lines(
    capfd: pytest.CaptureFixture[str],
    lock: Callable[[], AbstractContextManager[None]],
    release_holder: Callable[[], None],
) -> list[str]:
    """What a run that waits for the lock writes on stderr: `lock()` is entered in a
    thread while another holds the lock, which `release_holder()` lets go once two
    waiting lines have appeared (or after a minute, so that nothing hangs)."""
    outcome: list[str] = []

    def run() -> None:
        with lock():
            outcome.append("taken")

    waiting = threading.Thread(target=run)
    waiting.start()
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while len(lines) < 2 and waiting.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
        lines += capfd.readouterr().err.splitlines()
    release_holder()
    waiting.join(timeout=60)
    assert outcome == ["taken"], "the waiting run took the lock once it was free"
    return lines + capfd.readouterr().err.splitlines()


def assert_waiting(lines: list[str], name: str, holder: str) -> None:
    """The waiting lines: at once, then again with the seconds waited so far, naming the
    holder (`holder`: a regular expression) and the timeout, 600 s in these tests."""
    first = f"waiting for the migration lock {re.escape(name)}, held by {holder}"
    assert re.fullmatch(rf"{first}\.\.\. \(gives up after 600 s\)", lines[0]), lines[0]
    again = rf"{first}\.\.\. \(\d+ s so far; gives up after 600 s\)"
    assert re.fullmatch(again, lines[1]), lines[1]


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


def test_a_sqlite_run_that_waits_names_the_process_holding_the_lock_file(
    tmp_path: Path, connect: Callable[[str], Connection], capfd: pytest.CaptureFixture[str]
) -> None:
    """At once, then every `announce_every` seconds: the holder's process and host, read
    from the lock file that it wrote when it took the lock."""
    database = tmp_path / "app.db"
    connection = connect(f"sqlite:///{database}")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with sqlite_file_lock(str(database), "migrations", 60):
            held.set()
            release.wait(timeout=60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(timeout=60)
    lines = waiting_lines(
        capfd, lambda: migration_lock(connection, "migrations", "default", 600, 0.1), release.set
    )
    holder.join()
    lock_file = f"{database}.migration-lock"
    assert_waiting(
        lines,
        "migrations",
        re.escape(f"process {os.getpid()} on {socket.gethostname()} (the lock file {lock_file})"),
    )


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
def test_a_postgresql_run_that_waits_names_the_backend_holding_the_lock(
    server_database: Callable[..., str],
    connect: Callable[[str], Connection],
    capfd: pytest.CaptureFixture[str],
) -> None:
    """pg_locks gives the holder's pid, pg_stat_activity its client and application."""
    url = server_database("postgresql")
    holder = create_engine(url, connect_args={"application_name": "replica-one"}).connect()
    pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
    holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": zlib.crc32(b"migrations")})
    end_transaction(holder)
    connection = connect(url)

    def release_holder() -> None:
        holder.close()
        holder.engine.dispose()

    lines = waiting_lines(
        capfd, lambda: migration_lock(connection, "migrations", "default", 600, 0.1), release_holder
    )
    held_by = re.escape(
        f"PostgreSQL backend pid {pid} (client 127.0.0.1, application replica-one, connected at "
    )
    assert_waiting(lines, "migrations", rf"{held_by}[-0-9: ]+ UTC\)")


@pytest.mark.server
def test_a_mariadb_run_that_waits_names_the_connection_holding_the_lock(
    server_database: Callable[..., str],
    connect: Callable[[str], Connection],
    capfd: pytest.CaptureFixture[str],
) -> None:
    """IS_USED_LOCK gives the holder's connection id, the process list its user and host."""
    url = server_database("mysql")
    holder, connection = connect(url), connect(url)
    name = f"unit-{uuid.uuid4().hex}"  # GET_LOCK's names are server-wide
    holder_id = holder.execute(text("SELECT CONNECTION_ID()")).scalar()
    assert holder.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": name}).scalar() == 1
    end_transaction(holder)

    def release_holder() -> None:
        holder.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        end_transaction(holder)

    lines = waiting_lines(
        capfd, lambda: migration_lock(connection, name, "default", 600, 0.1), release_holder
    )
    held_by = re.escape(f"connection {holder_id} (root@127.0.0.1:") + r"\d+, Sleep for \d+ s\)"
    assert_waiting(lines, name, held_by)


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
    server_database: Callable[..., str],
    project: Project,
    kind: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`migrate -x lock_timeout=1 upgrade` while another run holds the lock: it says it
    waits, then one line, and nothing applied; `-x lock=off` runs all the same."""
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
        capfd.readouterr()
        assert project.failure("-x", "lock_timeout=1", "upgrade") == (
            f"FAILED: {not_free_after(base, 1)}"
        )
        waiting = f"waiting for the migration lock {base}, held by "
        assert capfd.readouterr().err.startswith(waiting)
        assert "alembic_version" not in project.tables()
        project.migrate("-x", "lock=off", "upgrade")
    holder.dispose()
    assert project.versions_in() == ["a1"]
