"""Upgrades on SQLite: concurrent ones, as a dev server's workers or a test runner start
them, apply each revision once (the file lock beside the database, as on the servers);
a run is one transaction, so a failing one leaves the database as it was."""

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import (
    FAILS_MIDWAY,
    SLOW_ONCE,
    Project,
    scalar,
    tables,
    upgrade_at_once,
    with_revisions,
)

PROCESSES = 8
TRIALS = 10


def test_concurrent_upgrades_apply_each_revision_once(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project(example_model=False)
    with_revisions(project, ("slow_once", SLOW_ONCE.replace("time.sleep(2)", "time.sleep(0.5)")))
    for trial in range(TRIALS):
        database = tmp_path / f"trial{trial}.db"
        project.env["DATABASE_URL"] = url = f"sqlite:///{database}"
        results = upgrade_at_once(project, PROCESSES)
        failed = [result.stderr for result in results if result.returncode]
        assert not failed, f"trial {trial}: {len(failed)} of {PROCESSES} failed: {failed[0]}"
        assert scalar(url, "SELECT count(*) FROM runs") == 1
        assert scalar(url, "SELECT version_num FROM alembic_version") == "slow_once"
        ran = sum("Running upgrade  -> slow_once" in result.stderr for result in results)
        assert ran == 1, f"trial {trial}: the revision ran {ran} times"
        assert tables(url) == {"alembic_version", "runs"}
        assert Path(f"{database}.migration-lock").exists()


def test_without_the_lock_concurrent_upgrades_collide(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    """The control: what the lock prevents. Without it the runs trip over each other: over
    SQLite's own lock, held by one run's transaction ("database is locked"), or over the
    table another run created."""
    project = make_project(example_model=False)
    with_revisions(project, ("slow_once", SLOW_ONCE))
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    results = upgrade_at_once(project, PROCESSES, "-x", "lock=off")
    failed = [result.stderr for result in results if result.returncode]
    assert failed, "all runs succeeded without the lock"
    collisions = ("database is locked", "table runs already exists")
    assert all(any(collision in stderr for collision in collisions) for stderr in failed)


def test_a_failing_run_leaves_the_database_as_it_was(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project(example_model=False)
    quick = SLOW_ONCE.replace("time.sleep(2)", "pass")
    with_revisions(project, ("slow_once", quick), ("fails_midway", FAILS_MIDWAY))
    project.env["DATABASE_URL"] = url = f"sqlite:///{tmp_path / 'app.db'}"
    result = project.migrate("upgrade", ok=False)
    assert "no such table: no_such_table" in result.stderr
    assert tables(url) == set(), "nothing of the run, DDL included"
    fixed = FAILS_MIDWAY.replace('    op.execute("INSERT INTO no_such_table VALUES (1)")\n', "")
    with_revisions(project, ("fails_midway", fixed))
    project.migrate("upgrade")
    assert tables(url) == {"alembic_version", "runs", "half"}


def read_only(folder: Path, project: Project, *argv: str) -> subprocess.CompletedProcess[str]:
    """`python manage.py migrate ARGV` with `folder` mounted read-only (a mount namespace
    of its own: the file system of a read-only container, say)."""
    script = f"mount --bind -o ro {shlex.quote(str(folder))} {shlex.quote(str(folder))} && exec "
    script += shlex.join(["python", "manage.py", "migrate", *argv])
    return project.run("unshare", "--mount", "sh", "-c", script, ok=None)


@pytest.mark.skipif(
    subprocess.run(["unshare", "--mount", "true"], check=False, capture_output=True).returncode,
    reason="needs `unshare --mount` (root, or user namespaces) to mount a folder read-only",
)
def test_a_read_only_database_folder_reads_and_names_what_a_write_needs(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    """The lock file cannot be made beside the database: the commands that only read run
    all the same; one that writes fails in one line naming the file."""
    project = make_project()
    folder = tmp_path / "read-only"
    folder.mkdir()
    project.env["DATABASE_URL"] = url = f"sqlite:///{folder / 'app.db'}"
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    project.migrate("upgrade")
    head = scalar(url, "SELECT version_num FROM alembic_version")
    for command in (["current"], ["check"], ["upgrade", "head", "--sql"]):
        result = read_only(folder, project, *command)
        assert result.returncode == 0, result.stderr
    assert read_only(folder, project, "current").stdout.strip() == f"{head} (head)"
    written = read_only(folder, project, "downgrade", "base")
    assert written.returncode == 1
    assert written.stderr.splitlines()[-1] == (
        "FAILED: (sqlite3.OperationalError) attempt to write a readonly database: this "
        f"command writes to {folder / 'app.db'}: it and its folder need write access here "
        "(current, check and --sql only read)"
    )
    assert scalar(url, "SELECT version_num FROM alembic_version") == head
