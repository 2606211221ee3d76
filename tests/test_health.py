"""A generated project's health checks during a rolling deploy: `/health` (liveness)
answers 200 whatever the database; `/health/ready` (readiness) is 200 when the database
is at this code's head or ahead of it (a newer release migrated it), 503 when it is behind
or out of reach, and the server log says why once."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from helpers import Project

# Each path asked twice with Flask's test client in the project: the status and JSON body
# of each answer, one per line.
ASK = """\
import json
from my_flask_app import create_app
client = create_app().test_client()
for path in ["/health", "/health", "/health/ready", "/health/ready"]:
    response = client.get(path)
    print(response.status_code, json.dumps(response.json))
"""

NOT_READY = "WARNING in health: not ready: database default is"


def ask(project: Project, **env: str) -> tuple[tuple[int, object], tuple[int, object], str]:
    """`/health`'s answer, `/health/ready`'s (each the same twice), and the log on stderr."""
    result = project.run("python", "-c", ASK, **env)
    answers = [line.split(" ", 1) for line in result.stdout.splitlines()]
    alive, alive_again, ready, ready_again = [
        (int(code), json.loads(body)) for code, body in answers
    ]
    assert alive == alive_again == (200, {"alive": True})
    assert ready == ready_again
    return alive, ready, result.stderr


def revision_of(project: Project, message: str) -> str:
    [path] = (project.path / "migrations" / "versions").glob(f"*_{message}.py")
    return path.name.split("_")[0]


def test_ready_at_head_or_ahead_not_ready_behind_or_unreachable(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project()
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    project.migrate("revision", "--autogenerate", "-m", "create_users")
    first = revision_of(project, "create_users")
    # The release running now: a checkout of the project before the next revision.
    old = Project(tmp_path / "old", env=project.env)
    shutil.copytree(project.path, old.path, ignore=shutil.ignore_patterns(".venv"))
    (old.path / ".venv").symlink_to(project.path / ".venv")
    # The next release adds a revision, and migrates the database before its replicas start.
    project.migrate("revision", "-m", "second")
    second = revision_of(project, "second")
    project.migrate("upgrade")

    _, ready, log = ask(project)
    assert ready == (
        200,
        {"ready": True, "databases": {"default": {"state": "at head", "reason": f"at {second}"}}},
    )
    assert NOT_READY not in log
    # The old replicas keep serving during the rolling deploy: a revision they do not know.
    _, ready, log = ask(old)
    ahead = f"at {second}, which a newer release added (a rolling deploy)"
    assert ready == (
        200,
        {"ready": True, "databases": {"default": {"state": "ahead", "reason": ahead}}},
    )
    assert NOT_READY not in log

    # Behind: a revision of this history that is not its head.
    project.migrate("downgrade", first)
    _, ready, log = ask(project)
    behind = f"at {first}, before {second}: run `python manage.py migrate upgrade`"
    assert ready == (
        503,
        {"ready": False, "databases": {"default": {"state": "behind", "reason": behind}}},
    )
    # Said once on the server, not at each probe.
    assert log.count(NOT_READY) == 1
    assert f"{NOT_READY} behind: {behind}" in log

    # Not migrated at all.
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    _, ready, _ = ask(project, DATABASE_URL=empty)
    not_migrated = "not migrated: run `python manage.py migrate upgrade`"
    assert ready == (
        503,
        {"ready": False, "databases": {"default": {"state": "behind", "reason": not_migrated}}},
    )

    nowhere = f"sqlite:///{tmp_path / 'no_such_folder' / 'app.db'}"
    _, ready, log = ask(project, DATABASE_URL=nowhere)
    unreachable = "no connection (OperationalError)"
    assert ready == (
        503,
        {"ready": False, "databases": {"default": {"state": "unreachable", "reason": unreachable}}},
    )
    assert log.count(NOT_READY) == 1
    assert f"{NOT_READY} unreachable: {unreachable}" in log
