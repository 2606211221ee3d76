"""`migrate repair` in a generated MariaDB project, where each DDL statement commits at once:
a revision that fails after its first DDL, and an upgrade killed with SIGKILL in the middle
of many revisions. `doctor` reports the half-applied revision with the command, `upgrade`
refuses with one line and exit status 3 (start.sh waits on it), `repair` undoes or finishes
it, and the next `upgrade` reaches the head with `migrate check` clean."""

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from helpers import Project, scalar, tables

pytestmark = pytest.mark.server

REVISION = '''\
"""{message}"""
{imports}
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Upgrade the schema."""
{upgrade}


def downgrade() -> None:
    """Downgrade the schema."""
    pass
'''

MODEL = """

class {name}(db.Model):
    __tablename__ = "{table}"
    id = db.Column(db.Integer, primary_key=True)
"""

# The run is killed in this revision's long step, after its first table.
SLOW = """\
    op.create_table("t07", sa.Column("id", sa.Integer, primary_key=True))
    if not op.get_context().as_sql:  # a long step (not when its SQL is only written)
        time.sleep(600)
    op.create_table("t07b", sa.Column("id", sa.Integer, primary_key=True))"""


def create_table(table: str) -> str:
    return f'    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))'


@pytest.fixture(scope="module")
def shared(installed: Callable[..., AbstractContextManager[Project]]) -> Iterator[Project]:
    with installed(database="mysql", example_model=False) as project:
        yield project


@pytest.fixture
def project(shared: Project, server_database: Callable[[str], str]) -> Iterator[Project]:
    """The MariaDB project on a database of its own; its revisions and models are removed
    afterwards."""
    models = shared.path / "my_flask_app" / "models.py"
    rendered = models.read_text()
    shared.env["DATABASE_URL"] = server_database("mysql")
    yield shared
    models.write_text(rendered)
    for path in (shared.path / "migrations" / "versions").glob("*.py"):
        path.unlink()


def write(project: Project, revision: str, down_revision: str | None, upgrade: str) -> None:
    """A revision file; `upgrade` is its indented body."""
    imports = "\nimport time\n" if "time." in upgrade else ""
    text = REVISION.format(
        message=f"Revision {revision}",
        imports=imports,
        revision=revision,
        down_revision=down_revision,
        upgrade=upgrade,
    )
    (project.path / "migrations" / "versions" / f"{revision}.py").write_text(text)


def add_models(project: Project, *tables_: str) -> None:
    """Models for these tables, so that `migrate check` is clean once they are created."""
    models = project.path / "my_flask_app" / "models.py"
    code = "\nfrom .extensions import db\n" + "".join(
        MODEL.format(name=table.title(), table=table) for table in tables_
    )
    models.write_text(models.read_text() + code)


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def reported_and_refused(project: Project, summary: str) -> None:
    """doctor names the half-applied revision and the command; upgrade refuses it (exit 3)."""
    doctor = project.migrate("doctor", ok=False)
    assert doctor.returncode == 1
    assert doctor.stdout.splitlines()[0] == (
        f"default: PROBLEM {summary}: run `python manage.py migrate repair` to see how to "
        "finish or undo it"
    )
    refused = project.migrate("upgrade", ok=False)
    assert refused.returncode == 3
    assert last_line(refused.stderr) == (
        f"FAILED: {summary}: run `python manage.py migrate repair`, then upgrade again"
    )


def test_a_revision_failing_after_its_first_ddl_is_undone(project: Project) -> None:
    url = project.env["DATABASE_URL"]
    write(project, "r1", None, create_table("notes"))
    failing = create_table("half") + '\n    op.execute("INSERT INTO no_such_table VALUES (1)")'
    write(project, "r2", "r1", failing)
    add_models(project, "notes", "half")
    failed = project.migrate("upgrade", ok=False)
    assert failed.returncode == 1
    assert "no_such_table" in last_line(failed.stderr)
    assert tables(url) == {"alembic_version", "notes", "half"}, "MariaDB kept the DDL"

    summary = (
        "revision r2 (Revision r2) was applied part-way to the default database (1 to 2 of 2 "
        "steps done; alembic_version still holds r1)"
    )
    reported_and_refused(project, summary)

    plan = project.migrate("repair")
    assert plan.stdout.splitlines() == [
        f"default: {summary}",
        "default:   done     create table half",
        "default:   unknown  raw SQL: INSERT INTO no_such_table VALUES (1)",
        (
            "default: to undo it: `python manage.py migrate repair --undo --yes` (drop table half; "
            "alembic_version stays at r1)"
        ),
    ]
    undone = project.migrate("repair", "--undo", "--yes")
    assert last_line(undone.stdout) == (
        "default: undone: drop table half; alembic_version stays at r1"
    )
    assert tables(url) == {"alembic_version", "notes"}

    write(project, "r2", "r1", create_table("half"))  # the revision, fixed
    project.migrate("upgrade")
    assert scalar(url, "SELECT version_num FROM alembic_version") == "r2"
    project.migrate("check")


def test_an_upgrade_killed_midway_is_finished(project: Project) -> None:
    url = project.env["DATABASE_URL"]
    names = [f"r{number:02}" for number in range(1, 13)]
    for number, (revision, down_revision) in enumerate(zip(names, [None, *names]), start=1):
        write(
            project, revision, down_revision, SLOW if number == 7 else create_table(f"t{number:02}")
        )
    add_models(project, *[f"t{number:02}" for number in range(1, 13)], "t07b")

    upgrade = subprocess.Popen(
        ["python", "manage.py", "migrate", "upgrade"],
        cwd=project.path,
        env=project.environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300  # against a hang, not a measure
        while "t07" not in tables(url):  # r07 has made its first table: it is in its long step
            assert upgrade.poll() is None, "the upgrade ended before its long step"
            assert time.monotonic() < deadline, "the upgrade never reached r07"
            time.sleep(0.1)
    finally:
        upgrade.kill()  # SIGKILL
        upgrade.wait()
    assert upgrade.returncode == -9
    assert scalar(url, "SELECT version_num FROM alembic_version") == "r06"
    assert "t07b" not in tables(url)

    summary = (
        "revision r07 (Revision r07) was applied part-way to the default database (1 of 2 "
        "steps done; alembic_version still holds r06)"
    )
    reported_and_refused(project, summary)
    assert scalar(url, "SELECT version_num FROM alembic_version") == "r06", "it ran nothing"

    plan = project.migrate("repair")
    assert plan.stdout.splitlines() == [
        f"default: {summary}",
        "default:   done     create table t07",
        "default:   left     create table t07b",
        (
            "default: to finish it: `python manage.py migrate repair --yes` (runs the 1 step(s) "
            "left, then records r07)"
        ),
        (
            "default: to undo it: `python manage.py migrate repair --undo --yes` (drop table t07; "
            "alembic_version stays at r06)"
        ),
    ]
    finished = project.migrate("repair", "--yes")
    assert last_line(finished.stdout) == (
        "default: finished r07: ran the 1 step(s) left, and recorded it in alembic_version"
    )
    assert scalar(url, "SELECT version_num FROM alembic_version") == "r07"

    project.migrate("upgrade")
    assert scalar(url, "SELECT version_num FROM alembic_version") == "r12"
    project.migrate("check")
    assert project.migrate("repair").stdout.splitlines() == [
        "default: nothing to repair: it is at a head"
    ]
