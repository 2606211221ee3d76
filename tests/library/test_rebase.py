"""rebase.py: `migrate rebase REV [--onto HEAD]` moves one branch onto the other head by
rewriting two lines of one file; it refuses, changing nothing, when a database applied a
revision it would move, when both branches touch one table, or when the branch cannot
be moved."""

import importlib.util
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from flask_alembic_runtime import history_swap
from flask_alembic_runtime import rebase as rebase_module

from .conftest import Project
from .test_history_swap import killed_after

MERGE = 'python manage.py migrate merge heads -m "merge"'


@pytest.fixture
def forked(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A history that forks after base1, as two git branches merged leave it: "tags1" adds
    a table; "age1" adds a column to users, then "age2" one to posts."""
    monkeypatch.chdir(project.root)
    project.write_revision(
        "base1",
        None,
        'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.create_table("posts", sa.Column("id", sa.Integer, primary_key=True))',
    )
    project.write_revision(
        "tags1", "base1", 'op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True))'
    )
    project.write_revision("age1", "base1", 'op.add_column("users", sa.Column("age", sa.Integer))')
    project.write_revision("age2", "age1", 'op.add_column("posts", sa.Column("body", sa.Text))')
    return project


def files(project: Project) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(project.versions.glob("*.py"))}


def refused(project: Project, *argv: str) -> str:
    """The one line of a rebase that changes no file."""
    before = files(project)
    line = project.failure("rebase", *argv)
    assert files(project) == before, "a refused rebase changed a file"
    return line


def heads(project: Project, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    project.migrate("heads")
    return sorted(line.split()[0] for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize(
    ("first", "onto", "moved", "new_head"), [("age1", "tags1", 2, "age2"), ("tags1", "age2", 1, "tags1")]
)  # fmt: skip
def test_rebase_rewrites_two_lines_and_leaves_one_head(
    forked: Project,
    capsys: pytest.CaptureFixture[str],
    first: str,
    onto: str,
    moved: int,
    new_head: str,
) -> None:
    forked.migrate("upgrade", onto)  # a database at the other head: the moved ones follow
    path = forked.versions / f"{first}_{first}.py"
    stale_bytecode = Path(importlib.util.cache_from_source(str(path)))
    stale_bytecode.parent.mkdir(exist_ok=True)
    stale_bytecode.write_bytes(b"")
    before = files(forked)
    capsys.readouterr()
    forked.migrate("rebase", first)
    assert capsys.readouterr().out.splitlines() == [
        f"databases checked: default (at {onto})",
        (
            f"rebased {moved} revision(s) onto {onto}: migrations/versions/{path.name} now "
            f"revises {onto}"
        ),
        f"the new head: {new_head}",
    ]
    after = files(forked)
    assert {name for name in after if after[name] != before[name]} == {path.name}
    changed = [
        (old, new)
        for old, new in zip(before[path.name].splitlines(), after[path.name].splitlines(), strict=True)
        if old != new
    ]  # fmt: skip
    assert changed == [
        ("Revises: base1", f"Revises: {onto}"),
        ("down_revision = 'base1'", f'down_revision = "{onto}"'),
    ]
    assert not stale_bytecode.exists()
    assert heads(forked, capsys) == [new_head]
    forked.migrate("upgrade")
    assert forked.versions_in() == [new_head]
    assert forked.columns("users") == {"id", "age"}
    assert refused(forked, first) == (
        f"FAILED: the history has one head ({new_head}): there is nothing to rebase; it is for "
        "two heads after a git merge"
    )


def test_refused_while_a_database_has_applied_a_revision_it_would_move(
    forked: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    forked.migrate("upgrade", "age2")
    assert refused(forked, "age1") == (
        "FAILED: the default database has applied age2, a revision this would move: "
        "downgrade it first (`python manage.py migrate downgrade age1@base1`), or write a "
        f"merge revision: `{MERGE}`"
    )
    forked.migrate("downgrade", "age1@base1")  # the fix it names works
    forked.migrate("rebase", "age1")
    assert heads(forked, capsys) == ["age2"]


def test_every_database_of_the_app_is_checked(
    forked: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    forked.make_app(binds=["analytics"])
    forked.migrate("-x", "bind=analytics", "upgrade", "tags1")
    capsys.readouterr()
    forked.migrate("rebase", "age1")
    assert capsys.readouterr().out.splitlines()[0] == (
        "databases checked: default (not created yet), analytics (at tags1)"
    )


NOT_ONE = "is not one revision of the history: name a revision id (the heads are age2, tags1"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["nope"], f"REV 'nope' {NOT_ONE}; `history` lists them all)"),
        (["age2"], "age2 is not the first revision of its branch: rebase age1 instead, the first one after the fork"),
        (["base1"], "base1 is before the heads age2, tags1: name the first revision of one branch, after the fork (`history` shows it)"),
        (["age1", "--onto", "nope"], f"--onto 'nope' {NOT_ONE}; `history` lists them all)"),
        (["age1", "--onto", "age2"], "--onto age2: age2 is on the branch of age1, the one to move: name the other head (tags1)"),
        (["age1", "--onto", "base1"], "--onto base1: base1 is not a head: name the other head (tags1)"),
    ],
)  # fmt: skip
def test_a_revision_or_head_that_cannot_be_used_is_named(
    forked: Project, argv: list[str], line: str
) -> None:
    assert refused(forked, *argv) == f"FAILED: {line}"


def test_with_three_heads_onto_names_the_target(
    forked: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    forked.write_revision("side1", "base1")
    assert refused(forked, "side1") == (
        "FAILED: the history has 3 heads: name the one to move side1 onto with --onto (age2, tags1)"
    )
    forked.migrate("rebase", "side1", "--onto", "tags1")
    assert heads(forked, capsys) == ["age2", "side1"]


def test_a_merge_revision_or_one_with_depends_on_is_not_moved(forked: Project) -> None:
    forked.write_revision("side1", "base1", depends_on="tags1")
    assert refused(forked, "side1", "--onto", "age2") == (
        "FAILED: side1 has depends_on 'tags1': rebase cannot keep that order for you; write "
        f"a merge revision instead: `{MERGE}`"
    )
    forked.write_revision("side1", "base1")
    forked.write_revision("merge1", ("tags1", "side1"))
    assert refused(forked, "merge1") == (
        "FAILED: merge1 is a merge revision: rebase the first revision of one of the branches "
        "it merges, or keep the merge"
    )


def test_a_labelled_branch_is_not_moved(forked: Project) -> None:
    forked.write_revision(
        "tags1",
        "base1",
        'op.create_table("tags", sa.Column("id", sa.Integer))',
        branch_labels=("tags",),
    )
    assert refused(forked, "age1") == (
        "FAILED: tags1 carries the branch label(s) tags: a labelled branch is kept apart on "
        f"purpose; write a merge revision instead: `{MERGE}`"
    )


@pytest.mark.parametrize(
    "touches_users",
    [
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
        'with op.batch_alter_table("users") as batch:\n    batch.drop_column("age")',
        "op.execute(\"UPDATE users SET id = id + 1\")",
        'op.bulk_insert(sa.table("users", sa.column("id")), [{"id": 1}])',
        'op.get_bind().execute(sa.text("DELETE FROM users"))',
        'op.create_index("ix_users_id", "users", ["id"])',
        'op.create_foreign_key("fk_tags_users", "tags", "users", ["id"], ["id"])',
        # An operation of a plugin (alembic-postgresql-enum): its code names the table.
        'op.sync_enum_values("public", "kind", ["a"], [TableReference("users", "kind")])',
    ],
)  # fmt: skip
def test_both_branches_changing_one_table_is_refused(forked: Project, touches_users: str) -> None:
    path = forked.write_revision("tags2", "tags1", touches_users)
    [line] = [n for n, text in enumerate(path.read_text().splitlines(), 1) if "users" in text][-1:]
    age1 = forked.versions / "age1_age1.py"
    [age_line] = [n for n, text in enumerate(age1.read_text().splitlines(), 1) if "op." in text]
    assert refused(forked, "age1") == (
        "FAILED: both branches change the same table, so their order matters: users "
        f"(migrations/versions/age1_age1.py:{age_line} and migrations/versions/tags2_tags2.py:"
        f"{line}); write a merge revision instead: `{MERGE}`"
    )


@pytest.mark.parametrize(
    "elsewhere",
    [
        'op.execute("SELECT 1")',
        'op.create_index("ix_tags_id", "tags", ["id"])',
        'op.drop_index("ix_tags_id")',
        'op.add_column("users", sa.Column("nickname", sa.Text), schema="archive")',
        "op.f('unused')",
    ],
)
def test_changes_to_other_tables_do_not_stop_a_rebase(forked: Project, elsewhere: str) -> None:
    forked.write_revision("tags2", "tags1", elsewhere)
    forked.migrate("rebase", "age1")
    assert 'down_revision = "tags2"' in (forked.versions / "age1_age1.py").read_text()


def test_an_operation_whose_table_cannot_be_read_is_refused(forked: Project) -> None:
    path = forked.write_revision("tags2", "tags1", 'name = "tags"\nop.drop_table(name)')
    [line] = [n for n, text in enumerate(path.read_text().splitlines(), 1) if "(name)" in text]
    assert refused(forked, "age1") == (
        f"FAILED: migrations/versions/tags2_tags2.py:{line}: cannot tell which table this "
        f"operation touches: check both branches by hand, and write a merge revision: `{MERGE}`"
    )


def test_the_same_table_in_two_databases_is_no_clash(forked: Project) -> None:
    """With binds, each database's function touches that database's tables only."""
    forked.make_app(binds=["analytics"])
    forked.write_revision(
        "tags2",
        "tags1",
        functions={
            "upgrade_analytics": 'op.add_column("users", sa.Column("seen", sa.Integer))',
            "upgrade_default": "pass",
        },
    )
    forked.migrate("rebase", "age1")
    forked.write_revision(
        "age3",
        "age2",
        functions={"upgrade_analytics": 'op.drop_column("users", "seen")'},
    )
    forked.write_revision("age1", "base1", 'op.add_column("users", sa.Column("age", sa.Integer))')
    line = refused(forked, "age1")
    assert line.startswith("FAILED: both branches change the same table, so their order matters:")
    assert "users (analytics database) (migrations/versions/age3_age3.py:" in line


@pytest.mark.parametrize(
    "written",
    ["down_revision = (\n    'ba'\n    'se1'\n)", "down_revision = None\ndown_revision = 'base1'"],
)
def test_a_down_revision_not_on_one_line_is_not_rewritten(forked: Project, written: str) -> None:
    path = forked.versions / "age1_age1.py"
    path.write_text(path.read_text().replace("down_revision = 'base1'", written))
    assert refused(forked, "age1") == (
        "FAILED: the revision's down_revision is not one assignment on one line: write it as "
        '`down_revision = "<parent>"` and run rebase again'
    )


@pytest.mark.parametrize(
    ("step", "outcome"),
    [
        ("copy 0 made", "undid an interrupted rebase ({what}): it had changed no file; the history is as before"),
        ("folder 0 exchanged", "completed an interrupted rebase ({what}): every new file is in place"),
    ],
)  # fmt: skip
def test_a_killed_rebase_leaves_a_whole_history_that_the_next_run_finishes(
    forked: Project,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    outcome: str,
) -> None:
    before = files(forked)

    def run(kill: Callable[[str], None]) -> None:
        swap = partial(history_swap.swap_history, step=kill)
        monkeypatch.setattr(rebase_module, "swap_history", swap)  # in the killed process only
        forked.migrate("rebase", "age1")

    killed_after(step, run)
    # The old history (two heads) or the new one (one), whole either way.
    assert heads(forked, capsys) == (["age2", "tags1"] if files(forked) == before else ["age2"])
    capsys.readouterr()
    if step == "copy 0 made":  # the next rebase undoes the swap, then rebases
        forked.migrate("rebase", "age1")
    else:  # doctor completes it
        forked.migrate("upgrade")
        forked.migrate("doctor")
    report = capsys.readouterr().out.splitlines()
    assert report[0] == outcome.format(what="migrations/versions/age1_age1.py revises tags1")
    assert heads(forked, capsys) == ["age2"]
    assert not list(forked.migrations.glob(".migrate-*"))
