"""How the library's messages reach a person: on a terminal, wrapped to at most 100
columns (continuation lines indented), so that the first line reads at a glance; to a
pipe or a log, on one line each, as log collectors count one event per line. Paths in
them are shown as the user knows them."""

import shutil
import sys
import textwrap
from pathlib import Path
from typing import NoReturn, TextIO

# The widest a message is shown on a terminal, however wide the terminal.
WIDTH = 100


def wrapped(text: str, stream: TextIO) -> str:
    """`text` as it is written to `stream`: wrapped on a terminal, else unchanged."""
    if not stream.isatty():
        return text
    width = min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns)
    # Words stay whole: a path or a URL longer than the width gets a line of its own.
    return textwrap.fill(
        text, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )


def warn(text: str) -> None:
    """Write one message to stderr at once (a warning, or a note while waiting)."""
    print(wrapped(text, sys.stderr), file=sys.stderr, flush=True)


def fail(line: str, status: int = 1) -> NoReturn:
    """Print `FAILED: line` (the cause and the fix) to stderr and exit with `status`."""
    text = wrapped(f"FAILED: {line}", sys.stderr)
    if status == 1:
        sys.exit(text)  # Python prints it and exits 1; a caller may read it from SystemExit
    print(text, file=sys.stderr)
    sys.exit(status)


def shown(path: Path | str) -> Path:
    """A path as the user knows it: from the current folder, where it lies below it."""
    path = Path(path).resolve()
    here = Path.cwd()
    return path.relative_to(here) if path.is_relative_to(here) else path
