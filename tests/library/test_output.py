"""output.py: a message is wrapped to 100 columns on a terminal, one line elsewhere; a
path is shown from the current folder."""

import io
from pathlib import Path

import pytest

from flask_alembic_runtime.output import WIDTH, fail, shown, wrapped

LONG = (
    "cannot write /srv/app/migrations/versions/a1_new.py (Read-only file system): this "
    "command writes there, so it needs write access to that folder"
)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_pipe_or_a_log_gets_the_message_on_one_line() -> None:
    assert wrapped(LONG, io.StringIO()) == LONG


def test_a_terminal_gets_it_in_lines_of_at_most_100_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # wider terminals too: 100 reads best
    lines = wrapped(LONG, Terminal()).splitlines()
    assert lines == [
        (
            "cannot write /srv/app/migrations/versions/a1_new.py (Read-only file system): this "
            "command writes"
        ),
        "  there, so it needs write access to that folder",
    ]
    assert max(map(len, lines)) <= WIDTH


def test_a_narrow_terminal_wraps_narrower_and_keeps_each_path_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    lines = wrapped(LONG, Terminal()).splitlines()
    assert "  /srv/app/migrations/versions/a1_new.py" in lines  # longer than 30, not cut
    assert " ".join(line.strip() for line in lines) == LONG


def test_fail_exits_1_with_the_line_or_prints_it_for_another_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        fail("the cause: the fix")
    assert exit_.value.code == "FAILED: the cause: the fix"
    with pytest.raises(SystemExit) as exit_:
        fail("half-applied: repair it", 3)
    assert exit_.value.code == 3
    assert capsys.readouterr().err == "FAILED: half-applied: repair it\n"


def test_a_path_is_shown_from_the_current_folder_where_it_lies_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "inside").mkdir()
    monkeypatch.chdir(tmp_path / "inside")
    assert shown(tmp_path / "inside" / "migrations" / "env.py") == Path("migrations/env.py")
    assert shown("env.py") == Path("env.py")
    assert shown(tmp_path / "outside.py") == tmp_path / "outside.py"
