"""rolling.py: `migrate lint --compat [GIT_REF]` in real git repositories. The release
running (a commit) maps users(id, name VARCHAR(200) NOT NULL, email VARCHAR(200) NULL);
a new revision drops, renames, narrows or tightens what it maps, or adds a NOT NULL column
without a default: each is one line naming the revision, the column and the
expand/contract steps, and the command fails. The expand/contract forms pass (dropping a
table or column the models no longer map; narrowing once they keep to the new size). The default
GIT_REF: where the branch left main, else the commit before the newest revision."""

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Project

# The app of the release running, as `flask` finds it (wsgi.py): the subprocess that reads
# the old release's models imports this file from a copy of its commit.
WSGI = """\
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class User(db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
{columns}

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///app.db"
db.init_app(app)
"""

EMAIL = "    email = db.Column(db.String(200), nullable=True)"

# users as the first revision makes it; `legacy` is a column the models stopped mapping,
# `archive` a table they stopped mapping.
FIRST = (
    'op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True),\n'
    '    sa.Column("name", sa.String(200), nullable=False),\n'
    '    sa.Column("email", sa.String(200), nullable=True),\n'
    '    sa.Column("legacy", sa.Integer(), nullable=True))\n'
    'op.create_table("archive", sa.Column("id", sa.Integer(), primary_key=True))'
)

BATCH = 'with op.batch_alter_table("users") as batch:\n    '

# Each new revision that breaks the release running: its upgrade, and how its line starts
# and goes on (what breaks; what to do instead).
BREAKING = {
    "drop column": (
        BATCH + 'batch.drop_column("email")',
        "users.email: is dropped, and the release running still reads and writes it",
        (
            "instead, release the code without it first (remove it from the model), then drop "
            "the column in a later release"
        ),
    ),
    "rename column": (
        BATCH + 'batch.alter_column("email", new_column_name="email_address", '
        "existing_type=sa.String(200))",
        (
            "users.email: is renamed to email_address, and the release running still reads and "
            "writes email"
        ),
        (
            "instead, add email_address beside email, write to both and backfill email_address, "
            "release the code that reads email_address, then drop email in a later release"
        ),
    ),
    "NOT NULL column without default": (
        BATCH + 'batch.add_column(sa.Column("age", sa.Integer(), nullable=False))',
        (
            "users.age: is added NOT NULL without a server default: the release running does not "
            "write it, so each of its INSERTs into users fails"
        ),
        (
            "instead, add it nullable (or with a server_default), backfill it, release the code "
            "that writes it, then make it NOT NULL in a later release"
        ),
    ),
    "narrowed type": (
        BATCH + 'batch.alter_column("name", type_=sa.String(50), existing_type=sa.String(200))',
        "users.name: narrows from VARCHAR(200) to VARCHAR(50)",
        (
            "instead, release code that keeps to the new size first, shorten the longer values, "
            "then narrow the column in a later release"
        ),
    ),
    "made NOT NULL": (
        BATCH + 'batch.alter_column("email", nullable=False, existing_type=sa.String(200))',
        (
            "users.email: becomes NOT NULL without a server default, and the release running may "
            "leave it out of its INSERTs"
        ),
        "instead, give it a server_default, or release code that always writes it first",
    ),
    "other type": (
        BATCH + 'batch.alter_column("email", type_=sa.Integer(), existing_type=sa.String(200))',
        "users.email: changes type from VARCHAR(200) to INTEGER",
        "instead, add a new column of type INTEGER, write to both and backfill it",
    ),
    "drop table": (
        'op.drop_table("users")',
        "users: is dropped, and the release running still queries it",
        "instead, release the code without its model first, then drop users in a later release",
    ),
    "rename table": (
        'op.rename_table("users", "people")',
        "users: is renamed to people, and the release running still queries users",
        (
            "instead, create people beside users, write to both and copy the rows, release the "
            "code that uses people, then drop users in a later release"
        ),
    ),
}

# The expand/contract forms: the release running keeps working.
SAFE = {
    "add nullable column": 'op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))',
    "add NOT NULL with server default": BATCH
    + 'batch.add_column(sa.Column("age", sa.Integer(), nullable=False, server_default="0"))',
    "drop a column the models no longer map": BATCH + 'batch.drop_column("legacy")',
    "widened type": BATCH
    + 'batch.alter_column("name", type_=sa.String(300), existing_type=sa.String(200))',
    "make a NOT NULL column nullable": BATCH
    + 'batch.alter_column("name", nullable=True, existing_type=sa.String(200))',
    "new table with a NOT NULL column": 'op.create_table("tags", sa.Column("id", sa.Integer(), '
    'primary_key=True), sa.Column("label", sa.String(20), nullable=False))',
    "drop a table the models no longer map": 'op.drop_table("archive")',
}

# The contract step of a narrowing: the release running already keeps to the new size
# (its model says VARCHAR(50), the column is still VARCHAR(200)); the new revision narrows.
NAME_OF_50 = "    name = db.Column(db.String(50), nullable=False)"

FAILED = (
    "FAILED: 1 change in 1 new revision would break the release running ({ref}) during a "
    "rolling deploy: write each in steps, as its line says (expand, then contract in a later "
    "release)"
)


def git(root: Path, *arguments: str) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    done = subprocess.run(
        ["git", *identity, *arguments], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def released(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project in a git repository whose main branch holds the release running: its
    models (wsgi.py, with `email`) and its first revision; worked on from its folder."""
    monkeypatch.chdir(project.root)
    (project.root / "wsgi.py").write_text(WSGI.format(columns=EMAIL))
    (project.root / ".gitignore").write_text("*.db\n__pycache__/\ninstance/\n")
    project.write_revision("first", None, FIRST)
    git(project.root, "init", "--quiet", "--initial-branch=main")
    git(project.root, "add", "--all")
    git(project.root, "commit", "--quiet", "-m", "The release running")
    return project


def change(project: Project, upgrade: str, columns: str = EMAIL) -> Path:
    """The next release's revision on top of the first, and its models."""
    (project.root / "wsgi.py").write_text(WSGI.format(columns=columns))
    return project.write_revision("second", "first", upgrade)


def compat(project: Project, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """What `migrate lint --compat ARGV` prints, and its FAILED line if it fails."""
    capsys.readouterr()
    try:
        project.migrate("lint", "--compat", *argv)
    except SystemExit as exit_:
        return [*capsys.readouterr().out.splitlines(), str(exit_.code)]
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("case", BREAKING)
def test_a_breaking_revision_is_named_with_the_expand_contract_steps(
    released: Project, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    upgrade, breaks, instead = BREAKING[case]
    git(released.root, "switch", "--quiet", "--create", "feature")
    change(released, upgrade)
    git(released.root, "add", "--all")
    git(released.root, "commit", "--quiet", "-m", f"The next release: {case}")
    ref = git(released.root, "rev-parse", "main")[:12]
    *shown, line, failure = compat(released, capsys)
    assert shown == [
        f"The release running: {ref} (where this branch left main), {ref[:7]} The release running"
    ]
    assert line.startswith(f"migrations/versions/second_second.py: {breaks}")
    assert f"; {instead}" in line
    assert failure == FAILED.format(ref=ref)
    # Named, the same finding; under -q, only the findings and the failure.
    assert compat(released, capsys, "main") == [
        f"The release running: main (given), {ref[:7]} The release running",
        line,
        FAILED.format(ref="main"),
    ]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        released.migrate("-q", "lint", "--compat")
    assert capsys.readouterr().out.splitlines() == [line]


@pytest.mark.parametrize("case", SAFE)
def test_the_expand_contract_forms_pass(
    released: Project, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    change(released, SAFE[case])  # not committed: checked against HEAD, main's last commit
    ref = git(released.root, "rev-parse", "HEAD")[:12]
    assert compat(released, capsys) == [
        f"The release running: {ref} (where this branch left main), {ref[:7]} The release running",
        "1 new revision checked against the models of " + ref + ": the release running keeps "
        "working",
    ]


def test_narrowing_once_the_release_running_keeps_to_the_new_size_passes(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    models = WSGI.format(columns=EMAIL).replace(
        "    name = db.Column(db.String(200), nullable=False)", NAME_OF_50
    )
    assert NAME_OF_50 in models
    (project.root / "wsgi.py").write_text(models)
    (project.root / ".gitignore").write_text("*.db\n__pycache__/\ninstance/\n")
    project.write_revision("first", None, FIRST)
    git(project.root, "init", "--quiet", "--initial-branch=main")
    git(project.root, "add", "--all")
    git(project.root, "commit", "--quiet", "-m", "The release running")
    project.write_revision("second", "first", BREAKING["narrowed type"][0])
    ref = git(project.root, "rev-parse", "HEAD")[:12]
    assert compat(project, capsys)[-1] == (
        f"1 new revision checked against the models of {ref}: the release running keeps working"
    )


def test_on_main_the_release_is_the_commit_before_the_newest_revision(
    released: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    change(released, SAFE["add nullable column"])
    git(released.root, "add", "--all")
    git(released.root, "commit", "--quiet", "-m", "Add age")
    released.write_revision("third", "second", BREAKING["drop column"][0])
    (released.root / "wsgi.py").write_text(WSGI.format(columns=""))
    git(released.root, "add", "--all")
    git(released.root, "commit", "--quiet", "-m", "Drop email")
    ref = git(released.root, "rev-parse", "HEAD^")[:12]
    intro, line, failure = compat(released, capsys)
    assert intro == (
        f"The release running: {ref} (the commit before the newest revision was added), "
        f"{ref[:7]} Add age"
    )
    # Only the revision the release running lacks is checked, and named.
    assert line.startswith("migrations/versions/third_third.py: users.email: is dropped")
    assert failure == FAILED.format(ref=ref)
    # Against the first release: two new revisions; the drop is the third's.
    *_, line, failure = compat(released, capsys, "HEAD~2")
    assert line.startswith("migrations/versions/third_third.py: users.email: is dropped")
    assert failure == FAILED.format(ref="HEAD~2").replace("1 new revision", "2 new revisions")


def test_a_change_undone_by_a_later_revision_and_an_older_break_are_not_flagged(
    released: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the release running meets is the schema at the end (one transaction where the
    database allows); a column its models map that its own schema lacked is not the new
    revisions' doing."""
    (released.root / "wsgi.py").write_text(
        WSGI.format(columns=EMAIL + "\n    nickname = db.Column(db.String(20))")
    )
    git(released.root, "commit", "--quiet", "--all", "-m", "A model ahead of its revisions")
    change(released, BREAKING["drop column"][0])
    released.write_revision(
        "third", "second", 'op.add_column("users", sa.Column("email", sa.String(200)))'
    )
    ref = git(released.root, "rev-parse", "HEAD")[:12]
    assert compat(released, capsys)[-1] == (
        f"2 new revisions checked against the models of {ref}: the release running keeps working"
    )


def test_nothing_new_nothing_to_check(
    released: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert compat(released, capsys, "HEAD")[-1] == "No new revisions after HEAD: nothing to check"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["nosuchref"],
            (
                "FAILED: GIT_REF nosuchref is not a commit of this repository: name a branch, a tag "
                "or a commit, e.g. `python manage.py migrate lint --compat origin/main` (git fetch "
                "a remote one first)"
            ),
        ),
        (
            ["--", "first:head"],
            (
                "FAILED: lint --compat takes a git ref, not REV_RANGE first:head: it checks the "
                "revisions the ref lacks, e.g. `lint --compat origin/main`"
            ),
        ),
    ],
)
def test_a_bad_argument_is_one_line(
    released: Project, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    change(released, SAFE["add nullable column"])
    assert released.failure("lint", "--compat", *argv) == message
    assert (released.versions / "second_second.py").exists()


def test_outside_git_and_before_the_first_release_are_one_line(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    project.write_revision("first", None, FIRST)
    assert project.failure("lint", "--compat") == (
        f"FAILED: {project.root} is not in a git repository: `lint --compat` compares with the "
        "code of a commit (git init, then commit the project)"
    )
    (project.root / "wsgi.py").write_text(WSGI.format(columns=EMAIL))
    git(project.root, "init", "--quiet", "--initial-branch=main")
    git(project.root, "add", "--all")
    git(project.root, "commit", "--quiet", "-m", "First")
    assert project.failure("lint", "--compat") == (
        "FAILED: the first commit added migrations/versions/first_first.py: there is no "
        "release before it to check against; name one with `python manage.py migrate lint "
        "--compat GIT_REF`"
    )


def test_an_old_release_whose_app_does_not_load_is_one_line(
    released: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    (released.root / "wsgi.py").write_text("raise RuntimeError('no app here')\n")
    git(released.root, "commit", "--quiet", "--all", "-m", "Broken")
    (released.root / "wsgi.py").write_text(WSGI.format(columns=EMAIL))
    change(released, SAFE["add nullable column"])
    assert released.failure("lint", "--compat") == (
        "FAILED: the app of " + git(released.root, "rev-parse", "HEAD")[:12] + " does not "
        "load from a copy of it (RuntimeError: no app here): `lint --compat` imports it with "
        "this environment's packages"
    )


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_on_a_database_server_the_replay_runs_there(
    released: Project,
    capsys: pytest.CaptureFixture[str],
    server_database: Callable[..., str],
    kind: str,
) -> None:
    """The app's database on PostgreSQL or MariaDB: the history is replayed on a scratch
    database of that server, and its types are the server's."""
    released.make_app(default=server_database(kind))
    git(released.root, "switch", "--quiet", "--create", "feature")
    ref = git(released.root, "rev-parse", "main")[:12]
    for case in (
        "drop column",
        "rename column",
        "NOT NULL column without default",
        "narrowed type",
    ):
        upgrade, breaks, instead = BREAKING[case]
        change(released, upgrade)
        *_, line, failure = compat(released, capsys)
        assert line.startswith(f"migrations/versions/second_second.py: {breaks}"), case
        assert f"; {instead}" in line
        assert failure == FAILED.format(ref=ref)
    change(released, SAFE["add NOT NULL with server default"])
    assert compat(released, capsys)[-1].startswith("1 new revision checked against the models")
