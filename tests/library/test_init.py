"""__init__.py: the package's version, and `run_migrations`, imported only when env.py
first asks for it, so that importing the package costs nothing."""

import subprocess
import sys
from importlib.metadata import version

import pytest

import flask_alembic_runtime
from flask_alembic_runtime.environment import run_migrations


def test_the_version_is_the_installed_distributions() -> None:
    assert flask_alembic_runtime.__version__ == version("flask-alembic-runtime")


def test_run_migrations_is_the_environments() -> None:
    assert flask_alembic_runtime.run_migrations is run_migrations
    assert "run_migrations" in flask_alembic_runtime.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'flask_alembic_runtime' has no attribute"):
        flask_alembic_runtime.run_everything  # noqa: B018


def test_importing_the_package_loads_neither_flask_nor_sqlalchemy() -> None:
    program = (
        "import sys, flask_alembic_runtime\n"
        "heavy = {'flask', 'sqlalchemy', 'flask_alembic_runtime.environment'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert loaded == "[]\n"
