"""The generated env.py runs under pytest-alembic, on the connection pytest-alembic hands it."""

from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import UV, Project, tables


@pytest.mark.parametrize("binds", [[], ["analytics"]], ids=["one database", "with a bind"])
def test_pytest_alembic_runs_on_its_own_connection(
    make_project: Callable[..., Project], tmp_path: Path, binds: list[str]
) -> None:
    project = make_project(binds=binds)
    app_database = tmp_path / "app.db"
    project.env["TEST_DATABASE_URL"] = f"sqlite:///{app_database}"
    project.migrate("revision", "--autogenerate", "-m", "create users and posts",
                    DATABASE_URL=f"sqlite:///{tmp_path / 'scratch.db'}")  # fmt: skip
    # pytest-alembic 0.13.1 does not collect under pytest 9.2.
    project.run(UV, "pip", "install", "--quiet", "pytest-alembic==0.13.1", "pytest<9.2",
                VIRTUAL_ENV=str(project.path / ".venv"))  # fmt: skip

    result = project.run(
        "pytest", "-v", "-p", "no:cacheprovider", "--test-alembic", "-k", "alembic"
    )
    for test in ("test_single_head_revision", "test_upgrade", "test_model_definitions_match_ddl",
                 "test_up_down_consistency"):  # fmt: skip
        assert f"::pytest-alembic::{test} PASSED" in result.stdout
    assert "4 passed" in result.stdout
    # The app's own database was never touched: env.py used pytest-alembic's engine.
    assert tables(f"sqlite:///{app_database}") == set()
