"""Progress for the post-generation hooks: one line per step, with its duration.

A failed step prints its name, the command that reproduces it and the tail of its
output, then exits 1. The hooks import this module; it uses the standard library only.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TAIL_LINES = 20
# An installer's line for one package (uv's "+ flask==3.1.3", pip's "Collecting flask"):
# shown on a terminal as it passes, left out of a log.
PACKAGE_LINE = re.compile(r"^([-+~] |Collecting |Downloading |Using cached |Requirement already)")


def say(text: str) -> None:
    """Print one line at once (Copier shows the hooks' output as it comes)."""
    print(f"  {text}", flush=True)


@contextmanager
def step(title: str, reproduce: str, hint: str = "") -> Iterator[None]:
    """Time the enclosed work as one step: at a terminal, its title shows while it runs
    and its duration replaces the dots; in a log, one line when it ends. On an exception,
    report it and exit 1; on Ctrl-C, say so in one line and exit 130."""
    terminal = sys.stdout.isatty()
    if terminal:
        print(f"  {title} ...", end="", flush=True)
    start = time.perf_counter()
    try:
        yield
    except BaseException as error:
        if terminal:
            print(flush=True)  # the report starts on a line of its own
        if isinstance(error, KeyboardInterrupt):
            print(f"  FAILED: {title}: interrupted (Ctrl-C); run it again with: {reproduce}",
                  file=sys.stderr)  # fmt: skip
            sys.exit(130)
        if not isinstance(error, Exception):  # an exit: a failed command, reported already
            raise
        fail(title, reproduce, f"{type(error).__name__}: {error}", hint)
    if terminal:
        print("\r\033[K", end="")  # the dots give way to the duration
    say(f"{title} ({time.perf_counter() - start:.2f} s)")


def run(
    title: str, command: Sequence[str | Path], cwd: Path, hint: str = "", starting: str = ""
) -> str:
    """Run one command as a step and return its output. A long one says what it is
    `starting` first and shows the command's output as it comes (see `shown_live`), so
    that no one waits in silence."""
    argv = [str(part) for part in command]
    if starting:
        say(f"{starting} ...")
    with step(title, shlex.join(argv), hint):
        if starting:
            returncode, output = shown_live(argv, cwd)
        else:
            result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
            returncode, output = result.returncode, result.stdout + result.stderr
        if returncode:
            fail(title, shlex.join(argv), output, hint)
    return output


def shown_live(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run `argv`, showing each line of its output as it comes: on a terminal in one line
    that each next one replaces (cleared at the end), else each on a line of its own, less
    the installers' one line per package. Returns the exit status and the whole output."""
    terminal = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns - 5
    lines = []
    with subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            text = line.strip()
            if terminal:
                print(f"\r\033[K    {text[:width]}", end="", flush=True)
            elif text and not PACKAGE_LINE.match(text):
                say(f"  {text}")
    if terminal:
        print("\r\033[K", end="", flush=True)
    return process.returncode, "".join(lines)


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
