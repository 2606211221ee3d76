"""Shared fixtures: render the template with the real Copier, install the result
into a real virtualenv with uv, and run the generated project's own commands."""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import copier
import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")
COPIER = Path(sys.executable).with_name("copier")

# Variables from the developer's shell that would change what a generated project does.
ISOLATED_VARIABLES = ("DATABASE_URL", "TEST_DATABASE_URL", "VIRTUAL_ENV", "ALEMBIC_CONFIG")


def render(destination: Path, skip_tasks: bool = True, **answers: object) -> Path:
    """Copy the template (its working tree, committed or not) to `destination`."""
    copier.run_copy(
        str(TEMPLATE),
        destination,
        data=answers,
        defaults=True,
        unsafe=True,
        vcs_ref="HEAD",
        quiet=True,
        skip_tasks=skip_tasks,
    )
    return destination


@dataclass
class Project:
    """A generated project with its own virtualenv in `.venv`."""

    path: Path

    @property
    def bin(self) -> Path:
        return self.path / ".venv" / "bin"

    def install(self) -> "Project":
        """Create `.venv` and install the project with its dev extra (uv's cache makes it quick)."""
        run([UV, "venv", "--quiet", "--python", sys.executable, ".venv"], self.path, {})
        run([UV, "pip", "install", "--quiet", "-e", ".[dev]"], self.path, {"VIRTUAL_ENV": ".venv"})
        return self

    def run(self, *args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a command of the project's virtualenv in its root; `ok` asserts the exit code."""
        variables = {"PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}", **env}
        result = run(args, self.path, variables, check=False)
        if ok is not None and (result.returncode == 0) != ok:
            raise AssertionError(
                f"`{' '.join(args)}` exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def migrate(self, *args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        """`python manage.py migrate ARGS`."""
        return self.run("python", "manage.py", "migrate", *args, ok=ok, **env)


def run(
    args: list[object] | tuple[object, ...], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command in `cwd`, with `env` over a copy of this environment minus ISOLATED_VARIABLES."""
    environment = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
    environment.update(env)
    return subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=environment, capture_output=True, text=True,
        check=check,
    )


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """Render the template with these answers into a fresh folder, installed."""

    def make(name: str = "project", **answers: object) -> Project:
        return Project(render(tmp_path / name, **answers)).install()

    return make
