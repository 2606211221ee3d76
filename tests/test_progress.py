"""hooks/progress.py: a long step shows its command's output as it comes."""

import io
import re
import sys
from pathlib import Path

import pytest

from helpers import TEMPLATE

sys.path.insert(0, str(TEMPLATE / "hooks"))
from progress import run, step

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
    assert shown.startswith("  Installing ...\n  Installed ...\r\033[K    Resolved 3 packages")
    assert "\r\033[K    + flask==3.1.3\r\033[K    Installed 3 packages\r\033[K" in shown
    assert re.search(r"\r\033\[K  Installed \(\d+\.\d\d s\)\n$", shown)


def test_at_a_terminal_a_step_shows_its_title_while_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    with step("upgrade head", "manage.py migrate upgrade"):
        assert terminal.getvalue() == "  upgrade head ..."
    assert re.fullmatch(r"  upgrade head \.\.\.\r\033\[K  upgrade head \(\d+\.\d\d s\)\n",
                        terminal.getvalue())  # fmt: skip


def test_at_a_terminal_a_failed_step_reports_on_a_line_of_its_own(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    with pytest.raises(SystemExit), step("upgrade head", "manage.py migrate upgrade"):
        raise RuntimeError("no such table")
    assert terminal.getvalue() == "  upgrade head ...\n"
    assert capsys.readouterr().err.startswith("  FAILED: upgrade head\n")


def test_ctrl_c_in_a_step_is_one_line_and_exit_130(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_, step("Installed", "uv sync"):
        raise KeyboardInterrupt
    assert exit_.value.code == 130
    assert capsys.readouterr().err == (
        "  FAILED: Installed: interrupted (Ctrl-C); run it again with: uv sync\n"
    )
