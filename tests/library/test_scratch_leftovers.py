"""schema.py: a scratch database's name says who made it and when; the next run that makes
one (doctor, squash) drops those killed runs left on the server, saying which, and leaves
the others."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import uuid4

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from flask_alembic_runtime import doctor as doctor_module
from flask_alembic_runtime.leftovers import STALE_AFTER, machine, process_running
from flask_alembic_runtime.schema import SCRATCH_NAME, scratch_database

from .conftest import Project
from .test_history_swap import killed_after


def doctor_killed_on_its_scratch_database(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`migrate doctor` in a child process, SIGKILLed once its scratch database is made,
    as it replays the history there."""

    def killed_replaying(kill: Callable[[str], None]) -> None:
        @contextmanager
        def scratch_then_killed(beside: Engine, say: Callable[[str], None]) -> Iterator[Engine]:
            with scratch_database(beside, say) as scratch:
                kill("scratch database made")
                yield scratch

        monkeypatch.setattr(doctor_module, "scratch_database", scratch_then_killed)
        project.migrate("doctor")

    killed_after("scratch database made", killed_replaying)


def scratch_names(server: Engine) -> set[str]:
    """The scratch databases on a server, in the names this library gives them."""
    postgresql = server.dialect.name == "postgresql"
    listed = "SELECT datname FROM pg_database" if postgresql else "SHOW DATABASES"
    with server.connect() as connection:
        names = connection.exec_driver_sql(listed).scalars().all()
    return {name for name in names if SCRATCH_NAME.fullmatch(name)}


@pytest.fixture
def on_a_server(
    server_database: Callable[..., str],
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Engine]:
    """The project upgraded on a database of its own on the server; the server's engine."""
    monkeypatch.chdir(project.root)
    url = server_database(request.param)
    project.make_app(default=url)
    project.write_revision("r1", None, 'op.create_table("things", sa.Column("id", sa.Integer))')
    project.migrate("upgrade")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.mark.server
@pytest.mark.parametrize("on_a_server", ["postgresql", "mysql"], indirect=True)
def test_the_scratch_database_of_a_killed_doctor_is_dropped_by_the_next_one(
    on_a_server: Engine,
    project: Project,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = scratch_names(on_a_server)

    doctor_killed_on_its_scratch_database(project, monkeypatch)
    # Another run of this machine may be making one now: that one's process runs.
    [left] = [
        name
        for name in scratch_names(on_a_server) - before
        if not process_running(int(name.split("_")[2]), time.time())
    ]
    capsys.readouterr()
    project.migrate("doctor")
    dropped = capsys.readouterr().out.splitlines()[0]
    assert (
        dropped.startswith("dropped ") and " scratch database(s) left by killed runs: " in dropped
    )
    assert left in dropped.split(": ")[1].split(", ")
    assert left not in scratch_names(on_a_server)


@pytest.mark.server
@pytest.mark.parametrize("on_a_server", ["postgresql"], indirect=True)
def test_a_scratch_database_made_elsewhere_is_dropped_after_an_hour(
    on_a_server: Engine, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another machine's process cannot be asked: its age decides."""
    elsewhere = "0000" if machine() != "0000" else "ffff"
    now = int(time.time())
    old = f"scratch_{elsewhere}_1_{now - 2 * STALE_AFTER}_{uuid4().hex[:6]}"
    young = f"scratch_{elsewhere}_1_{now}_{uuid4().hex[:6]}"
    running = f"scratch_{machine()}_1_{now - 2 * STALE_AFTER}_{uuid4().hex[:6]}"  # pid 1 runs
    try:
        with on_a_server.connect() as connection:
            for name in (old, young, running):
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
        capsys.readouterr()
        project.migrate("doctor")
        assert old in capsys.readouterr().out.splitlines()[0]
        assert {young, running} <= scratch_names(on_a_server)
        assert old not in scratch_names(on_a_server)
    finally:
        with on_a_server.connect() as connection:
            for name in (old, young, running):
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
