"""lagging.py: a teammate's environment that lags pyproject.toml is named, with the one
command that syncs it; forms it cannot read are left alone."""

from importlib.metadata import version
from pathlib import Path

import pytest

from flask_alembic_runtime.lagging import lagging, lagging_packages, release, sync_command

ALEMBIC = version("alembic")


@pytest.mark.parametrize(
    ("requirement", "problem"),
    [
        (f"alembic>={ALEMBIC},<99", None),
        (f"alembic=={ALEMBIC}", None),
        ("alembic>=99", f"alembic {ALEMBIC} is installed, not >=99"),
        ("alembic>=1.0,<1.1", f"alembic {ALEMBIC} is installed, not >=1.0,<1.1"),
        ("Alembic[tz] >= 99", f"Alembic {ALEMBIC} is installed, not >= 99"),
        ("no-such-package-here>=1", "no-such-package-here is not installed"),
        # Not read: an environment marker, a specifier the template never writes.
        ("alembic>=99; python_version < '3'", None),
        ("alembic~=99.0", None),
        # The library, installed from this folder (not from a git commit): not known.
        (f"flask-alembic-runtime @ git+https://example.invalid/x.git@{'0' * 40}", None),
    ],
)
def test_a_requirement_the_environment_does_not_meet_is_named(
    requirement: str, problem: str | None
) -> None:
    assert lagging(requirement) == problem


def test_the_projects_runtime_requirements_are_read(tmp_path: Path) -> None:
    assert lagging_packages(tmp_path) == []  # no pyproject.toml
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["alembic>=99", "flask>=1"]\n'
        '[project.optional-dependencies]\ndev = ["no-such-package-here"]\n'
    )
    assert lagging_packages(tmp_path) == [f"alembic {ALEMBIC} is installed, not >=99"]


# A pyproject.toml with a dev extra, as a generated project's.
DEV_EXTRA = "[project]\nname = 'x'\n[project.optional-dependencies]\ndev = ['pytest']\n"


@pytest.mark.parametrize(
    ("files", "command"),
    [
        ({"pyproject.toml": DEV_EXTRA}, "pip install -e '.[dev]'"),
        ({"pyproject.toml": "[project]\nname = 'x'\n"}, "pip install -e ."),
        ({"requirements.txt": "flask\n"}, "pip install -r requirements.txt"),
        (
            {"pyproject.toml": "[tool.ruff]\n", "requirements.txt": ""},
            "pip install -r requirements.txt",
        ),
        ({"pyproject.toml": DEV_EXTRA, "uv.lock": ""}, "uv sync"),
        ({"pyproject.toml": "[tool.poetry]\n", "poetry.lock": ""}, "poetry install"),
    ],
)
def test_the_sync_command_is_the_projects_own_tool(
    tmp_path: Path, files: dict[str, str], command: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert sync_command(tmp_path) == command


def test_release_numbers() -> None:
    assert release("1.20.1+local.7") == (1, 20, 1)
    assert release("3.1") < release("3.1.1") < release("3.10")
