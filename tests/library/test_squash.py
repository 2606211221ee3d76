"""squash.py: `migrate squash [--to REV] [--dry-run]` replaces the revisions up to one with
a baseline revision of its id, proven on scratch databases before a file changes; what it
cannot prove or would strand, it refuses with nothing changed."""

import re
from collections.abc import Callable
from functools import partial

import pytest

from flask_alembic_runtime import history_swap
from flask_alembic_runtime import squash as squash_module
from flask_alembic_runtime.squash import file_name

from .conftest import Project
from .test_history_swap import killed_after

# Revisions the models know nothing about: a table of things, up to an index and a column.
THINGS = [
    ("t1", None, 'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))',
     'op.drop_table("things")'),
    ("t2", "t1", 'op.add_column("things", sa.Column("label", sa.String(50)))',
     'with op.batch_alter_table("things") as batch:\n    batch.drop_column("label")'),
    ("t3", "t2", 'op.create_index("ix_things_label", "things", ["label"])',
     'op.drop_index("ix_things_label", "things")'),
    ("t4", "t3", 'op.add_column("things", sa.Column("size", sa.Integer, server_default="1"))',
     'with op.batch_alter_table("things") as batch:\n    batch.drop_column("size")'),
]  # fmt: skip


@pytest.fixture
def things(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project with the THINGS revisions, worked on from its folder."""
    monkeypatch.chdir(project.root)
    for revision, down, upgrade, downgrade in THINGS:
        project.write_revision(revision, down, upgrade, downgrade)
    return project


def history(project: Project) -> dict[str, str]:
    """Every revision file by name, with its text."""
    return {path.name: path.read_text() for path in sorted(project.versions.glob("*.py"))}


def squashed(project: Project, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """What a squash that succeeds prints."""
    capsys.readouterr()
    project.migrate("squash", *argv)
    return capsys.readouterr().out.splitlines()


def refused(project: Project, *argv: str) -> str:
    """The one line of a squash that changes no file."""
    before = history(project)
    line = project.failure("squash", *argv)
    assert history(project) == before, "a refused squash changed the history"
    assert not list(project.migrations.glob(".migrate-*")), "a refused squash left its work"
    return line


def test_squash_writes_a_proven_baseline_with_the_heads_id(
    things: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    things.migrate("upgrade")
    old = history(things)
    baseline = "t4_baseline_4_revisions_squashed.py"
    dry_run = squashed(things, capsys, "--dry-run")
    assert dry_run == [
        (
            "squash: the 4 revisions from the base up to t4 (the head: every database is at it) "
            "become one baseline revision t4"
        ),
        "databases checked: default (at t4)",
        "default: the schema at t4 is the same (1 table)",
        "default: the baseline's downgrade leaves an empty database",
        (
            f"dry run: would write migrations/versions/{baseline} in place of 4 revision files; "
            "nothing was changed"
        ),
    ]
    assert history(things) == old

    done = squashed(things, capsys)
    assert done[:4] == dry_run[:4]
    assert done[4:] == [
        (
            f"wrote migrations/versions/{baseline} in place of 4 revision files. A database at t4 "
            "or later needs nothing; upgrade one at an older revision to t4 before this change "
            "reaches it"
        )
    ]
    assert not list(things.migrations.glob(".migrate-*"))
    [(name, text)] = history(things).items()
    assert name == baseline
    assert text.startswith('"""Baseline: 4 revisions squashed\n\nIt replaces these revisions')
    assert "\n- t1 Revision t1\n- t2 Revision t2\n- t3 Revision t3\n- t4 Revision t4\n" in text
    assert "revision: str = 't4'" in text
    assert "down_revision: str | Sequence[str] | None = None" in text
    # The database at t4 needs nothing; a new one gets the same table.
    things.migrate("upgrade")
    assert things.versions_in() == ["t4"]
    things.make_app(default=f"sqlite:///{things.root / 'fresh.db'}")
    things.migrate("upgrade")
    assert things.columns("things") == {"id", "label", "size"}


def test_squash_up_to_a_revision_keeps_the_ones_after_it(
    things: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    first = things.versions / "t1_t1.py"
    first.write_text(
        first.read_text().replace("branch_labels = None", "branch_labels = ('stock',)")
    )
    things.migrate("upgrade")
    old = history(things)
    report = squashed(things, capsys, "--to", "t2")
    assert report[1:5] == [
        "databases checked: default (at t4)",
        "default: the schema at t2 is the same (1 table)",
        "default: the baseline's downgrade leaves an empty database",
        "default: the schema at the heads is the same (1 table)",
    ]
    new = history(things)
    assert set(new) == {"t2_baseline_2_revisions_squashed.py", "t3_t3.py", "t4_t4.py"}
    assert new["t3_t3.py"] == old["t3_t3.py"] and new["t4_t4.py"] == old["t4_t4.py"]
    # The label t1 declared is now the baseline's.
    assert (
        "branch_labels: str | Sequence[str] | None = ('stock',)"
        in (new["t2_baseline_2_revisions_squashed.py"])
    )
    capsys.readouterr()
    things.migrate("history")
    assert capsys.readouterr().out.splitlines() == [
        "t3 -> t4 (stock) (head), Revision t4",
        "t2 -> t3 (stock), Revision t3",
        "<base> -> t2 (stock), Baseline: 2 revisions squashed",
    ]


def test_by_default_squash_stops_where_every_database_is(
    things: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    things.migrate("upgrade", "t2")
    report = squashed(things, capsys)
    assert report[:2] == [
        (
            "squash: the 2 revisions from the base up to t2 (the newest every database has "
            "reached: default is at t2) become one baseline revision t2"
        ),
        "databases checked: default (at t2)",
    ]
    assert set(history(things)) == {"t2_baseline_2_revisions_squashed.py", "t3_t3.py", "t4_t4.py"}
    things.migrate("upgrade")
    assert things.versions_in() == ["t4"]
    assert things.columns("things") == {"id", "label", "size"}

    things.execute("UPDATE alembic_version SET version_num = 'gone'")
    assert refused(things) == (
        "FAILED: the default database is at gone, which is not in this history: bring its "
        "revision file back (e.g. from git), or name the newest revision to squash with --to"
    )


def test_a_new_project_is_squashed_up_to_the_head(
    things: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert squashed(things, capsys, "--dry-run")[:2] == [
        (
            "squash: the 4 revisions from the base up to t4 (the head: no database has a revision "
            "yet) become one baseline revision t4"
        ),
        "databases checked: default (not created yet)",
    ]


def test_squash_refuses_what_would_lose_a_parent_or_strand_a_database(
    things: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    things.migrate("upgrade", "t2")
    assert refused(things, "--to", "t4") == (
        "FAILED: the default database is at t2, which the squash removes: upgrade it first "
        "(`python manage.py migrate upgrade t4`), then squash"
    )
    things.migrate("upgrade")
    things.write_revision("side", "t2")  # a branch from the middle: two heads
    assert refused(things) == (
        "FAILED: the history has 2 heads (side, t4): merge them first (`python manage.py "
        'migrate merge heads -m "merge"`), or name the newest revision to squash with --to'
    )
    assert refused(things, "--to", "t4") == (
        "FAILED: side (Revision side) follows t2, which a squash up to t4 removes: squash up "
        "to a revision after which the history does not branch, or move that branch first"
    )
    assert refused(things, "--to", "nope") == (
        "FAILED: no revision 'nope' in the history: `python manage.py migrate history` lists them"
    )
    assert refused(things, "--to", "base") == "FAILED: --to 'base': name a revision, e.g. its id"
    squashed(things, capsys, "--to", "t2")  # the branch point itself: nothing loses a parent
    assert squashed(things, capsys, "--to", "t2") == ["nothing to squash: t2 is the first revision"]


def test_there_is_nothing_to_squash_without_revisions(project: Project) -> None:
    assert refused(project) == "FAILED: there are no revisions to squash"


def test_squash_refuses_what_a_baseline_cannot_hold(
    things: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in [things.versions / "t3_t3.py", things.versions / "t4_t4.py"]:
        path.unlink()
    things.write_revision(
        "rows",
        "t2",
        "op.execute(\"INSERT INTO things (label) VALUES ('a')\")",
        'op.execute("DELETE FROM things")',
    )
    assert refused(things) == (
        "FAILED: the squashed revisions insert rows (see rows), and a baseline holds the "
        "schema only: default: things (1); squash up to a revision before them, or insert "
        "those rows elsewhere (e.g. a command that seeds the database)"
    )
    things.write_revision(
        "rows",
        "t2",
        'op.execute("CREATE VIEW labels AS SELECT label FROM things")',
        'op.execute("DROP VIEW labels")',
    )
    capsys.readouterr()
    assert refused(things) == (
        "FAILED: the baseline would not build what the old revisions build (1 difference(s), "
        "listed above), so nothing was changed: squash up to a revision before the one that "
        "makes the difference (--to)"
    )
    assert capsys.readouterr().out.splitlines()[1:] == [
        "databases checked: default (not created yet)",
        "default: PROBLEM the schema at rows differs:",
        "default:   view labels: only in the old revisions",
        "default: the baseline's downgrade leaves an empty database",
    ]
    # SQL whose result the comparison sees is carried over, with a note to check the rest.
    path = things.write_revision(
        "rows",
        "t2",
        'op.execute("CREATE INDEX ix_label ON things (label)")',
        'op.execute("DROP INDEX ix_label")',
    )
    [line] = [n for n, text in enumerate(path.read_text().splitlines(), 1) if "CREATE" in text]
    report = squashed(things, capsys)
    assert (
        f'note: rows (Revision rows) runs SQL of its own (line {line}: op.execute("CREATE INDEX '
        'ix_label ON things (label)")): the proof compares tables, views,'
    ) in "\n".join(report)
    [(_, text)] = history(things).items()
    assert "batch_op.create_index(batch_op.f('ix_label'), ['label'], unique=False)" in text


def test_squash_with_binds_writes_each_databases_part(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    project.make_app(binds=["analytics"])
    project.migrate("revision", "--autogenerate", "-m", "first")
    [first] = project.versions.glob("*_first.py")
    head = first.name.split("_")[0]
    project.write_revision(
        "second",
        head,
        functions={
            "upgrade_default": 'op.add_column("users", sa.Column("age", sa.Integer))',
            "downgrade_default": 'op.drop_column("users", "age")',
            "upgrade_analytics": 'op.create_index("ix_events_name", "events", ["name"])',
            "downgrade_analytics": 'op.drop_index("ix_events_name", "events")',
        },
    )
    project.migrate("-x", "bind=default", "upgrade")
    assert refused(project) == (
        "FAILED: the analytics database has no revision yet (default is at second), so no "
        "revision is one every database has reached: upgrade it first (`python manage.py "
        "migrate upgrade`), or name the newest revision to squash with --to"
    )
    project.migrate("upgrade")
    report = squashed(project, capsys)
    assert report[1:4] == [
        "databases checked: default (at second), analytics (at second)",
        "default: the schema at second is the same (2 tables)",
        "default: the baseline's downgrade leaves an empty database",
    ]
    assert "analytics: the schema at second is the same (1 table)" in report
    [(name, text)] = history(project).items()
    assert name == "second_baseline_2_revisions_squashed.py"
    functions = re.findall(r"^def (\w+)\(", text, flags=re.MULTILINE)
    assert functions == [
        "upgrade_default", "downgrade_default", "upgrade_analytics", "downgrade_analytics",
    ]  # fmt: skip
    analytics = text.split("def upgrade_analytics")[1].split("def downgrade_analytics")[0]
    assert "'events'" in analytics and "ix_events_name" in analytics and "users" not in analytics


def test_the_baseline_keeps_a_date_first_file_names_start() -> None:
    assert file_name(
        "2026_01_31_0930_t2_add_label.py", "t2_baseline_2_revisions_squashed.py", "t2"
    ) == ("2026_01_31_0930_t2_baseline_2_revisions_squashed.py")
    assert file_name("handmade.py", "t2_baseline.py", "t2") == "t2_baseline.py"


# A server's own types and defaults (and one of its types that has no generic form), a
# serial column whose table is renamed, a unique constraint and foreign keys. (No Enum: on PostgreSQL, dropping its type is
# alembic-postgresql-enum's work, which this environment does not install.)
SERVER_HISTORY = [
    (
        "s1",
        None,
        (
            'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),'
            ' sa.Column("label", sa.String(50), nullable=False, server_default="none"),'
            ' sa.Column("score", sa.Float()), sa.Column("flag", sa.Boolean, server_default="0"))\n'
            'op.create_table("parts", sa.Column("id", sa.BigInteger, primary_key=True),'
            ' sa.Column("thing_id", sa.Integer, sa.ForeignKey("things.id")),'
            ' sa.Column("spare_id", sa.Integer, sa.ForeignKey("things.id", name="fk_spare")),'
            ' sa.Column("made", {own_type}),'
            ' sa.UniqueConstraint("thing_id", name="uq_parts_thing"))'
        ),
        'op.drop_table("parts")\nop.drop_table("things")',
    ),
    (
        "s2",
        "s1",
        (
            'op.rename_table("parts", "pieces")\n'
            'op.create_index("ix_things_label", "things", ["label"])'
        ),
        'op.drop_index("ix_things_label", "things")\nop.rename_table("pieces", "parts")',
    ),
]


@pytest.mark.server
@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_squash_on_a_server_builds_the_same_schema(
    server_database: Callable[..., str],
    project: Project,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    """Reflected types, defaults, a serial column whose table was renamed, unique
    constraints and foreign keys, written as by hand; then proven on scratch databases."""
    monkeypatch.chdir(project.root)
    project.make_app(default=server_database(kind))
    own_type = {"postgresql": "postgresql.INET()", "mysql": "mysql.YEAR()"}[kind]
    for revision, down, upgrade, downgrade in SERVER_HISTORY:
        upgrade = f"from sqlalchemy.dialects import {kind}\n" + upgrade.replace(
            "{own_type}", own_type
        )
        project.write_revision(revision, down, upgrade, downgrade)
    project.migrate("upgrade")
    report = squashed(project, capsys)
    assert report[2:4] == [
        "default: the schema at s2 is the same (2 tables)",
        "default: the baseline's downgrade leaves an empty database",
    ]
    [(_, text)] = history(project).items()
    assert "sa.String(length=50)" in text and "nullable=False" in text
    assert "uq_parts_thing" in text
    assert f"sa.Column('made', {own_type.removesuffix(')')}" in text  # the server's own type
    if kind == "postgresql":  # the serial column's sequence keeps its first table's name
        assert "ALTER SEQUENCE pieces_id_seq RENAME TO parts_id_seq" in text
    project.migrate("downgrade", "base")
    project.migrate("upgrade")
    assert project.tables() == {"alembic_version", "things", "pieces"}


def test_a_dry_run_leaves_no_work_behind(things: Project) -> None:
    """The baseline and the new history are written in a folder of their own, removed
    afterwards."""
    things.migrate("squash", "--dry-run")
    assert sorted(path.name for path in things.migrations.iterdir()) == [
        "README", "env.py", "script.py.mako", "versions",
    ]  # fmt: skip


BASELINE = "t4_baseline_4_revisions_squashed.py"
SWAPPED = f"migrations/versions/{BASELINE} in place of 4 revision files"


def killed_squash(project: Project, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """`migrate squash`, SIGKILLed after one step of its swap (history_swap.py)."""

    def run(kill: Callable[[str], None]) -> None:
        swap = partial(history_swap.swap_history, step=kill)
        monkeypatch.setattr(squash_module, "swap_history", swap)  # in the killed process only
        project.migrate("squash")

    killed_after(step, run)


UNDONE = (
    f"undid an interrupted squash ({SWAPPED}): it had changed no file; the history is as before"
)
COMPLETED = f"completed an interrupted squash ({SWAPPED}): every new file is in place"


@pytest.mark.parametrize(
    ("step", "files", "line"), [("copy 0 made", 4, UNDONE), ("folder 0 exchanged", 1, COMPLETED)]
)
def test_a_killed_squash_leaves_a_whole_history_that_the_next_run_finishes(
    things: Project,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    files: int,
    line: str,
) -> None:
    things.migrate("upgrade")
    killed_squash(things, monkeypatch, step)
    assert len(history(things)) == files
    things.migrate("current")  # Alembic reads the history: it is whole
    swap, work = sorted(path.name for path in things.migrations.glob(".migrate-*"))
    pid = swap.removeprefix(".migrate-swap-squash-")
    assert work.startswith(f".migrate-work-squash-{pid}-")
    capsys.readouterr()
    if files == 4:  # the next squash undoes the swap, then squashes
        things.migrate("squash")
    else:  # doctor completes it
        things.migrate("doctor")
    report = capsys.readouterr().out.splitlines()
    assert report[:2] == [
        line,
        f"removed migrations/{work}, left by a squash that was stopped (process {pid})",
    ]
    if files == 4:
        assert report[-1].startswith(f"wrote migrations/versions/{BASELINE} in place of 4")
    assert list(history(things)) == [BASELINE]
    assert not list(things.migrations.glob(".migrate-*"))
