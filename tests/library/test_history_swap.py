"""history_swap.py: revision files change in one swap; a process SIGKILLed after any step
leaves a folder that holds a whole history, and the next run completes or undoes the swap,
saying which; leftovers of killed runs are removed."""

import os
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from flask_alembic_runtime.history_swap import recover, swap_history
from flask_alembic_runtime.leftovers import STALE_AFTER

from .conftest import REVISION, Project

# A squash of t1...t4 into a baseline with t4's id; t5 stays.
BASELINE = REVISION.format(
    message="Baseline",
    revision="t4",
    revises="",
    down_revision=None,
    branch_labels=None,
    depends_on=None,
    functions="\n\ndef upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n",
)
OLD = ["t1_t1.py", "t2_t2.py", "t3_t3.py", "t4_t4.py", "t5_t5.py"]
NEW = ["t4_baseline.py", "t5_t5.py"]
WHAT = "migrations/versions/t4_baseline.py in place of 4 revision files"

# The steps of a swap, in order; after the first exchange the folder holds the new history.
BEFORE_EXCHANGE = ["folder made", "journal written", "copy 0 made", "copies ready"]
AFTER_EXCHANGE = ["folder 0 exchanged", "done"]


def undone(what: str = WHAT, kind: str = "squash") -> str:
    """The line of a swap undone."""
    return f"undid an interrupted {kind} ({what}): it had changed no file; the history is as before"


def completed(what: str = WHAT, kind: str = "squash") -> str:
    """The line of a swap completed."""
    return f"completed an interrupted {kind} ({what}): every new file is in place"


@pytest.fixture
def history(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project with five revisions in a line, worked on from its folder."""
    monkeypatch.chdir(project.root)
    for number in range(1, 6):
        project.write_revision(f"t{number}", f"t{number - 1}" if number > 1 else None)
    return project


def squash_changes(project: Project) -> dict[Path, bytes | None]:
    changes: dict[Path, bytes | None] = {
        project.versions / name: None for name in OLD if name != "t5_t5.py"
    }
    changes[project.versions / "t4_baseline.py"] = BASELINE.encode()
    return changes


def swap(project: Project, step: Callable[[str], None]) -> None:
    swap_history(project.migrations, "squash", squash_changes(project), WHAT, step)


def killed_after(name: str, run: Callable[[Callable[[str], None]], None]) -> None:
    """Run `run` in a child process that SIGKILLs itself after the step `name`."""

    def kill_at(step: str) -> None:
        if step == name:
            os.kill(os.getpid(), signal.SIGKILL)

    child = os.fork()
    if child == 0:  # the child: never back into pytest
        try:
            run(kill_at)
        finally:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


def whole(project: Project, *folders: Path) -> tuple[list[str], list[str]]:
    """The revision files, after Alembic read them as one history: its heads."""
    locations = [str(folder) for folder in folders or [project.versions]]
    script = ScriptDirectory(str(project.migrations), version_locations=locations)
    revisions = list(script.walk_revisions())  # fails on a missing parent
    assert revisions[-1].down_revision is None
    names = sorted(
        path.name for folder in folders or [project.versions] for path in folder.glob("*.py")
    )
    return names, list(script.get_heads())


def leftovers(project: Project) -> list[str]:
    return sorted(path.name for path in project.migrations.glob(".migrate-*"))


@pytest.mark.parametrize("step", BEFORE_EXCHANGE + AFTER_EXCHANGE)
def test_a_swap_killed_after_any_step_leaves_a_whole_history_the_next_run_finishes(
    history: Project, step: str
) -> None:
    killed_after(step, lambda kill: swap(history, kill))
    expected = (OLD if step in BEFORE_EXCHANGE else NEW, ["t5"])
    assert whole(history) == expected

    said: list[str] = []
    recover(history.migrations, said.append)
    assert whole(history) == expected
    assert leftovers(history) == []
    if step == "folder made":  # the journal was not written: nothing to undo
        [line] = said
        stopped = (
            r"removed migrations/\.migrate-swap-squash-(\d+), left by a squash that was stopped"
        )
        assert re.fullmatch(stopped + r" \(process \1\)", line), line
    elif step in BEFORE_EXCHANGE:
        assert said == [undone()]
    elif step != "done":
        assert said == [completed()]
    else:
        assert said == []


def test_a_failed_step_is_undone_at_once_with_one_line(history: Project) -> None:
    def fail(step: str) -> None:
        if step == "copy 0 made":
            raise PermissionError(13, "Permission denied", "migrations/versions/t4_baseline.py")

    with pytest.raises(CommandError) as error:
        swap(history, fail)
    assert str(error.value) == (
        "squash stopped ([Errno 13] Permission denied: 'migrations/versions/t4_baseline.py'): "
        + undone()
    )
    assert whole(history) == (OLD, ["t5"])
    assert leftovers(history) == []


def test_ctrl_c_after_the_exchange_completes_the_swap(history: Project) -> None:
    def interrupt(step: str) -> None:
        if step == "folder 0 exchanged":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        swap(history, interrupt)
    assert whole(history) == (NEW, ["t5"])
    assert leftovers(history) == []


def test_a_rewritten_file_is_swapped_whole(history: Project) -> None:
    """Rebase's case: one file gets new content at the same path."""
    path = history.versions / "t5_t5.py"
    new = path.read_bytes().replace(b"down_revision = 't4'", b'down_revision = "t3"')

    def rebase(step: Callable[[str], None]) -> None:
        swap_history(history.migrations, "rebase", {path: new}, "t5 revises t3", step)

    killed_after("copy 0 made", rebase)
    assert whole(history) == (OLD, ["t5"])  # the old content, one head
    said: list[str] = []
    recover(history.migrations, said.append)
    assert said == [undone("t5 revises t3", "rebase")]
    killed_after("folder 0 exchanged", rebase)
    assert whole(history) == (OLD, ["t4", "t5"])  # the new content: t4 became a head
    recover(history.migrations, said.append)
    assert said[1] == completed("t5 revises t3", "rebase")
    assert path.read_bytes() == new


def test_two_folders_one_exchanged_are_completed(history: Project) -> None:
    """A history in two folders (version_locations): the kill fell between the exchanges."""
    other = history.migrations / "other"
    other.mkdir()
    (history.versions / "t5_t5.py").rename(other / "t5_t5.py")
    changes = squash_changes(history)
    changes[other / "t5_t5.py"] = (other / "t5_t5.py").read_bytes() + b"\n# kept\n"
    killed_after(
        "folder 0 exchanged",
        lambda kill: swap_history(history.migrations, "squash", changes, WHAT, kill),
    )
    said: list[str] = []
    recover(history.migrations, said.append)
    assert said == [completed()]
    assert whole(history, history.versions, other) == (NEW, ["t5"])
    assert (other / "t5_t5.py").read_bytes().endswith(b"# kept\n")


def test_a_folder_moved_aside_without_its_copy_moved_in_is_completed(history: Project) -> None:
    """Where the system has no atomic exchange, a kill can fall between its renames: the
    folder is missing, its new copy whole in the swap folder."""
    killed_after("copies ready", lambda kill: swap(history, kill))
    [swap_folder] = history.migrations.glob(".migrate-swap-squash-*")
    history.versions.rename(swap_folder / "0-old")  # the first rename of the fallback
    said: list[str] = []
    recover(history.migrations, said.append)
    assert said == [completed()]
    assert whole(history) == (NEW, ["t5"])


def test_the_folders_of_running_processes_are_left_alone(history: Project) -> None:
    running = subprocess.Popen(["sleep", "60"])
    try:
        busy = history.migrations / f".migrate-work-squash-{running.pid}-abc"
        busy.mkdir()
        said: list[str] = []
        recover(history.migrations, said.append)
        assert said == [
            f"migrations/{busy.name}: a squash is running (process {running.pid}); left alone"
        ]
    finally:
        running.kill()
        running.wait()
    said.clear()
    recover(history.migrations, said.append)
    assert said == [
        f"removed migrations/{busy.name}, left by a squash that was stopped (process {running.pid})"
    ]
    assert leftovers(history) == []


def test_an_old_squash_folder_is_removed_after_an_hour(history: Project) -> None:
    """Squash's work folder before it carried its pid: its process cannot be asked."""
    young, old = history.migrations / ".squash-young", history.migrations / ".squash-old"
    for folder in (young, old):
        folder.mkdir()
    hours_ago = os.stat(old).st_mtime - 2 * STALE_AFTER
    os.utime(old, (hours_ago, hours_ago))
    said: list[str] = []
    recover(history.migrations, said.append)
    assert said == ["removed migrations/.squash-old, the work folder of a squash that was stopped"]
    assert young.exists() and not old.exists()
