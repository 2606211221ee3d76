"""PostgreSQL Enum values added, removed and renamed, through alembic-postgresql-enum (which
the generated env.py imports): what autogenerate writes, what upgrade and downgrade do to
the type and to the rows, and that `check` and the project's own tests agree afterwards."""

from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Project, execute, scalar, values

pytestmark = pytest.mark.server

MODELS = '''\
"""The database models."""

from sqlalchemy import Enum
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db


class Ticket(db.Model):
    """A ticket and where it stands."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Enum({values}, name="ticket_status"))
'''

# The rows the tests keep: none of them holds "duplicate".
ROWS = ["open", "closed", "open"]


def write_models(project: Project, *statuses: str) -> None:
    """The Ticket model, its status one of `statuses`, as a user edits models.py."""
    listed = ", ".join(f'"{status}"' for status in statuses)
    (project.path / "my_flask_app" / "models.py").write_text(MODELS.format(values=listed))


def autogenerate(project: Project, message: str) -> str:
    """`migrate revision --autogenerate`: the text of the revision it wrote."""
    project.migrate("revision", "--autogenerate", "-m", message)
    [revision] = (project.path / "migrations" / "versions").glob(f"*_{message}.py")
    return revision.read_text()


def statuses(url: str) -> list[object]:
    """The values of the ticket_status type, in their order."""
    return values(url, "SELECT unnest(enum_range(NULL::ticket_status))::text")


def rows(url: str) -> list[object]:
    return values(url, "SELECT status::text FROM tickets ORDER BY id")


def head(url: str) -> object:
    return scalar(url, "SELECT version_num FROM alembic_version")


def walk_and_lint(project: Project) -> None:
    """The project's own tests (every revision up and down, models == schema, on a scratch
    PostgreSQL database) and `ruff check`, the revisions' imports included."""
    project.run("pytest", "-q", "-p", "no:cacheprovider")
    project.run("ruff", "check", "--no-cache", ".")


def up_down_and_up(project: Project, upgraded: list[str]) -> None:
    """Upgrade to the new values, down to the three first ones, and up again: `check` clean
    at the new values, the rows unchanged each time; then the project's tests and ruff."""
    url = project.env["DATABASE_URL"]
    project.migrate("upgrade")
    assert statuses(url) == upgraded
    assert rows(url) == ROWS
    project.migrate("check")

    project.migrate("downgrade", "-1")
    assert statuses(url) == ["open", "closed", "duplicate"]
    assert rows(url) == ROWS
    project.migrate("upgrade")
    project.migrate("check")
    walk_and_lint(project)


@pytest.fixture
def project(make_project: Callable[..., Project], server_database: Callable[[str], str]) -> Project:
    """A PostgreSQL project whose tickets table has three statuses and rows."""
    project = make_project(database="postgresql", example_model=False)
    project.env["DATABASE_URL"] = server_database("postgresql")
    project.env["TEST_DATABASE_URL"] = server_database("postgresql")
    write_models(project, "open", "closed", "duplicate")
    project.migrate("revision", "--autogenerate", "-m", "tickets")
    project.migrate("upgrade")
    url = project.env["DATABASE_URL"]
    execute(url, "INSERT INTO tickets (status) VALUES ('open'), ('closed'), ('open')")
    assert statuses(url) == ["open", "closed", "duplicate"]
    return project


def test_a_value_added_at_the_end_comes_and_goes(project: Project) -> None:
    url = project.env["DATABASE_URL"]
    write_models(project, "open", "closed", "duplicate", "waiting")
    revision = autogenerate(project, "waiting")
    assert "op.add_enum_value(" in revision  # ALTER TYPE ... ADD VALUE: no table rewrite
    project.migrate("upgrade")
    assert statuses(url) == ["open", "closed", "duplicate", "waiting"]
    project.migrate("check")
    execute(url, "INSERT INTO tickets (status) VALUES ('waiting')")
    assert rows(url) == [*ROWS, "waiting"]

    # A downgrade that would take the value from a row fails, and changes nothing.
    upgraded = head(url)
    failed = project.migrate("downgrade", "-1", ok=False)
    assert "can not be set" in failed.stderr, failed.stderr
    assert (head(url), statuses(url)) == (upgraded, ["open", "closed", "duplicate", "waiting"])
    assert rows(url) == [*ROWS, "waiting"]

    execute(url, "DELETE FROM tickets WHERE status = 'waiting'")
    project.migrate("downgrade", "-1")
    assert statuses(url) == ["open", "closed", "duplicate"]
    assert rows(url) == ROWS
    project.migrate("check", ok=False)  # the models have "waiting": the database does not
    project.migrate("upgrade")
    project.migrate("check")
    walk_and_lint(project)


def test_a_value_added_between_two_others_takes_its_place(project: Project) -> None:
    """alembic-postgresql-enum 1.11 alone would write op.add_enum_value(before_value=...),
    which adds the value AFTER that neighbour: env.py writes a rebuild of the type instead."""
    write_models(project, "open", "waiting", "closed", "duplicate")
    revision = autogenerate(project, "waiting")
    assert "op.sync_enum_values(" in revision
    assert "op.add_enum_value(" not in revision
    up_down_and_up(project, ["open", "waiting", "closed", "duplicate"])


def test_a_removed_value_comes_and_goes(project: Project) -> None:
    write_models(project, "open", "closed")
    revision = autogenerate(project, "no_duplicate")
    assert "op.sync_enum_values(" in revision
    assert "from alembic_postgresql_enum import TableReference" in revision
    up_down_and_up(project, ["open", "closed"])


def rename_values(revision: Path, upgrade: str, downgrade: str) -> None:
    """Edit the revision as alembic-postgresql-enum's README says: the renamed values in
    `enum_values_to_rename` of each `op.sync_enum_values`, old to new in the upgrade, new
    to old in the downgrade."""
    up, down = revision.read_text().split("def downgrade")
    empty = "enum_values_to_rename=[],"
    assert up.count(empty) == down.count(empty) == 1
    up = up.replace(empty, f"enum_values_to_rename={upgrade},")
    down = down.replace(empty, f"enum_values_to_rename={downgrade},")
    revision.write_text(f"{up}def downgrade{down}")


def test_a_renamed_value_carries_the_rows_with_it(project: Project) -> None:
    url = project.env["DATABASE_URL"]
    write_models(project, "open", "done", "duplicate")
    autogenerate(project, "closed_is_done")
    # As autogenerate wrote it, a rename is a value removed and one added: the upgrade
    # fails on the rows that hold "closed", and changes nothing.
    before = head(url)
    project.migrate("upgrade", ok=False)
    assert (head(url), statuses(url), rows(url)) == (before, ["open", "closed", "duplicate"], ROWS)

    [revision] = (project.path / "migrations" / "versions").glob("*_closed_is_done.py")
    rename_values(revision, upgrade="[('closed', 'done')]", downgrade="[('done', 'closed')]")
    project.migrate("upgrade")
    assert statuses(url) == ["open", "done", "duplicate"]
    assert rows(url) == ["open", "done", "open"]
    project.migrate("check")

    project.migrate("downgrade", "-1")
    assert statuses(url) == ["open", "closed", "duplicate"]
    assert rows(url) == ROWS
    project.migrate("upgrade")
    assert rows(url) == ["open", "done", "open"]
    project.migrate("check")
    walk_and_lint(project)


BIND_MODELS = '''\
"""The database models: one in the main database, one in the "analytics" bind, each with
an Enum type named "status" of its own."""

from sqlalchemy import Enum
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db


class Ticket(db.Model):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Enum("open", "closed", name="status"))


class Alert(db.Model):
    __bind_key__ = "analytics"
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(Enum({values}, name="status"))
'''


def test_each_database_has_its_own_enum_types(
    make_project: Callable[..., Project], server_database: Callable[[str], str]
) -> None:
    """With binds, a value added in one database is written into that database's upgrade
    and downgrade functions alone, and applied there alone."""
    project = make_project(database="postgresql", binds=["analytics"], example_model=False)
    for variable in ("DATABASE_URL", "DATABASE_URL_ANALYTICS"):
        project.env[variable] = server_database("postgresql")
        project.env[f"TEST_{variable}"] = server_database("postgresql")
    main, analytics = project.env["DATABASE_URL"], project.env["DATABASE_URL_ANALYTICS"]
    models = project.path / "my_flask_app" / "models.py"
    status = "SELECT unnest(enum_range(NULL::status))::text"
    models.write_text(BIND_MODELS.format(values='"new", "seen"'))
    project.migrate("revision", "--autogenerate", "-m", "tickets_and_alerts")
    project.migrate("upgrade")
    assert values(main, status) == ["open", "closed"]
    assert values(analytics, status) == ["new", "seen"]

    models.write_text(BIND_MODELS.format(values='"new", "seen", "archived"'))
    revision = autogenerate(project, "archived")
    default_part, analytics_part = revision.split("def upgrade_analytics")
    assert "enum" not in default_part.split("def upgrade_default")[1]
    assert "op.add_enum_value(" in analytics_part
    project.migrate("upgrade")
    assert values(analytics, status) == ["new", "seen", "archived"]
    assert values(main, status) == ["open", "closed"]
    project.migrate("check")
    project.migrate("downgrade", "-1")
    assert values(main, status) == ["open", "closed"]
    assert values(analytics, status) == ["new", "seen"]
    walk_and_lint(project)
