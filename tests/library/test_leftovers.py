"""leftovers.py: a temporary folder's name says which machine and process made it; the
next run that makes one removes those of killed runs and leaves the others."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from flask_alembic_runtime.leftovers import (
    STALE_AFTER,
    TEMPORARY_FOLDER,
    machine,
    remove_leftover_folders,
    temporary_folder,
)

from .conftest import Project
from .test_scratch_leftovers import doctor_killed_on_its_scratch_database


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temp dir, for this test alone (other runs make folders in the real one)."""
    folder = tmp_path / "system-temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def ended_pid() -> int:
    """The pid of a process of this machine that has ended."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


def made(temp: Path, name: str, age: float = 0) -> Path:
    """A folder in `temp` named `name`, with a file inside, last changed `age` seconds ago."""
    folder = temp / name
    folder.mkdir()
    (folder / "scratch.db").write_bytes(b"")
    os.utime(folder, (time.time() - age, time.time() - age))
    return folder


def test_the_folders_of_ended_runs_are_removed_and_the_others_kept(temp: Path) -> None:
    here = machine()
    elsewhere = "0000" if here != "0000" else "ffff"
    ended = made(temp, f"flask-alembic-scratch-{here}-{ended_pid()}-abc123")
    running = made(temp, f"flask-alembic-compat-{here}-{os.getpid()}-def456")
    old_elsewhere = made(temp, f"flask-alembic-lint-{elsewhere}-1-x1", age=2 * STALE_AFTER)
    young_elsewhere = made(temp, f"flask-alembic-lint-{elsewhere}-1-x2")
    not_ours = made(temp, f"scratch-{ended_pid()}-abc")  # the name of another program
    assert sorted(remove_leftover_folders(temp)) == sorted([ended, old_elsewhere])
    assert not ended.exists() and not old_elsewhere.exists()
    assert running.exists() and young_elsewhere.exists() and not_ours.exists()


def test_a_temporary_folder_is_named_after_its_run_and_removed_after_it(temp: Path) -> None:
    with temporary_folder("scratch") as folder:
        assert folder.parent == temp and folder.is_dir()
        found = TEMPORARY_FOLDER.fullmatch(folder.name)
        assert found is not None
        assert (found["kind"], found["machine"], found["pid"]) == (
            "scratch",
            machine(),
            str(os.getpid()),
        )
    assert list(temp.iterdir()) == []


def test_a_doctor_killed_midway_leaves_its_folder_and_the_next_run_removes_it(
    temp: Path, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL, as the out-of-memory killer or `docker kill` sends it: nothing of the run
    cleans up; its SQLite scratch database stays in the temp dir until the next run."""
    monkeypatch.chdir(project.root)
    project.make_app()
    project.write_revision("r1", None, 'op.create_table("things", sa.Column("id", sa.Integer))')
    project.migrate("upgrade")

    doctor_killed_on_its_scratch_database(project, monkeypatch)
    [left] = temp.iterdir()
    assert TEMPORARY_FOLDER.fullmatch(left.name) and left.is_dir()
    monkeypatch.undo()  # the real scratch database, the real temp dir: set it again
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(project.root)
    project.migrate("doctor")
    assert list(temp.iterdir()) == []
