"""The Flask command-line habit: `flask db ...` and `flask migrate ...` run the project's
`migrate` command, `.flaskenv` names the app, and Flask-Migrate keeps its own `flask db`
where it is installed."""

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from helpers import OWN_COMMANDS, UV, Project, render, run

# Alembic's own command line, asked in the project's virtualenv: its commands, in order.
ALEMBIC_COMMANDS = (
    "from alembic.config import CommandLine; print(*CommandLine().subparsers.choices)"
)


@pytest.fixture(scope="module")
def project(
    installed: Callable[..., AbstractContextManager[Project]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Project]:
    """The session's installed default project, on a SQLite database of its own."""
    with installed() as project:
        project.env["DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('flask_cli') / 'app.db'}"
        yield project


@pytest.mark.parametrize("group", ["db", "migrate"])
def test_flask_lists_every_alembic_command_in_its_own_words(project: Project, group: str) -> None:
    alembic_commands = project.run("python", "-c", ALEMBIC_COMMANDS).stdout.split()
    commands = [*alembic_commands, *OWN_COMMANDS]
    overview = project.run("flask", group, "--help").stdout
    assert overview.startswith(f"usage: flask {group} [-h]")
    assert "{" + ",".join(commands) + "}" in overview
    usage = project.run("flask", group, "upgrade", "--help").stdout
    assert usage.startswith(f"usage: flask {group} upgrade [-h]"), usage
    assert f"\n  {group} " in project.run("flask", "--help").stdout


def test_flask_db_migrates_with_the_flaskenv_and_with_app(project: Project) -> None:
    assert (project.path / ".flaskenv").read_text().endswith("FLASK_APP=my_flask_app\n")
    project.run("flask", "db", "revision", "--autogenerate", "-m", "create users and posts")
    project.run("flask", "db", "upgrade")
    [revision] = (project.path / "migrations" / "versions").glob("*_create_users_and_posts.py")
    head = revision.name.split("_")[0]
    assert project.run("flask", "db", "current").stdout.strip() == f"{head} (head)"
    assert project.run("flask", "migrate", "check").returncode == 0
    # Without .flaskenv, as in a shell that names the app itself.
    flaskenv = project.path / ".flaskenv"
    saved = flaskenv.read_text()
    flaskenv.unlink()
    try:
        result = project.run("flask", "--app", "my_flask_app", "db", "downgrade", "base")
        assert "Running downgrade" in result.stderr
        assert project.run("flask", "--app", "my_flask_app", "db", "current").stdout == ""
    finally:
        flaskenv.write_text(saved)


def test_flask_migrate_keeps_its_db_where_it_is_installed(tmp_path: Path) -> None:
    """A team that installs Flask-Migrate again and initialises it gets Flask-Migrate's
    `flask db`, working on the same environment; `flask migrate` stays the project's."""
    project = Project(render(tmp_path / "project")).install()
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    project.run(
        str(UV), "pip", "install", "--quiet", "flask-migrate>=4.1,<4.2", VIRTUAL_ENV=".venv"
    )
    init = project.path / "my_flask_app" / "__init__.py"
    text = init.read_text().replace(
        "    db.init_app(app)\n", "    db.init_app(app)\n    Migrate(app, db)\n"
    )
    init.write_text("from flask_migrate import Migrate\n\n" + text)

    assert "Perform database migrations." in project.run("flask", "db", "--help").stdout
    project.run("flask", "migrate", "revision", "--autogenerate", "-m", "create users and posts")
    upgrade = project.run("flask", "db", "upgrade")  # Flask-Migrate's, through our env.py
    assert "Running upgrade  -> " in upgrade.stderr
    assert "(head)" in project.run("flask", "migrate", "current").stdout
    project.run("python", "manage.py", "migrate", "check")


def test_each_command_builds_the_app_once(tmp_path: Path) -> None:
    """The app is built only by the commands that need it, and never twice."""
    project = Project(render(tmp_path / "project")).install()
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    init = project.path / "my_flask_app" / "__init__.py"
    marker = '    """Create and configure the app (Flask\'s application factory)."""\n'
    init.write_text(init.read_text().replace(marker, marker + '    print("app built")\n'))
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    project.migrate("upgrade")
    for command, builds in [
        (("python", "manage.py", "migrate", "heads"), 0),
        (("python", "manage.py", "migrate", "history"), 0),
        (("python", "manage.py", "migrate", "current"), 1),
        (("python", "manage.py", "migrate", "check"), 1),
        (("python", "manage.py", "migrate", "doctor"), 1),
        (("flask", "db", "heads"), 0),
        (("flask", "db", "current"), 1),
        (("flask", "migrate", "doctor"), 1),
    ]:
        output = project.run(*command).stdout
        assert output.count("app built") == builds, (command, output)


def test_a_wheel_install_has_every_command(tmp_path: Path) -> None:
    """`pip install .` (a wheel, as a production image makes): the commands come from the
    installed library, so `flask` works; with Flask-Migrate installed but not initialised,
    `flask db` is the project's."""
    project = Project(render(tmp_path / "project"))
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    run([UV, "venv", "--quiet", "--python", sys.executable, ".venv"], project.path, {})
    wheel = [UV, "pip", "install", "--quiet", "--no-editable", ".", "flask-migrate>=4.1,<4.2"]
    run(wheel, project.path, {"VIRTUAL_ENV": ".venv"})
    elsewhere = tmp_path / "elsewhere"  # not the project: only the wheel has the app
    elsewhere.mkdir()
    where = "import my_flask_app; print(my_flask_app.__file__)"
    found = run([project.bin / "python", "-c", where], elsewhere, project.environment())
    assert "site-packages" in found.stdout, "the app is installed, not linked to the project"
    routes = run([project.bin / "flask", "--app", "my_flask_app", "routes"], elsewhere,
                 project.environment())  # fmt: skip
    assert "/health" in routes.stdout
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    project.run("flask", "--app", "my_flask_app", "db", "upgrade")
    head = project.migrate("heads").stdout.split()[0]
    assert project.run("flask", "db", "current").stdout.strip() == f"{head} (head)"
    assert project.migrate("current").stdout.strip() == f"{head} (head)"
