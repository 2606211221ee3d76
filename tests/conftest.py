"""Shared fixtures: a rendered and installed project, a database of its own on a server.
The helpers they use are in helpers.py."""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

from helpers import SERVERS, Project, render


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """Render the template with these answers into a fresh folder, installed."""

    def make(name: str = "project", **answers: object) -> Project:
        return Project(render(tmp_path / name, **answers)).install()

    return make


@pytest.fixture
def server_database() -> Iterator[Callable[[str], str]]:
    """Create a database of its own on a server ("postgresql" or "mysql"): its URL.

    Each database is dropped afterwards. A server that is down fails the test on CI
    (CI=true) and skips it elsewhere.
    """
    created: list[tuple[Engine, str]] = []

    def create(kind: str) -> str:
        server = create_engine(SERVERS[kind], isolation_level="AUTOCOMMIT")
        name = f"fat_{uuid.uuid4().hex[:12]}"
        try:
            with server.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
        except OperationalError as error:
            message = f"the {kind} server at {server.url} is down: {error}".splitlines()[0]
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        created.append((server, name))
        return server.url.set(database=name).render_as_string(hide_password=False)

    yield create
    for server, name in created:
        # FORCE: a process the test left behind must not keep the database alive.
        force = " WITH (FORCE)" if server.dialect.name == "postgresql" else ""
        with server.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name}{force}")
        server.dispose()
