"""repair.py: a revision MariaDB applied part-way (each DDL statement commits at once) is
recognised by `upgrade` (one line, exit status 3), `doctor` and `repair`, which finishes it,
undoes it, or lists the statements left. SQLite and PostgreSQL have nothing to repair."""

from collections.abc import Callable

import pytest

from .conftest import Project

pytestmark = pytest.mark.server

FIRST = 'op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))'

# A revision of four steps: a table, a column, an index, and a table made and dropped.
SECOND = """\
op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True))
op.add_column("notes", sa.Column("title", sa.String(50), nullable=True))
op.create_index("ix_notes_title", "notes", ["title"])
op.create_table("scratch", sa.Column("id", sa.Integer, primary_key=True))
op.drop_table("scratch")"""

# Its first step, as MariaDB committed it before the run was killed.
SECOND_FIRST_STEP = "CREATE TABLE tags (id INTEGER NOT NULL AUTO_INCREMENT, PRIMARY KEY (id))"

FAILING = """\
op.create_table("half", sa.Column("id", sa.Integer, primary_key=True))
op.execute("INSERT INTO no_such_table VALUES (1)")"""


@pytest.fixture
def mariadb(project: Project, server_database: Callable[[str], str]) -> Project:
    """The project on a MariaDB database of its own, at its first revision `r1`."""
    project.make_app(default=server_database("mysql"))
    project.write_revision("r1", None, FIRST)
    project.migrate("upgrade")
    return project


def output(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def refused_upgrade(project: Project, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line of an `upgrade` refused with exit status 3."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        project.migrate("upgrade")
    assert exit_.value.code == 3
    [line] = capsys.readouterr().err.splitlines()
    return line


def test_a_killed_revision_is_refused_by_upgrade_then_finished_by_repair(
    mariadb: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    mariadb.write_revision("r2", "r1", SECOND, message="tags and titles")
    mariadb.execute(SECOND_FIRST_STEP)  # the run was killed after it
    summary = (
        "revision r2 (tags and titles) was applied part-way to the default database (1 of 5 "
        "steps done; alembic_version still holds r1)"
    )
    assert refused_upgrade(mariadb, capsys) == (
        f"FAILED: {summary}: run `python manage.py migrate repair`, then upgrade again"
    )
    assert mariadb.tables() == {"alembic_version", "notes", "tags"}, "nothing more ran"

    capsys.readouterr()
    mariadb.migrate("repair")
    assert output(capsys) == [
        f"default: {summary}",
        "default:   done     create table tags",
        "default:   left     add column notes.title",
        "default:   left     create index ix_notes_title on notes",
        "default:   left     create table scratch",
        "default:   left     drop table scratch",
        (
            "default: to finish it: `python manage.py migrate repair --yes` (runs the 4 step(s) "
            "left, then records r2)"
        ),
        (
            "default: to undo it: `python manage.py migrate repair --undo --yes` (drop table tags; "
            "alembic_version stays at r1)"
        ),
    ]
    assert mariadb.versions_in() == ["r1"], "without --yes, nothing changes"

    mariadb.migrate("repair", "--yes")
    assert output(capsys)[-1] == (
        "default: finished r2: ran the 4 step(s) left, and recorded it in alembic_version"
    )
    assert mariadb.versions_in() == ["r2"]
    assert mariadb.columns("notes") == {"id", "title"}
    assert mariadb.tables() == {"alembic_version", "notes", "tags"}

    mariadb.migrate("repair")
    assert output(capsys) == ["default: nothing to repair: it is at a head"]


def test_a_revision_not_begun_is_upgraded_as_usual(
    mariadb: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """No false alarm: the table the revision makes and drops is absent before it too."""
    mariadb.write_revision("r2", "r1", SECOND)
    mariadb.migrate("repair")
    assert output(capsys) == ["default: nothing to repair: the next revision (r2) is not begun"]
    mariadb.migrate("upgrade")
    assert mariadb.versions_in() == ["r2"]


def test_a_revision_that_failed_after_its_first_ddl_is_undone(
    mariadb: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    mariadb.write_revision("r2", "r1", FAILING, "op.drop_table('half')", message="half")
    assert "no_such_table" in mariadb.failure("upgrade")
    assert mariadb.tables() == {"alembic_version", "notes", "half"}, "MariaDB kept its DDL"
    summary = (
        "revision r2 (half) was applied part-way to the default database (1 to 2 of 2 steps "
        "done; alembic_version still holds r1)"
    )
    assert refused_upgrade(mariadb, capsys) == (
        f"FAILED: {summary}: run `python manage.py migrate repair`, then upgrade again"
    )

    capsys.readouterr()
    assert mariadb.failure("doctor") == (
        "FAILED: doctor found 1 problem(s), each listed above with its fix"
    )
    assert output(capsys)[0] == (
        f"default: PROBLEM {summary}: run `python manage.py migrate repair` to see how to "
        "finish or undo it"
    )

    mariadb.migrate("repair")
    assert output(capsys) == [
        f"default: {summary}",
        "default:   done     create table half",
        "default:   unknown  raw SQL: INSERT INTO no_such_table VALUES (1)",
        (
            "default: to undo it: `python manage.py migrate repair --undo --yes` (drop table half; "
            "alembic_version stays at r1)"
        ),
    ]
    assert mariadb.failure("repair", "--yes") == (
        "FAILED: repair cannot finish r2: whether its raw SQL ran cannot be read from the "
        "database; undo it with `python manage.py migrate repair --undo --yes`, fix the "
        "revision if it failed, then upgrade again"
    )
    assert mariadb.tables() == {"alembic_version", "notes", "half"}, "a refusal changes nothing"

    mariadb.migrate("repair", "--undo", "--yes")
    assert output(capsys)[-1] == "default: undone: drop table half; alembic_version stays at r1"
    assert mariadb.tables() == {"alembic_version", "notes"}
    assert mariadb.versions_in() == ["r1"]

    fixed = 'op.create_table("half", sa.Column("id", sa.Integer, primary_key=True))'
    mariadb.write_revision("r2", "r1", fixed, "op.drop_table('half')", message="half")
    mariadb.migrate("upgrade")
    assert mariadb.versions_in() == ["r2"]


def test_raw_sql_that_can_be_neither_finished_nor_undone_is_listed(
    mariadb: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """A raw SQL step ran (a later table exists), one after it perhaps: repair lists the
    statements that may be left and stops."""
    mariadb.write_revision(
        "r2",
        "r1",
        'op.execute("INSERT INTO notes (id) VALUES (7)")\n'
        'op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.execute("INSERT INTO no_such_table VALUES (1)")',
    )
    mariadb.failure("upgrade")
    capsys.readouterr()
    assert mariadb.failure("repair") == (
        "FAILED: repair cannot tell which raw SQL of r2 ran, nor undo it: run yourself the "
        "statements listed above that did not run, then `python manage.py migrate stamp r2`"
    )
    assert output(capsys)[1:] == [
        "default:   done     raw SQL: INSERT INTO notes (id) VALUES (7)",
        "default:   done     create table tags",
        "default:   unknown  raw SQL: INSERT INTO no_such_table VALUES (1)",
        "-- The statements of r2 perhaps not run:",
        "INSERT INTO no_such_table VALUES (1);",
        "",
    ]
    assert mariadb.versions_in() == ["r1"]


def test_sqlite_has_nothing_to_repair(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    """SQLite runs an upgrade in one transaction: a failed revision leaves nothing."""
    project.write_revision("r1", None, FIRST)
    project.write_revision("r2", "r1", FAILING)
    assert "no such table" in project.failure("upgrade")
    assert project.tables() == set()
    project.migrate("repair")
    assert output(capsys) == [
        (
            "default: nothing to repair: the next revision (r1) is not begun; SQLite runs each "
            "upgrade in one transaction"
        )
    ]


def test_steps_in_a_batch_are_read_and_undone(
    mariadb: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """batch_alter_table's operations are steps too (outside SQLite it runs them one by one)."""
    mariadb.write_revision(
        "r2",
        "r1",
        'with op.batch_alter_table("notes") as batch_op:\n'
        '    batch_op.add_column(sa.Column("title", sa.String(50), nullable=True))\n'
        '    batch_op.create_index("ix_notes_title", ["title"])',
    )
    mariadb.execute("ALTER TABLE notes ADD COLUMN title VARCHAR(50)")  # killed after it
    capsys.readouterr()
    mariadb.migrate("repair", "--undo")
    assert output(capsys)[1:] == [
        "default:   done     add column notes.title",
        "default:   left     create index ix_notes_title on notes",
        (
            "default: `python manage.py migrate repair --undo --yes` would drop column "
            "notes.title; alembic_version stays at r1"
        ),
    ]
    assert mariadb.columns("notes") == {"id", "title"}
    mariadb.migrate("repair", "--undo", "--yes")
    assert mariadb.columns("notes") == {"id"}
    mariadb.migrate("upgrade")
    assert mariadb.versions_in() == ["r2"]


def test_a_database_at_no_step_of_its_next_revision_is_not_repaired(
    mariadb: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table made by hand that the next revision creates too: no half-applied revision,
    and nothing repair should drop."""
    mariadb.write_revision("r2", "r1", SECOND)
    mariadb.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY)")
    assert mariadb.failure("repair", "--yes") == (
        "FAILED: the default database is at none of the steps of revision r2 (Revision r2) (a "
        "table it creates exists already, or one it drops is gone): this is no half-applied "
        "revision; compare them with `python manage.py migrate doctor` and fix by hand"
    )
    assert mariadb.tables() == {"alembic_version", "notes", "scratch"}
