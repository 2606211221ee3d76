"""Hook: create `.venv` in the project and install the project with its dev extra.

Uses uv when it is on PATH (`uv sync`, which also writes uv.lock: a few seconds with a warm
cache, most of them resolving the lock), else venv and pip.
Run by hand from the project root: python path/to/hooks/setup_env.py
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from progress import run

OFFLINE_HINT = "Could not install the packages: is PyPI reachable?"


def python_in(venv: Path) -> Path:
    """The interpreter of the virtualenv in `venv`."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_python(project: Path) -> Path:
    """The interpreter of the project's `.venv`."""
    return python_in(project / ".venv")


def can_import(python: Path, module: str) -> bool:
    """Whether the interpreter `python` finds `module` (without importing it)."""
    probe = [
        python,
        "-c",
        f"import importlib.util as u, sys; sys.exit(not u.find_spec({module!r}))",
    ]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


# What the longest step says when it starts.
INSTALLING = "Installing the project and its dev extra into .venv (this takes a while)"


def install_command(project: Path) -> list[str | Path]:
    """The command that installs the project and its dev extra into `.venv`: with uv when
    it is on PATH, else pip; with the uv installed beside Copier when `.venv` has no pip."""
    uv = shutil.which("uv")
    beside_copier = Path(sys.executable).with_name("uv")
    # A virtualenv that uv made has no pip.
    if uv is None and beside_copier.exists() and not can_import(venv_python(project), "pip"):
        uv = str(beside_copier)
    if uv and (project / "uv.lock").exists():
        return [uv, "sync"]  # and updates uv.lock
    if uv:
        return [uv, "pip", "install", "--python", venv_python(project), "-e", ".[dev]"]
    return [venv_python(project), "-m", "pip", "install", "-e", ".[dev]"]


def require_pinned_commit(project: Path) -> None:
    """Stop with one line when flask-alembic-runtime is pinned to a commit its local template
    repository does not have: Copier copied uncommitted template changes from a commit of
    its own, made in a temporary clone that is gone once the copy ends."""
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    for requirement in dependencies.get("dependencies", []):
        pinned = re.search(r"@ *git\+file://localhost(/\S+)@([0-9a-f]{40})$", requirement)
        if pinned is None:
            continue
        repository, commit = pinned.groups()
        probe = ["git", "-C", repository, "cat-file", "-e", f"{commit}^{{commit}}"]
        if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            sys.exit(
                f"  FAILED: the template at {repository} has uncommitted changes, and the "
                "project's pin of flask-alembic-runtime names a commit only Copier's temporary "
                "copy had: commit them in the template, then copy again"
            )


def main() -> None:
    project = Path.cwd()
    require_pinned_commit(project)
    # The project's own .venv, whatever the shell says: UV_PROJECT_ENVIRONMENT may name
    # another project's (or a nox session's) virtualenv, which `uv sync` would fill.
    os.environ["UV_PROJECT_ENVIRONMENT"] = str(project / ".venv")
    uv = shutil.which("uv")
    if uv:
        # Not compiled to bytecode here (uv's --compile-bytecode): that is most of the
        # install's time, for 2,000 files of which a command imports a few hundred, which
        # Python compiles, once, as they are first imported.
        sync = [uv, "sync", "--python", sys.executable]
        label = "Installed the project and its dev extra into .venv (uv sync, wrote uv.lock)"
        run(label, sync, project, hint=OFFLINE_HINT, starting=INSTALLING)
        return
    run("Created .venv (venv)", [sys.executable, "-m", "venv", ".venv"], project)
    install = install_command(project)
    title = "Installed the project and its dev extra"
    run(title, install, project, hint=OFFLINE_HINT, starting=INSTALLING)


if __name__ == "__main__":
    main()
