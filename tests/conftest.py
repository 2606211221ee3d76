"""Shared fixtures: a rendered and installed project (new, or one per answer set for the
whole session), a database of its own on a server, and pre-commit's cache. The helpers
they use are in helpers.py."""

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from helpers import SERVERS, Project, render


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """Render the template with these answers into a fresh folder, installed."""

    def make(name: str = "project", **answers: object) -> Project:
        return Project(render(tmp_path / name, **answers)).install()

    return make


def project_files(project: Path) -> dict[Path, bytes]:
    """The project's files, less its virtualenv and Python's caches."""
    return {
        path: path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and ".venv" not in path.parts and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="session")
def installed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., AbstractContextManager[Project]]:
    """One project per answer set, rendered and installed once for the session (per xdist
    worker) and lent to one module at a time: `with installed(**answers) as project:` in
    a module-scoped fixture. When the module is done, its files are put back as rendered
    (revisions, model edits and new files gone); databases are the borrower's own."""
    projects: dict[str, tuple[Project, dict[Path, bytes]]] = {}
    lent: set[str] = set()

    @contextmanager
    def borrow(**answers: object) -> Iterator[Project]:
        key = json.dumps(answers, sort_keys=True)
        if key not in projects:
            path = render(tmp_path_factory.mktemp("installed") / "project", **answers)
            projects[key] = Project(path).install(), project_files(path)
        assert key not in lent, f"the installed project {key} is lent to another module"
        shared, files = projects[key]
        lent.add(key)
        try:
            yield Project(shared.path)
        finally:
            for path in set(project_files(shared.path)) - set(files):
                path.unlink()
            for path, content in files.items():
                if not path.exists() or path.read_bytes() != content:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
            lent.discard(key)

    return borrow


@pytest.fixture
def server_database() -> Iterator[Callable[..., str]]:
    """Create a database of its own on a server ("postgresql" or "mysql"): its URL.
    With `exists=False`, only a name of its own, for the code under test to create.

    Each database is dropped afterwards. A server that is down fails the test on CI
    (CI=true) and skips it elsewhere.
    """
    created: list[tuple[Engine, str]] = []

    def create(kind: str, exists: bool = True) -> str:
        server = create_engine(SERVERS[kind], isolation_level="AUTOCOMMIT")
        name = f"fat_{uuid.uuid4().hex[:12]}"
        try:
            with server.connect() as connection:
                if exists:
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
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        server.dispose()


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME for the session: pre-commit builds each hook's environment once."""
    return tmp_path_factory.mktemp("pre-commit")
