"""output.py: a message is wrapped to 100 columns on a terminal, one line elsewhere."""

import io

import pytest

from flask_alembic_runtime.output import WIDTH, fail, shown

LONG = (
    "cannot write /srv/app/migrations/versions/a1_new.py (Read-only file system): this "
    "command writes there, so it needs write access to that folder"
)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_pipe_or_a_log_gets_the_message_on_one_line() -> None:
    assert shown(LONG, io.StringIO()) == LONG


def test_a_terminal_gets_it_in_lines_of_at_most_100_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # wider terminals too: 100 reads best
    lines = shown(LONG, Terminal()).splitlines()
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
    lines = shown(LONG, Terminal()).splitlines()
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
