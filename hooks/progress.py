"""Progress for the post-generation hooks: one line per step, with its duration.

A failed step prints its name, the command that reproduces it and the tail of its
output, then exits 1. The hooks import this module; it uses the standard library only.
"""

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TAIL_LINES = 20


def say(text: str) -> None:
    """Print one line at once (Copier shows the hooks' output as it comes)."""
    print(f"  {text}", flush=True)


@contextmanager
def step(title: str, reproduce: str, hint: str = "") -> Iterator[None]:
    """Time the enclosed work as one step; on an exception, report it and exit 1."""
    start = time.perf_counter()
    try:
        yield
    except Exception as error:  # noqa: BLE001 - any failure ends the step the same way
        fail(title, reproduce, f"{type(error).__name__}: {error}", hint)
    say(f"{title} ({time.perf_counter() - start:.2f} s)")


def run(
    title: str, command: Sequence[str | Path], cwd: Path, hint: str = "", starting: str = ""
) -> str:
    """Run one command as a step and return its standard output. A long one says what it
    is `starting` first, so that no one waits in silence."""
    argv = [str(part) for part in command]
    if starting:
        say(f"{starting} ...")
    with step(title, shlex.join(argv), hint):
        result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
        if result.returncode:
            fail(title, shlex.join(argv), result.stdout + result.stderr, hint)
    return result.stdout


def fail(title: str, reproduce: str, output: str, hint: str = "") -> None:
    """Report a failed step and exit 1. The hooks themselves never delete a file."""
    tail = "\n".join(f"    {line}" for line in output.strip().splitlines()[-TAIL_LINES:])
    print(f"  FAILED: {title}", file=sys.stderr)
    if hint:
        print(f"  {hint}", file=sys.stderr)
    print(f"  Reproduce with: {reproduce}\n{tail}", file=sys.stderr)
    if os.environ.get("COPIER_OPERATION") == "copy":
        # Copier deletes a project it has just created when a task fails, unless told not to.
        print(
            "  (Copier deletes a folder it has just created when a hook fails, unless given"
            " --no-cleanup; an existing folder stays.)",
            file=sys.stderr,
        )
    sys.stderr.flush()
    sys.exit(1)


def skipped(title: str, why: str) -> None:
    """Say that a step was skipped, and why."""
    say(f"{title}: skipped ({why})")
