"""Hook: create `.venv` in the project and install the project with its dev extra.

Uses uv when it is on PATH (`uv sync`, which also writes uv.lock: a few seconds with a warm
cache, most of them resolving the lock), else venv and pip.
Run by hand from the project root: python path/to/hooks/setup_env.py
"""

import os
import shutil
import sys
from pathlib import Path

from progress import run

OFFLINE_HINT = "Could not install the packages: is PyPI reachable?"


def python_in(venv: Path) -> Path:
    """The interpreter of the virtualenv in `venv`."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_python(project: Path) -> Path:
    """The interpreter of the project's `.venv`."""
    return python_in(project / ".venv")


def install_command(project: Path) -> list[str | Path]:
    """The command that installs the project and its dev extra into `.venv`."""
    uv = shutil.which("uv")
    if uv and (project / "uv.lock").exists():
        return [uv, "sync", "--quiet", "--compile-bytecode"]  # and updates uv.lock
    if uv:
        # Compiled now, so that no command pays for it later (pip compiles by default).
        return [uv, "pip", "install", "--quiet", "--compile-bytecode",
                "--python", venv_python(project), "-e", ".[dev]"]  # fmt: skip
    return [venv_python(project), "-m", "pip", "install", "--quiet", "-e", ".[dev]"]


def main() -> None:
    project = Path.cwd()
    uv = shutil.which("uv")
    if uv:
        # Compiled now, so that no command pays for it later (pip compiles by default).
        sync = [uv, "sync", "--quiet", "--compile-bytecode", "--python", sys.executable]
        label = "Installed the project and its dev extra into .venv (uv sync, wrote uv.lock)"
        run(label, sync, project, hint=OFFLINE_HINT)
        return
    run("Created .venv (venv)", [sys.executable, "-m", "venv", ".venv"], project)
    install = install_command(project)
    run("Installed the project and its dev extra", install, project, hint=OFFLINE_HINT)


if __name__ == "__main__":
    main()
