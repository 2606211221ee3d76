"""hooks/progress.py: a long step shows its command's output as it comes."""

import io
import sys
from pathlib import Path

import pytest

from helpers import TEMPLATE

sys.path.insert(0, str(TEMPLATE / "hooks"))
from progress import run

# An installer's output: a line of progress, a line per package, a summary.
INSTALLER = "print('Resolved 3 packages'); print(' + flask==3.1.3'); print('Installed 3 packages')"


class Terminal(io.StringIO):
    """Standard output that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_in_a_log_each_line_shows_less_the_line_per_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = run("Installed", [sys.executable, "-c", INSTALLER], tmp_path, starting="Installing")
    assert output == "Resolved 3 packages\n + flask==3.1.3\nInstalled 3 packages\n"
    assert capsys.readouterr().out.splitlines()[:3] == [
        "  Installing ...",
        "    Resolved 3 packages",
        "    Installed 3 packages",
    ]


def test_at_a_terminal_each_line_replaces_the_last_and_is_cleared_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    run("Installed", [sys.executable, "-c", INSTALLER], tmp_path, starting="Installing")
    shown = terminal.getvalue()
    assert (
        "\r\033[K    + flask==3.1.3\r\033[K    Installed 3 packages\r\033[K  Installed (" in shown
    )
