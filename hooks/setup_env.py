"""Hook: create `.venv` in the project and install the project with its dev extra.

Uses uv when it is on PATH (about a second with a warm cache), else venv and pip.
Run by hand from the project root: python path/to/hooks/setup_env.py
"""

import os
import shutil
import sys
from pathlib import Path

from progress import run

OFFLINE_HINT = "Could not install the packages: is PyPI reachable?"


def main() -> None:
    project = Path.cwd()
    venv_python = project / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
    uv = shutil.which("uv")
    if uv:
        run(
            "Created .venv (uv)",
            [uv, "venv", "--quiet", "--python", sys.executable, ".venv"],
            project,
        )
        # Compiled now, so that no command pays for it later (pip compiles by default).
        install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", venv_python]
        install += ["-e", ".[dev]"]
    else:
        run("Created .venv (venv)", [sys.executable, "-m", "venv", ".venv"], project)
        install = [venv_python, "-m", "pip", "install", "--quiet", "-e", ".[dev]"]
    run("Installed the project and its dev extra", install, project, hint=OFFLINE_HINT)


if __name__ == "__main__":
    main()
