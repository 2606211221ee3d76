"""Migration: at the end of `copier update`, keep the project's virtualenv in step with
its dependencies, then name the files the update left conflicts in and the project's own
quick checks that fail (compile, `ruff check`, `migrate heads`): exit 1 when any does.

Copier runs it in the "after" stage, from the project root; an adopted project's
environment is its own (`--venv=leave`). Run by hand from there:
    python path/to/hooks/after_update.py
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from progress import run, say
from setup_env import INSTALLING, OFFLINE_HINT, install_command, venv_python

# Prints the project's requirements that its virtualenv lacks, one per line: not installed,
# or installed from another commit than a `name @ git+URL@COMMIT` line pins (PEP 610's
# direct_url.json records the commit), as when an update moves flask-alembic-runtime's pin.
MISSING = """\
import json, re, sys
from importlib.metadata import PackageNotFoundError, distribution
for requirement in sys.argv[1:]:
    try:
        found = distribution(re.match(r"[A-Za-z0-9_.-]+", requirement).group())
    except PackageNotFoundError:
        print(requirement)
        continue
    pinned = re.search(r"@ *git\\+\\S+@([0-9a-f]{40})", requirement)
    origin = json.loads(found.read_text("direct_url.json") or "{}")
    if pinned and origin.get("vcs_info", {}).get("commit_id") != pinned[1]:
        print(requirement)
"""


def missing_requirements(project: Path) -> list[str]:
    """What pyproject.toml requires (dev extra included) and `.venv` does not have."""
    metadata = tomllib.loads((project / "pyproject.toml").read_text()).get("project", {})
    wanted = metadata.get("dependencies", [])
    wanted += metadata.get("optional-dependencies", {}).get("dev", [])
    check = [venv_python(project), "-c", MISSING, *wanted]
    return subprocess.run(check, capture_output=True, text=True, check=True).stdout.splitlines()


def conflicted_files(project: Path) -> list[str]:
    """Files with the conflict markers an update leaves, or its .rej files."""
    found = set()
    for search in (
        ["git", "grep", "-l", "-E", "^(<<<<<<<|>>>>>>>) "],  # tracked files, as they are now
        ["git", "ls-files", "--others", "--exclude-standard", "--", "*.rej"],
    ):
        result = subprocess.run(search, cwd=project, capture_output=True, text=True, check=False)
        found.update(result.stdout.splitlines())
    return sorted(found)


def failed_checks(project: Path) -> list[str]:
    """The project's quick checks that fail after the update, each with its first line."""
    python = str(venv_python(project))
    checks = {
        "python -m compileall": [python, "-m", "compileall", "-q", "-x", r"/\.", "."],
        "ruff check": [python, "-m", "ruff", "check", "--quiet", "--output-format=concise", "."],
        "python manage.py migrate heads": [python, "manage.py", "migrate", "heads"],
    }
    failed = []
    with tempfile.TemporaryDirectory(prefix="after-update-") as cache:
        # Bytecode goes to a folder of its own: the checks leave the project as it was.
        environment = {**os.environ, "PYTHONPYCACHEPREFIX": cache}
        for name, command in checks.items():
            result = subprocess.run(
                command, cwd=project, env=environment, capture_output=True, text=True, check=False
            )
            if result.returncode:
                failed.append(f"`{name}` ({first_problem(result.stderr or result.stdout)})")
    return failed


def first_problem(output: str) -> str:
    """The line of a check's output that says what is wrong: the first that names a file
    and line (ruff's), else the last (compileall's error, migrate's FAILED line)."""
    lines = [line.strip() for line in output.strip().splitlines()]
    located = [line for line in lines if re.match(r"\S+\.py:\d+:", line)]
    return (located or lines or ["no output"])[0 if located else -1]


def fix_for(check: str, project: Path) -> str:
    """What to do about a failed check: code of the team's in manage.py (which the template
    owns, so updates change it) belongs in the app package's commands.py."""
    commands = sorted(project.glob("*/commands.py"))
    if "manage.py:" in check and commands:
        home = commands[0].relative_to(project)
        return f"move your own commands to {home} (updates leave it alone), then commit"
    return "fix it, then commit"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--venv", choices=["sync", "leave"], default="sync",
        help="leave: an adopted project's environment is its own",
    )  # fmt: skip
    options = parser.parse_args()
    project = Path.cwd()
    sync = options.venv == "sync" and (project / "pyproject.toml").exists()
    if sync and venv_python(project).exists():
        missing = missing_requirements(project)
        if missing:
            install = install_command(project)
            say(f".venv lacks {', '.join(missing)}: installing the project again")
            # On failure this names the command to run by hand.
            title = "Installed the project and its dev extra"
            run(title, install, project, OFFLINE_HINT, starting=INSTALLING)
    conflicts = conflicted_files(project)
    if conflicts:
        print(
            f"  FAILED: the update left conflicts in {', '.join(conflicts)}: edit each "
            "(between <<<<<<< and >>>>>>>), then `git add` them and commit",
            file=sys.stderr,
        )
        sys.exit(1)
    failed = failed_checks(project) if sync and venv_python(project).exists() else []
    for check in failed:
        print(f"  FAILED: after the update, {check}: {fix_for(check, project)}", file=sys.stderr)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
