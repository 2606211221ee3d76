"""Every mistake a user was seen to make, as that user meets it at a terminal: one message
(its first line at most 100 columns), no traceback, exit status 1 (2 for a usage error),
and nothing changed: not a project file, not the database."""

import os
import pty
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import project_files
from helpers import Project

# Revision files with a mistake, each added beside the project's first revision.
HEADER = '"""A revision with a mistake."""\nfrom alembic import op\n\n'
BODY = "\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
BAD = "FAILED: migrations/versions/bad1_bad.py"
BAD_FILES = {
    "down_revision names no revision": (
        {"bad1_bad.py": HEADER + 'revision = "bad1"\ndown_revision = "ffffffffffff"' + BODY},
        (f"{BAD}: down_revision 'ffffffffffff' is no revision here: set it to the one before,"
        " or None"),
    ),
    "no down_revision at all": (
        {"bad1_bad.py": HEADER + 'revision = "bad1"' + BODY},
        f"{BAD}: no down_revision: set it to the revision before it, or None",
    ),
    "an import that fails": (
        {"bad1_bad.py": HEADER + 'import no_such_module\n\nrevision = "bad1"\ndown_revision = None'
         + BODY},
        f"{BAD}:4: ModuleNotFoundError: No module named 'no_such_module'",
    ),
    "a name that is not defined": (
        {"bad1_bad.py": HEADER + 'revision = "bad1"\ndown_revision = PARENT' + BODY},
        f"{BAD}:5: NameError: name 'PARENT' is not defined",
    ),
    "depends_on names no revision": (
        {"bad1_bad.py": HEADER + 'revision = "bad1"\ndown_revision = None\ndepends_on = "zzzz"'
         + BODY},
        f"{BAD}: depends_on 'zzzz' is no revision or branch here: fix or remove it",
    ),
    "a circle": (
        {"bad1_bad.py": HEADER + 'revision = "bad1"\ndown_revision = "bad2"' + BODY,
         "bad2_bad.py": HEADER + 'revision = "bad2"\ndown_revision = "bad1"' + BODY},
        ("FAILED: revisions bad1 -> bad2 -> bad1 form a circle: point the down_revision of"
        " migrations/versions/bad1_bad.py to an earlier one"),
    ),
    "a syntax error": (
        {"bad1_bad.py": HEADER + 'revision = "bad1"\ndown_revision = (' + BODY},
        f"{BAD}:5: SyntaxError: '(' was never closed",
    ),
}  # fmt: skip
# The commands that read the history: each says the same of the same file.
HISTORY_COMMANDS = ["heads", "current", "upgrade", "history", "lint", "doctor", "squash"]


@dataclass
class Mistake:
    """A command line with a mistake, the files and environment it runs with, and the
    message a user sees: its lines joined again, `{db}` standing for the database file."""

    argv: list[str]
    message: str
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    status: int = 1


MISTAKES = {
    "a password with a raw @ : / %": Mistake(
        ["migrate", "current"],
        "FAILED: DATABASE_URL=postgresql://u:***@127.0.0.1/db does not parse: its port 'w' is no"
        " number (in a password, write @ : / % as %40 %3A %2F %25)",
        env={"DATABASE_URL": "postgresql://u:p@ss:w/rd%@127.0.0.1/db"},
    ),
    "a port that is no number, for Flask's own commands": Mistake(
        ["routes"],
        "FAILED: DATABASE_URL=postgresql://u@127.0.0.1:abc/db does not parse: its port 'abc' is"
        " no number (in a password, write @ : / % as %40 %3A %2F %25)",
        env={"DATABASE_URL": "postgresql://u@127.0.0.1:abc/db"},
    ),
    "squash --to an empty name": Mistake(
        ["migrate", "squash", "--to", ""], "FAILED: --to '': name a revision, e.g. its id"
    ),
    "--rev-id of a revision that exists": Mistake(
        ["migrate", "revision", "-m", "again", "--rev-id", "{first}"],
        "FAILED: --rev-id '{first}' is taken by"
        " migrations/versions/{first}_create_users_and_posts.py: pick another",
    ),
    "--rev-id that is a path": Mistake(
        ["migrate", "revision", "-m", "evil", "--rev-id", "../evil"],
        "FAILED: --rev-id '../evil' is not a plain id: use letters, digits and _ only",
    ),
    "autogenerate on a database that is behind": Mistake(
        ["migrate", "revision", "--autogenerate", "-m", "more"],
        "FAILED: the database is behind the newest revision, so autogenerate would write again"
        " what a revision already does: run `python manage.py migrate upgrade` first",
        env={"DATABASE_URL": "sqlite:///{empty}"},
    ),
    "-x lock_timeout in other digits": Mistake(
        ["migrate", "-x", "lock_timeout=١٢", "upgrade"],
        "FAILED: -x lock_timeout=١٢: give whole seconds, e.g. 60",
    ),
    "-x lock=maybe": Mistake(
        ["migrate", "-x", "lock=maybe", "upgrade"],
        "FAILED: -x lock=maybe: write -x lock=off (or on, the default)",
    ),
    "-x without a value": Mistake(
        ["migrate", "-x", "noequals", "upgrade"],
        "FAILED: -x noequals: write -x NAME=VALUE, e.g. -x bind=default",
    ),
    "-x of no option": Mistake(
        ["migrate", "-x", "lockk=off", "upgrade"],
        "FAILED: -x lockk: no such option; the options are -x bind=NAME[,NAME...], -x lock=off,"
        " -x lock_timeout=SECONDS",
    ),
    "-c of a file that is not there": Mistake(
        ["migrate", "-c", "nonexistent.ini", "current"],
        "FAILED: -c nonexistent.ini: no such file: name an alembic.ini or pyproject.toml",
    ),
    "-n of a section that is not there": Mistake(
        ["migrate", "-n", "nosection", "current"],
        "FAILED: -n nosection: names a section of an alembic.ini, and this project's settings"
        " are in pyproject.toml: leave -n out",
    ),
    "upgrade to a revision that is not there": Mistake(
        ["migrate", "upgrade", "nope"],
        "FAILED: no revision 'nope' in the history: `python manage.py migrate history` lists them",
    ),
    "downgrade to a revision that is not there": Mistake(
        ["migrate", "downgrade", "nope"],
        "FAILED: no revision 'nope' in the history: `python manage.py migrate history` lists them",
    ),
    "a database at a revision no file holds": Mistake(
        ["migrate", "current"],
        "FAILED: a database is at revision 'gone1', which no revision file holds: bring its file"
        " back (e.g. from git, or check out the branch that wrote it), then run this again",
        env={"DATABASE_URL": "sqlite:///{elsewhere}"},
    ),
    "a command that is not there": Mistake(
        ["migrate", "upgrad"],
        "FAILED: no command 'upgrad': did you mean `python manage.py migrate upgrade`?",
        status=2,
    ),
    "flask db: a command that is not there": Mistake(
        ["flask", "db", "upgarde"],
        "FAILED: no command 'upgarde': did you mean `flask db upgrade`?",
        status=2,
    ),
    "an option that is not there": Mistake(
        ["migrate", "upgrade", "--nope"],
        "FAILED: python manage.py migrate upgrade takes no '--nope': `python manage.py migrate"
        " upgrade --help` lists what it takes",
        status=2,
    ),
}
for problem, (files, message) in BAD_FILES.items():
    for command in HISTORY_COMMANDS:
        if command == "lint" and problem == "an import that fails":
            continue  # lint reads the files and imports none: not its mistake to see
        MISTAKES[f"{problem}: {command}"] = Mistake(["migrate", command], message, files)
    # Flask-Migrate's door: the same line.
    MISTAKES[f"{problem}: flask db heads"] = Mistake(["flask", "db", "heads"], message, files)


@pytest.fixture(scope="module")
def project(
    installed: Callable[..., AbstractContextManager[Project]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Project]:
    """The session's default project with its first revision, on a database at its head
    (in the project's folder, so that a change to it is a change to the project's files)."""
    with installed() as project:
        project.env["DATABASE_URL"] = f"sqlite:///{project.path / 'mistakes.db'}"
        project.migrate("revision", "--autogenerate", "-m", "create users and posts")
        project.migrate("upgrade")
        yield project


def at_a_terminal(project: Project, argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `python manage.py ARGV` (or ARGV itself, a `flask` command) with its stderr on a
    terminal (a pseudo-terminal): its exit status, and its stderr as a person sees it."""
    reader, writer = pty.openpty()
    with subprocess.Popen(
        argv if argv[0] == "flask" else ["python", "manage.py", *argv],
        cwd=project.path,
        env=project.environment(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=writer,
    ) as process:
        os.close(writer)
        seen = b""
        while True:
            try:
                chunk = os.read(reader, 4096)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        status = process.wait()
    os.close(reader)
    return status, seen.decode().replace("\r\n", "\n")


@pytest.mark.parametrize("name", MISTAKES)
def test_a_mistake_is_one_message_and_changes_nothing(
    project: Project, tmp_path: Path, name: str
) -> None:
    mistake = MISTAKES[name]
    versions = project.path / "migrations" / "versions"
    first = next(versions.glob("*_create_users_and_posts.py")).name.split("_")[0]
    values = {"first": first, "empty": tmp_path / "empty.db", "elsewhere": tmp_path / "gone.db"}
    with sqlite3.connect(values["elsewhere"]) as elsewhere:  # at a revision no file holds
        elsewhere.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        elsewhere.execute("INSERT INTO alembic_version VALUES ('gone1')")
    for file_name, text in mistake.files.items():
        (versions / file_name).write_text(text)
    before = project_files(project.path)
    try:
        argv = [part.format(**values) for part in mistake.argv]
        env = {key: value.format(**values) for key, value in mistake.env.items()}
        status, stderr = at_a_terminal(project, argv, env)
        after = project_files(project.path)
        changed = sorted(
            str(path.relative_to(project.path))
            for path in before.keys() | after.keys()
            if before.get(path) != after.get(path)
        )
    finally:
        for file_name in mistake.files:
            (versions / file_name).unlink()
    lines = [line for line in stderr.splitlines() if not line.startswith("INFO ")]
    assert "Traceback" not in stderr
    assert lines and len(lines[0]) <= 100, stderr
    message = lines[0] + "".join(" " + line.strip() for line in lines[1:])
    assert (status, message) == (mistake.status, mistake.message.format(**values))
    assert changed == []
