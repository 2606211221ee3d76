"""What a killed run leaves behind, and how the next run knows it: each thing a run makes
for a while (a scratch database, a temporary folder, a folder in the migrations folder)
carries the pid of its process, and, where other machines may see it, the machine's. A
thing whose process no longer runs is a leftover; the next run that makes one removes it.

The temporary folders in the system's temp dir (`temporary_folder`) are named
`flask-alembic-<kind>-<machine>-<pid>-<random>`: a SQLite scratch database (doctor,
squash), the copy of the release running (`lint --compat`), the SQL read by squawk (`lint`).
"""

import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: How old a leftover must be to be removed when its process cannot be asked (another
#: machine's, or on Windows).
STALE_AFTER = 3600

#: The name of a temporary folder (see `temporary_folder`).
TEMPORARY_FOLDER = re.compile(
    r"flask-alembic-(?P<kind>[a-z]+)-(?P<machine>[0-9a-f]{4})-(?P<pid>\d+)-\w+"
)


def process_running(pid: int, since: float) -> bool:
    """Whether the process `pid` of this machine still runs; where that cannot be asked
    (Windows), whether what it made `since` (a time) is younger than an hour."""
    if os.name != "posix":
        return time.time() - since < STALE_AFTER
    try:
        os.kill(pid, 0)  # signal 0: asks, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def machine() -> str:
    """This machine (or container) and its processes' namespace, where a pid means the
    same process, in four characters: a hash of its host name and its pid namespace."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # Linux: e.g. pid:[4026531836]
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()} {namespace}".encode()).hexdigest()[:4]


def run_over(made_on: str, pid: int, made_at: float) -> bool:
    """Whether the run that made something is over: the process `pid` of this machine
    (`made_on` is `machine()`) no longer runs, or, made elsewhere, it is older than an hour."""
    if made_on == machine():
        return not process_running(pid, made_at)
    return time.time() - made_at > STALE_AFTER


@contextmanager
def temporary_folder(kind: str) -> Iterator[Path]:
    """A new folder in the system's temp dir, removed afterwards, named after `kind` (a
    word), this machine and this process; first, the temporary folders of runs that were
    killed are removed (`remove_leftover_folders`)."""
    temp = Path(tempfile.gettempdir())
    remove_leftover_folders(temp)
    prefix = f"flask-alembic-{kind}-{machine()}-{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=temp) as folder:
        yield Path(folder)


def remove_leftover_folders(temp: Path) -> list[Path]:
    """Remove the temporary folders in `temp` whose run is over (`run_over`); those
    removed. Another user's, which may not be removed, stay."""
    removed = []
    for folder in temp.iterdir():
        found = TEMPORARY_FOLDER.fullmatch(folder.name)
        if found is None or not folder.is_dir() or folder.is_symlink():
            continue
        try:
            made_at = folder.stat().st_mtime
        except FileNotFoundError:  # another run removed it meanwhile
            continue
        if run_over(found["machine"], int(found["pid"]), made_at):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed
