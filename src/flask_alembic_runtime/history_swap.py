"""Change revision files so that a kill at any moment loses none: `migrate squash` and
`migrate rebase` write through `swap_history`, and find what a killed run left with
`recover`.

How a swap goes, each step durable (flushed to disk) before the next:
1. a folder `.migrate-swap-<kind>-<pid>` is made in the migrations folder, with a journal
   (`journal.json`) saying what is replaced by what;
2. each folder of revisions that changes is copied into it: the unchanged files hard
   links, the new ones written; then a file says that every copy is whole;
3. each copy is exchanged with its folder in one rename (an atomic exchange on Linux and
   macOS), so that the folder holds the whole old history or the whole new one at every
   moment; the swap folder now holds the old files;
4. the journal is removed, then the swap folder with the old files.

A swap that fails (a file that cannot be written, Ctrl-C) is undone, or completed, at once.
One killed on the way leaves its folder: `recover`, which squash, rebase and doctor call
before they read the history, completes it when a folder was exchanged already (every new
file in place), or else undoes it (drops the copies: the history was never touched), and
says which in one line. It also removes the work folders of killed squashes
(`.migrate-work-squash-<pid>-...`). A folder whose process still runs is left alone.
"""

import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from .leftovers import STALE_AFTER, process_running
from .output import shown

#: The folders a run makes in the migrations folder: a swap (step 1 above), or a squash's
#: work; the pid of the process that made it, so that the next run knows a leftover.
LEFTOVER = re.compile(r"\.migrate-(?P<role>swap|work)-(?P<kind>[a-z]+)-(?P<pid>\d+)(?:-\w+)?")

# What squash called its work folder before it carried its pid: removed after an hour.
OLD_WORK_FOLDER = re.compile(r"\.squash-\w+")

JOURNAL = "journal.json"

# The file a swap writes once every copy is whole, before the first exchange.
READY = "ready"

# renameat2's and renamex_np's flag for an exchange of two paths.
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def no_step(name: str) -> None:
    """Called after each step of a swap; tests pass one that stops the process there."""


def work_folder(migrations: Path, kind: str) -> "TemporaryDirectory[str]":
    """A temporary folder in the migrations folder (the ruff hook formats files there with
    the project's settings), named so that `recover` removes it if its process is killed."""
    return TemporaryDirectory(prefix=f".migrate-work-{kind}-{os.getpid()}-", dir=migrations)


def swap_history(
    migrations: Path,
    kind: str,
    changes: dict[Path, bytes | None],
    what: str,
    step: Callable[[str], None] = no_step,
) -> None:
    """Give each file in `changes` its new content, or remove it (None), in one swap.

    `kind` names the command ("squash"), `what` says in a few words what the swap does, for
    the line `recover` prints, e.g. "migrations/versions/t4_baseline.py in place of 4
    revision files"; `step` is called after each step with its name.
    """
    migrations = migrations.absolute()  # Alembic's paths may be relative to this folder
    changes = {path.absolute(): content for path, content in changes.items()}
    roots = outermost({path.parent for path in changes})
    swap = migrations / f".migrate-swap-{kind}-{os.getpid()}"
    swap.mkdir()
    try:
        step("folder made")
        write_journal(swap, kind, what, migrations, roots, changes)
        step("journal written")
        for number, root in enumerate(roots):
            make_copy(root, swap / str(number), changes)
            step(f"copy {number} made")
        write_file(swap / READY, b"")  # every copy is whole: an exchange may begin
        sync(swap)
        step("copies ready")
        for number, root in enumerate(roots):
            exchange(root, swap / str(number))
            step(f"folder {number} exchanged")
        finish(swap)
    except BaseException as error:
        # A file that could not be written or moved, or Ctrl-C: undone (or completed) now.
        outcome = finish_interrupted(migrations, swap)
        if isinstance(error, Exception):
            raise CommandError(f"{kind} stopped ({error}): {outcome}") from error
        raise
    step("done")


def write_journal(
    swap: Path,
    kind: str,
    what: str,
    migrations: Path,
    roots: list[Path],
    changes: dict[Path, bytes | None],
) -> None:
    """Write what the swap replaces by what, whole or not at all (a rename puts it in
    place): the folders it exchanges, each new file's SHA-256, the files it removes; the
    paths from the migrations folder."""
    journal = {
        "kind": kind,
        "what": what,
        "folders": [relative(root, migrations) for root in roots],
        "new": {
            relative(path, migrations): hashlib.sha256(content).hexdigest()
            for path, content in changes.items()
            if content is not None
        },
        "removed": [
            relative(path, migrations) for path, content in changes.items() if content is None
        ],
    }
    written = swap / f"{JOURNAL}.tmp"
    write_file(written, json.dumps(journal, indent=2).encode())
    written.rename(swap / JOURNAL)
    sync(swap)


def make_copy(root: Path, copy: Path, changes: dict[Path, bytes | None]) -> None:
    """Copy a folder of revisions with the changes made: the unchanged files hard links,
    the new ones written; Python's bytecode left out (it could be reused for a new file
    of the old one's size and second). Flushed to disk."""
    shutil.copytree(root, copy, copy_function=link, ignore=shutil.ignore_patterns("__pycache__"))
    for path, content in changes.items():
        if path.is_relative_to(root):
            target = copy / path.relative_to(root)
            target.unlink(missing_ok=True)  # a link to the old file: never written through
            if content is not None:
                write_file(target, content)
    for folder in [copy, *(path for path in copy.rglob("*") if path.is_dir())]:
        sync(folder)


def recovered_script(config: Config) -> ScriptDirectory:
    """The project's history, read once `recover` has dealt with what killed runs left."""
    script = ScriptDirectory.from_config(config)  # reads no revision until asked
    recover(Path(script.dir), config.print_stdout)
    return script


def recover(migrations: Path, say: Callable[[str], None]) -> None:
    """Complete or undo each swap a killed run left, and remove the work folders of killed
    runs; one line for each. A folder whose process still runs is left alone."""
    for folder in sorted(migrations.iterdir()):
        found = LEFTOVER.fullmatch(folder.name)
        if not folder.is_dir():
            continue
        if found is None:
            if OLD_WORK_FOLDER.fullmatch(folder.name) and stale(folder):
                shutil.rmtree(folder)
                say(f"removed {shown(folder)}, the work folder of a squash that was stopped")
            continue
        kind, pid = found["kind"], int(found["pid"])
        if pid != os.getpid() and process_running(pid, folder.stat().st_mtime):
            say(f"{shown(folder)}: a {kind} is running (process {pid}); left alone")
        elif (folder / JOURNAL).exists():
            say(finish_interrupted(migrations, folder))
        else:
            # Made before its journal, or left after: the history is whole either way.
            shutil.rmtree(folder)
            say(f"removed {shown(folder)}, left by a {kind} that was stopped (process {pid})")


def finish_interrupted(migrations: Path, swap: Path) -> str:
    """Complete a swap whose first folder was exchanged already, else undo it; say which."""
    if not (swap / JOURNAL).exists():  # stopped before it was written: nothing changed
        shutil.rmtree(swap)
        return "it had changed no file; the history is as before"
    journal = json.loads((swap / JOURNAL).read_text(encoding="utf-8"))
    roots = [migrations / folder for folder in journal["folders"]]
    copies = [swap / str(number) for number in range(len(roots))]
    ready = (swap / READY).exists()
    for root, copy in zip(roots, copies, strict=True):
        if not root.exists():  # killed between the renames of `exchange`: the copy goes in
            (copy if ready else aside(copy)).rename(root)
    exchanged = [in_place(migrations, root, journal) for root in roots]
    what = f"{journal['kind']} ({journal['what']})"
    if ready and any(exchanged):
        # Every copy was whole before the first exchange: the others can follow.
        for root, copy, done in zip(roots, copies, exchanged, strict=True):
            if not done:
                exchange(root, copy)
        finish(swap)
        return f"completed an interrupted {what}: every new file is in place"
    finish(swap)
    return f"undid an interrupted {what}: it had changed no file; the history is as before"


def in_place(migrations: Path, root: Path, journal: dict[str, object]) -> bool:
    """Whether a folder holds its new files, each with its new content, and none removed."""
    new = journal["new"]
    removed = journal["removed"]
    assert isinstance(new, dict) and isinstance(removed, list)  # as swap_history wrote them
    for name, digest in new.items():
        path = migrations / name
        if path.is_relative_to(root) and digest_of(path) != digest:
            return False
    gone = [migrations / name for name in removed]
    return not any(path.exists() for path in gone if path.is_relative_to(root))


def digest_of(path: Path) -> str | None:
    """A file's SHA-256, as the journal keeps the new files'; None for no file."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def finish(swap: Path) -> None:
    """Remove a swap folder: its journal first, so that a kill halfway through leaves a
    folder `recover` simply removes."""
    (swap / JOURNAL).unlink(missing_ok=True)
    sync(swap)
    shutil.rmtree(swap)


def exchange(first: Path, second: Path) -> None:
    """Exchange two folders: in one step where the system can, else in three renames, of
    which a kill between the first two leaves `first` missing (`recover` moves the copy
    in)."""
    if not atomic_exchange(first, second):
        first.rename(aside(second))
        second.rename(first)
        aside(second).rename(second)
    sync(first.parent)
    sync(second.parent)


def aside(copy: Path) -> Path:
    """Where `exchange` without an atomic rename puts the folder `copy` replaces first."""
    return copy.with_name(f"{copy.name}-old")


def atomic_exchange(first: Path, second: Path) -> bool:
    """Exchange two paths in one rename (Linux's renameat2, macOS's renamex_np); False
    where the system or its file system has no such rename."""
    if sys.platform not in ("linux", "darwin"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    names = (os.fsencode(first), os.fsencode(second))
    if hasattr(libc, "renameat2"):
        failed = libc.renameat2(AT_FDCWD, names[0], AT_FDCWD, names[1], RENAME_EXCHANGE)
    elif hasattr(libc, "renamex_np"):
        failed = libc.renamex_np(*names, RENAME_EXCHANGE)
    else:
        return False
    number = ctypes.get_errno() if failed else 0
    if number in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False  # e.g. a file system that cannot exchange
    if number:
        raise OSError(number, os.strerror(number), str(first), None, str(second))
    return True


def stale(folder: Path) -> bool:
    return time.time() - folder.stat().st_mtime > STALE_AFTER


def outermost(folders: set[Path]) -> list[Path]:
    """The folders not inside another one of them, in order."""
    return sorted(
        folder
        for folder in folders
        if not any(folder != other and folder.is_relative_to(other) for other in folders)
    )


def relative(path: Path, start: Path) -> str:
    """`path` from `start`, as the journal keeps it (the project may move)."""
    return os.path.relpath(path, start)


def link(source: str, destination: str) -> None:
    """A hard link, or a copy where the file system has none."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def write_file(path: Path, content: bytes) -> None:
    """Write a file and flush it to disk."""
    with path.open("wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())


def sync(folder: Path) -> None:
    """Flush a folder's entries (its renames) to disk, where the system allows."""
    if os.name == "posix":
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
