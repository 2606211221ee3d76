"""`python manage.py migrate rebase REV [--onto HEAD]`: after a git merge left two heads,
one branch is moved onto the other head by rewriting two lines of one file; refused,
with nothing changed, when a database applied it or both branches touch one table."""

import difflib
import subprocess
from pathlib import Path

import pytest

from helpers import Project, add_age_column, commit, render, run

PACKAGE = "my_flask_app"
MERGE = 'python manage.py migrate merge heads -m "merge"'
TAG_MODEL = '''

class Tag(db.Model):
    """A word a post is filed under."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(50), unique=True)
'''


class History:
    """The shared project's history after the merge: the revisions of each branch."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.versions = project.path / "migrations" / "versions"
        self.files = {path.name: path.read_bytes() for path in self.versions.glob("*.py")}
        self.models = (project.path / PACKAGE / "models.py").read_bytes()

    def restore(self) -> None:
        """The files as the merge left them: the other tests' edits undone."""
        for path in self.versions.glob("*.py"):
            if path.name not in self.files:
                path.unlink()
        for name, content in self.files.items():
            (self.versions / name).write_bytes(content)
        (self.project.path / PACKAGE / "models.py").write_bytes(self.models)

    def changed(self) -> dict[str, list[str]]:
        """The files that differ from the merge's, each with its changed lines."""
        found = {}
        for path in sorted(self.versions.glob("*.py")):
            before = self.files.get(path.name, b"").decode().splitlines()
            diff = difflib.unified_diff(before, path.read_text().splitlines(), n=0, lineterm="")
            lines = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            if lines:
                found[path.name] = lines
        return found


def snapshot(history: History) -> dict[str, bytes]:
    """Every revision file's bytes, by name."""
    return {path.name: path.read_bytes() for path in history.versions.glob("*.py")}


def revision_of(project: Project, message: str) -> str:
    """The id of the revision whose message is `message`."""
    for line in project.migrate("history").stdout.splitlines():
        if line.endswith(f", {message}"):
            return line.split(" -> ")[1].split()[0].rstrip(",")
    raise AssertionError(f"no revision {message!r}")


def git(project: Project, *args: str) -> None:
    identity = ["-c", "user.name=Template Tests", "-c", "user.email=tests@localhost"]
    run(["git", *identity, *args], project.path, {})


def autogenerate(project: Project, message: str, database: Path) -> None:
    """A revision for the models' change, as a user writes it: on a database at the head."""
    url = f"sqlite:///{database}"
    project.migrate("upgrade", DATABASE_URL=url)
    project.migrate("revision", "--autogenerate", "-m", message, DATABASE_URL=url)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """A project whose history forks after its first revision, as two git branches merged
    leave it: "tags" adds a table; "age" adds a column to users, then one to posts."""
    root = tmp_path_factory.mktemp("rebase")
    project = Project(render(root / "project")).install()
    autogenerate(project, "create users and posts", root / "first.db")
    run(["git", "init", "--quiet", "--initial-branch=trunk"], project.path, {})
    commit(project.path, "The project")
    git(project, "checkout", "--quiet", "-b", "tags")
    with (project.path / PACKAGE / "models.py").open("a") as models:
        models.write(TAG_MODEL)
    autogenerate(project, "add tags", root / "tags.db")
    commit(project.path, "Tags")
    git(project, "checkout", "--quiet", "-b", "age", "trunk")
    add_age_column(project.path, PACKAGE)
    autogenerate(project, "add age", root / "age.db")
    models = project.path / PACKAGE / "models.py"
    anchor = "    title: Mapped[str] = mapped_column(String(200))\n"
    models.write_text(models.read_text().replace(anchor, anchor + "    body: Mapped[str | None]\n"))
    autogenerate(project, "add post body", root / "age.db")
    commit(project.path, "Age")
    git(project, "checkout", "--quiet", "trunk")
    git(project, "merge", "--quiet", "tags")
    git(project, "merge", "--quiet", "--no-edit", "age")
    assert len(project.migrate("heads").stdout.splitlines()) == 2
    return History(project)


@pytest.fixture
def project(history: History, tmp_path: Path) -> Project:
    """The merged project, its files as the merge left them, on an empty database."""
    history.restore()
    return Project(history.project.path, {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}"})


def failure(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command prints."""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("INFO ")]
    assert len(lines) == 1 and result.returncode == 1, result.stderr
    return lines[0]


def every_step_down_and_up(project: Project) -> None:
    """`downgrade -1` from the head to base, one step at a time, then up again."""
    # set(): in a project with binds, `history` prints each line twice
    count = len(set(project.migrate("history").stdout.splitlines()))
    project.migrate("upgrade")
    for _ in range(count):
        project.migrate("downgrade", "-1")
    assert project.migrate("current").stdout.strip() == ""
    project.migrate("upgrade")


@pytest.mark.parametrize(
    ("moved", "onto_head", "count"),
    [("add age", "add tags", 2), ("add tags", "add post body", 1)],
)
def test_rebase_leaves_one_head_and_every_step_passes(
    project: Project, history: History, moved: str, onto_head: str, count: int
) -> None:
    first, onto = revision_of(project, moved), revision_of(project, onto_head)
    old_heads = project.migrate("heads").stdout.split()
    project.migrate("upgrade", onto)  # a database at the other head: the moved ones follow
    result = project.migrate("rebase", first)
    file = next(name for name in history.files if name.startswith(first))
    new_head = next(head for head in old_heads if head != onto and head != "(head)")
    assert result.stdout.splitlines() == [
        f"databases checked: default (at {onto})",
        f"rebased {count} revision(s) onto {onto}: migrations/versions/{file} now revises {onto}",
        f"the new head: {new_head}",
    ]
    fork = revision_of(project, "create users and posts")
    assert history.changed() == {
        file: [
            f"-Revises: {fork}",
            f"+Revises: {onto}",
            f'-down_revision: str | Sequence[str] | None = "{fork}"',
            f'+down_revision: str | Sequence[str] | None = "{onto}"',
        ]
    }
    assert project.migrate("heads").stdout.strip() == f"{new_head} (head)"
    project.run("ruff", "check", "migrations")
    project.run("ruff", "format", "--check", "migrations")
    project.migrate("upgrade")
    assert project.migrate("current").stdout.strip() == f"{new_head} (head)"
    every_step_down_and_up(project)
    project.migrate("check")
    project.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    again = project.migrate("rebase", first, ok=False)
    assert failure(again) == (
        f"FAILED: the history has one head ({new_head}): there is nothing to rebase; it is for "
        "two heads after a git merge"
    )


def test_refused_when_a_database_applied_a_revision_it_would_move(
    project: Project, history: History
) -> None:
    first, second = revision_of(project, "add age"), revision_of(project, "add post body")
    fork = revision_of(project, "create users and posts")
    project.migrate("upgrade", second)
    result = project.migrate("rebase", first, ok=False)
    assert failure(result) == (
        f"FAILED: the default database has applied {second}, a revision this would move: "
        f"downgrade it first (`python manage.py migrate downgrade {first}@{fork}`), or "
        f"write a merge revision: `{MERGE}`"
    )
    assert history.changed() == {}
    # The fix it names works.
    project.migrate("downgrade", f"{first}@{fork}")
    project.migrate("rebase", first)
    assert len(project.migrate("heads").stdout.splitlines()) == 1


USERS_ON_THE_TAGS_BRANCH = {
    "add_column": 'op.add_column("users", sa.Column("nickname", sa.String(50)))',
    "batch": 'with op.batch_alter_table("users") as batch:\n        batch.drop_column("name")',
    "execute": "op.execute(\"UPDATE users SET name = 'x'\")",
}


@pytest.mark.parametrize("operation", USERS_ON_THE_TAGS_BRANCH)
def test_refused_when_both_branches_touch_a_table(
    project: Project, history: History, operation: str
) -> None:
    tags = revision_of(project, "add tags")
    (history.versions / "aaaa00000000_users_too.py").write_text(
        f'"""users too"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "aaaa00000000"\ndown_revision = "{tags}"\n\n\n'
        f"def upgrade() -> None:\n    {USERS_ON_THE_TAGS_BRANCH[operation]}\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    before = snapshot(history)
    line = failure(project.migrate("rebase", revision_of(project, "add age"), ok=False))
    assert line.startswith(
        "FAILED: both branches change the same table, so their order matters: users ("
    ), line
    assert "migrations/versions/aaaa00000000_users_too.py:11" in line
    assert line.endswith(f"write a merge revision instead: `{MERGE}`")
    assert snapshot(history) == before


def test_a_revision_or_head_it_cannot_move_is_one_line(project: Project, history: History) -> None:
    fork, tags = revision_of(project, "create users and posts"), revision_of(project, "add tags")
    age, body = revision_of(project, "add age"), revision_of(project, "add post body")
    heads = f"{min(body, tags)}, {max(body, tags)}"
    refusals = {
        ("nosuch",): f"REV 'nosuch' is not one revision of the history: name a revision id "
        f"(the heads are {heads}; `history` lists them all)",
        (fork,): f"{fork} is before the heads {heads}: name the first revision of one branch, "
        "after the fork (`history` shows it)",
        (body,): f"{body} is not the first revision of its branch: rebase {age} instead, the "
        "first one after the fork",
        (age, "--onto", fork): f"--onto {fork}: {fork} is not a head: name the other head ({tags})",
        (age, "--onto", body): f"--onto {body}: {body} is on the branch of {age}, the one to "
        f"move: name the other head ({tags})",
    }
    for args, line in refusals.items():
        assert failure(project.migrate("rebase", *args, ok=False)) == f"FAILED: {line}"
    assert history.changed() == {}


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        ('branch_labels = ("age",)', ("{age} carries the branch label(s) age: a labelled branch "
         f"is kept apart on purpose; write a merge revision instead: `{MERGE}`")),
        ('depends_on = "{fork}"', ("{age} has depends_on '{fork}': rebase cannot keep that "
         f"order for you; write a merge revision instead: `{MERGE}`")),
    ],
)  # fmt: skip
def test_a_labelled_or_dependent_branch_is_refused(
    project: Project, history: History, setting: str, line: str
) -> None:
    fork, age = revision_of(project, "create users and posts"), revision_of(project, "add age")
    file = next(path for path in history.versions.glob(f"{age}_*.py"))
    name = setting.split(" = ")[0]
    text = file.read_text().replace(f"{name}: str | Sequence[str] | None = None", setting)
    file.write_text(text.format(fork=fork))
    result = project.migrate("rebase", age, ok=False)
    assert failure(result) == "FAILED: " + line.format(age=age, fork=fork)
    assert file.read_text() == text.format(fork=fork)


# A revision of the project with an analytics bind: one function per database and direction.
BIND_REVISION = '''"""{revision}"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{parent}"


def upgrade_default() -> None:
    {default}


def downgrade_default() -> None:
    {default_down}


def upgrade_analytics() -> None:
    {analytics}


def downgrade_analytics() -> None:
    {analytics_down}
'''


def test_binds_each_database_its_own_tables_and_version(
    tmp_path: Path,
) -> None:
    """The same table name in two databases is no clash; a bind that applied a revision
    to move refuses the rebase."""
    project = Project(render(tmp_path / "project", binds=["analytics"])).install()
    project.env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'default.db'}",
        DATABASE_URL_ANALYTICS=f"sqlite:///{tmp_path / 'analytics.db'}",
    )
    project.migrate("revision", "--autogenerate", "-m", "first")
    fork = project.migrate("heads").stdout.split()[0]
    versions = project.path / "migrations" / "versions"
    branches = {
        "nickname": {
            "default": 'op.add_column("users", sa.Column("nickname", sa.String(50)))',
            "default_down": 'op.drop_column("users", "nickname")',
            "analytics": "pass",
            "analytics_down": "pass",
        },
        "users_seen": {  # a table named users too, in the other database
            "default": "pass",
            "default_down": "pass",
            "analytics": 'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))',
            "analytics_down": 'op.drop_table("users")',
        },
    }
    for revision, code in branches.items():
        text = BIND_REVISION.format(revision=revision, parent=fork, **code)
        (versions / f"{revision}.py").write_text(text)
    project.migrate("-x", "bind=analytics", "upgrade", "users_seen")
    before = (versions / "users_seen.py").read_bytes()
    assert failure(project.migrate("rebase", "users_seen", ok=False)) == (
        "FAILED: the analytics database has applied users_seen, a revision this would move: "
        f"downgrade it first (`python manage.py migrate downgrade users_seen@{fork}`), or "
        f"write a merge revision: `{MERGE}`"
    )
    assert (versions / "users_seen.py").read_bytes() == before
    result = project.migrate("rebase", "nickname")
    assert result.stdout.splitlines() == [
        "databases checked: default (no revision applied), analytics (at users_seen)",
        "rebased 1 revision(s) onto users_seen: migrations/versions/nickname.py now revises"
        + " users_seen",
        "the new head: nickname",
    ]
    every_step_down_and_up(project)
    assert project.migrate("current").stdout.split() == ["nickname", "(head)"] * 2
