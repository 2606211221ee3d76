"""The test kit of a generated project (issue 22): its own pytest, with the `client` and
`db` fixtures and the factories, makes rows in one test that the next never sees, on
SQLite and on a server's scratch database; a server it cannot reach is one line naming
what to set; and a coverage table of the app follows the tests."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Project, tables

# A test module a team writes with the kit: rows committed through the factories and the
# session, a refused row rolled back by the test itself, then a test that finds none.
TEAM_TESTS = """\
import pytest
from factories import PostFactory, UserFactory
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from my_flask_app.models import Post, User


def test_a_duplicate_email_is_refused(client, db):
    user = UserFactory(name="Ada")
    db.session.add(User(email=user.email, name="copy"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    PostFactory(author=user)
    db.session.add(User(email="bo@example.com", name="Bo"))
    db.session.commit()
    names = [row["name"] for row in client.get("/users").json]
    assert names == ["Ada", "Bo"]


def test_then_no_rows_are_left(db):
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(Post)) == 0
"""

# The tests that write rows, and those that prove them gone, as `pytest -v` lists them.
ROLLBACK_TESTS = [
    "tests/test_app.py::test_users_lists_a_user_with_posts PASSED",
    "tests/test_app.py::test_each_test_starts_with_no_rows PASSED",
    "tests/test_team.py::test_a_duplicate_email_is_refused PASSED",
    "tests/test_team.py::test_then_no_rows_are_left PASSED",
]


def first_revision(project: Project) -> None:
    """The revision the generation hook writes (the suite renders with the hooks skipped)."""
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")


def project_pytest(project: Project, ok: bool = True, **env: str) -> str:
    """The project's own `pytest -v`, with the team's test module beside the generated ones."""
    (project.path / "tests" / "test_team.py").write_text(TEAM_TESTS)
    return project.run("pytest", "-v", "-p", "no:cacheprovider", ok=ok, **env).stdout


def test_rows_are_gone_in_the_next_test_on_sqlite(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project()
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    first_revision(project)
    app_database = (tmp_path / "app.db").read_bytes()
    # By default a scratch SQLite file, kept from one test of the run to the next.
    output = project_pytest(project)
    for line in ROLLBACK_TESTS:
        assert line in output, output
    assert "8 passed" in output
    assert (tmp_path / "app.db").read_bytes() == app_database, "the tests touched DATABASE_URL"
    # Then a coverage table of the app.
    assert re.search(r"^my_flask_app/\S+\.py +\d+ +\d+ +\d+%", output, re.MULTILINE), output
    assert re.search(r"^TOTAL +\d+ +\d+ +\d+%$", output, re.MULTILINE), output

    # In-memory SQLite when asked.
    output = project_pytest(project, TEST_DATABASE_URL="sqlite://")
    for line in ROLLBACK_TESTS:
        assert line in output, output
    assert "8 passed" in output


@pytest.mark.server
def test_rows_are_gone_in_the_next_test_on_postgresql(
    make_project: Callable[..., Project], server_database: Callable[[str], str]
) -> None:
    """No TEST_DATABASE_URL: the tests run on a scratch database beside DATABASE_URL's."""
    project = make_project(database="postgresql")
    project.env["DATABASE_URL"] = url = server_database("postgresql")
    first_revision(project)
    before = tables(url)  # autogenerate's alembic_version, empty
    output = project_pytest(project)
    for line in ROLLBACK_TESTS:
        assert line in output, output
    assert "8 passed" in output
    assert tables(url) == before, "the tests touched DATABASE_URL"


@pytest.mark.server
def test_rows_are_gone_in_every_database_of_the_app(
    make_project: Callable[..., Project], server_database: Callable[[str], str]
) -> None:
    """With a bind on a server too, each database gets its scratch database and its
    transaction: the events the first test makes in the bind are gone in the second."""
    project = make_project(database="postgresql", binds=["analytics"])
    project.env["DATABASE_URL"] = url = server_database("postgresql")
    project.env["DATABASE_URL_ANALYTICS"] = bind_url = server_database("postgresql")
    first_revision(project)
    before = tables(url), tables(bind_url)
    output = project_pytest(project)
    for line in ROLLBACK_TESTS:
        assert line in output, output
    assert "8 passed" in output
    assert (tables(url), tables(bind_url)) == before, "the tests touched the app's databases"


def test_a_server_out_of_reach_is_one_line_naming_what_to_set(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project(database="postgresql")
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    first_revision(project)
    # Nothing listens on port 9; the password holds characters a URL must encode.
    project.env["DATABASE_URL"] = "postgresql://postgres:p%40ss@127.0.0.1:9/app"
    output = project_pytest(project, ok=False)
    line = (
        "the tests make their database beside DATABASE_URL=postgresql://postgres:***@"
        "127.0.0.1:9/app, and could not: connection failed: connection to server at "
        '"127.0.0.1", port 9 failed: Connection refused. Start that server, or set '
        "TEST_DATABASE_URL (e.g. sqlite://)"
    )
    assert output.count(f"\n{line}\n") == 8, output  # once per test, nothing else
    assert "8 errors" in output and "Traceback" not in output and "p%40ss" not in output

    # SQLite when asked.
    assert "8 passed" in project_pytest(project, TEST_DATABASE_URL="sqlite://")
