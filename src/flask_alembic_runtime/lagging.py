"""Whether the project's environment lags its `pyproject.toml`, as a teammate's does after
pulling a change to the dependencies (a newer range, the library's pin moved by `copier
update`): `migrate` then names the packages and the one command that syncs them.

Only the forms the template writes are read (`name>=X,<Y`, `name==X`, and `name @
git+URL@COMMIT`, whose installed commit PEP 610's direct_url.json records); anything else
is left alone rather than guessed at.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

#: `name`, then its version bounds or its git pin.
REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(.*)")
BOUND = re.compile(r"(>=|<|==)\s*([0-9][0-9A-Za-z.]*)")
GIT_PIN = re.compile(r"@\s*git\+\S+@([0-9a-f]{40})")


def release(text: str) -> tuple[int, ...]:
    """A version's release numbers, e.g. (1, 20, 1) for "1.20.1"."""
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])


def lagging(requirement: str) -> str | None:
    """What is wrong with the installed package for `requirement`, or None: all is well, or
    the requirement is not one of the forms read here (or has an environment marker)."""
    found = REQUIREMENT.match(requirement)
    if found is None or ";" in requirement:
        return None
    name, rest = found[1], found[2]
    try:
        installed = distribution(name)
    except PackageNotFoundError:
        return f"{name} is not installed"
    if pin := GIT_PIN.search(rest):
        origin = json.loads(installed.read_text("direct_url.json") or "{}")
        commit = origin.get("vcs_info", {}).get("commit_id")
        if commit is not None and commit != pin[1]:  # a wheel or a folder: not known
            return f"{name} is installed from commit {commit[:12]}, not {pin[1][:12]}"
        return None
    version = installed.version
    for operator, bound in BOUND.findall(rest):
        have, want = release(version), release(bound)
        if {">=": have < want, "<": have >= want, "==": have != want}[operator]:
            return f"{name} {version} is installed, not {rest.strip()}"
    return None


def lagging_packages(root: Path) -> list[str]:
    """The project's runtime requirements (`[project] dependencies`) its environment lags."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return []
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    found = (lagging(requirement) for requirement in project.get("dependencies", []))
    return [problem for problem in found if problem is not None]


def sync_command(root: Path) -> str:
    """The one command that brings the environment in line with the project, in its own
    tool's words: uv or Poetry where their lock is, else pip, from pyproject.toml (with
    its dev extra where it has one) or requirements.txt."""
    if (root / "uv.lock").is_file():
        return "uv sync"
    if (root / "poetry.lock").is_file():
        return "poetry install"
    pyproject = root / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text()).get("project") if pyproject.is_file() else None
    if project is None and (root / "requirements.txt").is_file():
        return "pip install -r requirements.txt"
    extras = (project or {}).get("optional-dependencies", {})
    return "pip install -e '.[dev]'" if "dev" in extras else "pip install -e ."
