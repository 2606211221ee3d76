"""The whole migration workflow of a generated project, through `python manage.py migrate`,
Flask's `flask db` (with the project's .flaskenv) and plain `alembic`, for each way of
answering the questions and each database."""

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Project, add_age_column, tables
from variants import VARIANTS, app_module

# The command lines a user has: the project's own, Flask's, and plain Alembic.
RUNNERS = {
    "manage.py": ("python", "manage.py", "migrate"),
    "flask_db": ("flask", "db"),
    "alembic": ("alembic",),
}
WORKFLOW_VARIANTS = ["defaults", "module_style", "db_object_database", "unusual_names"]


def run_workflow(project: Project, runner: tuple[str, ...], url: str, package: str) -> None:
    """Autogenerate, upgrade, change a model, autogenerate, upgrade, check, downgrade base."""

    def migrate(*args: str, ok: bool | None = True) -> subprocess.CompletedProcess[str]:
        return project.run(*runner, *args, ok=ok)

    versions = project.path / "migrations" / "versions"

    result = migrate("check", ok=False)
    if runner != RUNNERS["alembic"]:
        # The fix in the words of the command the user ran.
        command = "python manage.py migrate" if runner == RUNNERS["manage.py"] else "flask db"
        assert (
            "FAILED: the models differ from the migrations (add_table users, add_index"
            " ix_users_name, add_table posts): write a revision with"
            f" `{command} revision --autogenerate -m MESSAGE`"
        ) in result.stderr.splitlines()
    else:
        assert "New upgrade operations detected" in result.stdout + result.stderr

    migrate("revision", "--autogenerate", "-m", "create users and posts")
    [first] = versions.glob("*create_users_and_posts.py")
    assert 'op.create_table(\n        "users",' in first.read_text()

    result = migrate("check", ok=False)
    behind = (
        "Target database is not up to date"  # plain Alembic's words
        if runner == RUNNERS["alembic"]
        else "the database is behind the newest revision"
    )
    assert behind in result.stdout + result.stderr

    migrate("upgrade", "head")
    assert tables(url) == {"alembic_version", "users", "posts"}

    add_age_column(project.path, package)
    migrate("revision", "--autogenerate", "-m", "add user age")
    [second] = versions.glob("*add_user_age.py")
    assert 'sa.Column("age", sa.Integer(), nullable=True)' in second.read_text()
    migrate("upgrade", "head")
    assert "No new upgrade operations detected." in migrate("check").stdout

    result = migrate("revision", "--autogenerate", "-m", "nothing changed")
    assert "No changes in schema detected." in result.stdout
    assert len(list(versions.glob("*.py"))) == 2, "an empty autogenerate writes no file"

    head = second.name.split("_add_user_age")[0].split("_")[-1]
    history = migrate("history").stdout
    assert f"-> {head} (head), add user age" in history
    assert "<base> -> " in history and "create users and posts" in history
    assert migrate("heads").stdout.strip() == f"{head} (head)"
    assert migrate("current").stdout.strip() == f"{head} (head)"
    assert f"Rev: {head} (head)" in migrate("show", "head").stdout

    offline = migrate("upgrade", "head", "--sql").stdout
    assert "CREATE TABLE users" in offline and "ALTER TABLE users ADD COLUMN age" in offline

    migrate("downgrade", "base")
    assert tables(url) == {"alembic_version"}

    # New revision files are formatted as written (the ruff post-write hook).
    project.run("ruff", "check", "--no-cache", ".")
    project.run("ruff", "format", "--check", "--no-cache", ".")
    project.run("pytest", "-q", "-p", "no:cacheprovider")


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("variant", WORKFLOW_VARIANTS)
def test_workflow_on_sqlite(
    make_project: Callable[..., Project], tmp_path: Path, variant: str, runner: str
) -> None:
    project = make_project(**VARIANTS[variant])
    url = f"sqlite:///{tmp_path / 'workflow.db'}"
    project.env["DATABASE_URL"] = url
    run_workflow(project, RUNNERS[runner], url, app_module(VARIANTS[variant]))


@pytest.mark.server
@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("database", ["postgresql", "mysql"])
def test_workflow_on_server(
    make_project: Callable[..., Project],
    server_database: Callable[[str], str],
    database: str,
    runner: str,
) -> None:
    project = make_project(database=database)
    url = server_database(database)
    project.env["DATABASE_URL"] = url
    project.env["TEST_DATABASE_URL"] = server_database(database)
    run_workflow(project, RUNNERS[runner], url, "my_flask_app")


def test_the_merge_the_tests_ask_for_passes_them(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    """Two branches, as after a git merge of two developers' work: the project's tests name
    the fix, and after it every step up and down passes through the merge point."""
    project = make_project()
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    first = project.migrate("heads").stdout.split()[0]
    project.migrate("upgrade")
    add_age_column(project.path, "my_flask_app")
    project.migrate("revision", "--autogenerate", "-m", "add user age")
    project.migrate("revision", "-m", "other branch", "--head", first, "--splice")
    result = project.run("pytest", "-q", "-p", "no:cacheprovider", ok=False)
    assert "run `python manage.py migrate merge heads -m merge`" in result.stdout
    assert "1 failed" in result.stdout, result.stdout

    project.migrate("merge", "heads", "-m", "merge")
    project.run("pytest", "-q", "-p", "no:cacheprovider")
