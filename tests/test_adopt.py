"""Adopting the template in existing Flask-Migrate projects, laid out as real ones are:
one command, after which `python manage.py migrate` runs on the project's own database and
history, `flask db upgrade` still works, and nothing of the project's is changed."""

import re
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flask_migrate_projects import LAYOUTS, Layout
from helpers import (
    COPIER,
    UV,
    Project,
    commit,
    release,
    run,
    template_repository,
)

# Files an adoption may write or change; everything else is the project's.
ADOPTION_WRITES = {
    ".copier-answers.yml",
    ".gitignore",
    "manage.py",
    "migrations/README",
    "migrations/env.py",
    "migrations/script.py.mako",
    "migrations/alembic.ini",
}


def flask_migrate_project(layout: Layout, path: Path, url: str | None) -> Project:
    """The project with its pinned packages and a history written by `flask db migrate`,
    applied to its database, rows in it, all committed."""
    for name, text in layout.all_files().items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    project = Project(path, {"DATABASE_URL": url} if url else {})
    run([UV, "venv", "--quiet", ".venv"], path, {})
    run([UV, "pip", "install", "--quiet", "--compile-bytecode", "-r", "requirements.txt"],
        path, {"VIRTUAL_ENV": ".venv"})  # fmt: skip
    project.run("flask", "db", "init")
    models = path / layout.models
    for step, edit in enumerate([None, *layout.steps], start=1):
        if edit is not None:
            old, new = edit
            assert old in models.read_text(), f"{old!r} not in {layout.models}"
            models.write_text(models.read_text().replace(old, new, 1))
        project.run("flask", "db", "migrate", "-m", f"step {step}")
        project.run("flask", "db", "upgrade")
    for insert in layout.rows.values():
        app_sql(project, layout, insert)
    run(["git", "init", "--quiet"], path, {})
    commit(path, "A Flask-Migrate project")
    return project


# Runs one statement through the app's own engine, whatever database the project uses,
# commits it, and prints what a query returns.
APP_SQL = """\
import sys
from importlib import import_module

from sqlalchemy import text

module, style, sql = sys.argv[1:]
found = import_module(module)
app = found.create_app() if style == "factory" else found.app
with app.app_context(), app.extensions["sqlalchemy"].engine.begin() as connection:
    result = connection.execute(text(sql))
    print(result.scalar() if result.returns_rows else "")
"""


def app_sql(project: Project, layout: Layout, sql: str) -> str:
    """Run `sql` on the project's own database, as its app connects to it."""
    args = ("python", "-c", APP_SQL, layout.app_module, layout.app_style, sql)
    return project.run(*args).stdout.strip()


def row_counts(project: Project, layout: Layout) -> dict[str, str]:
    """How many rows each of the project's tables holds."""
    return {
        table: app_sql(project, layout, f"SELECT COUNT(*) FROM {table}") for table in layout.rows
    }


def changed_files(path: Path) -> set[str]:
    """Files git sees added or changed since the last commit."""
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], path, {}).stdout
    return {line[3:] for line in status.splitlines()}


def adopt(
    project: Project, template: Path, layout: Layout, *data: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """The README's adoption command, run in the project's root."""
    args = [COPIER, "copy", "--trust", "--defaults", "--overwrite", "--data", "adopt=true",
            "--data", f"app_module={layout.app_module}", "--data", f"app_style={layout.app_style}"]  # fmt: skip
    for answer in data:
        args += ["--data", answer]
    result = run([*args, template, "."], project.path, project.environment(), check=False)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result


LAYOUT_DATABASES = [
    pytest.param("tutorial", "sqlite", id="tutorial-sqlite"),
    pytest.param("extensions", "postgresql", id="extensions-postgresql", marks=pytest.mark.server),
    pytest.param("single_module", "sqlite", id="single_module-sqlite"),
    pytest.param("models_package", "mysql", id="models_package-mariadb", marks=pytest.mark.server),
]


@pytest.mark.parametrize(("layout_name", "database"), LAYOUT_DATABASES)
def test_a_flask_migrate_project_is_adopted_as_it_is(
    tmp_path: Path,
    layout_name: str,
    database: str,
    server_database: Callable[[str], str],
) -> None:
    layout = LAYOUTS[layout_name]
    path = tmp_path / layout.name
    # The tutorial shape keeps its SQLite file beside its code; the others read DATABASE_URL,
    # naming psycopg 3 as SQLAlchemy 2.0 needs (its postgresql:// meant psycopg2).
    url = None if layout_name == "tutorial" else (
        f"sqlite:///{tmp_path / 'data.db'}" if database == "sqlite"
        else server_database(database).replace("postgresql://", "postgresql+psycopg://")
    )  # fmt: skip
    project = flask_migrate_project(layout, path, url)
    old_head = project.run("flask", "db", "current").stdout.split()[0]
    revisions = sorted(p.stem.split("_")[0] for p in (path / "migrations/versions").glob("*.py"))
    assert len(revisions) == 3
    rows = row_counts(project, layout)
    assert set(rows.values()) == {"1"}
    before = {name: (path / name).read_bytes() for name in layout.all_files()}

    # The template repository at v1, as users reach it.
    template = template_repository(tmp_path / "template")
    run(["git", "tag", "v1"], template, {})

    # The project's virtualenv lacks the library the migrations now run on: the proof says
    # what to install, in one line, and the adoption's files stay.
    started = time.perf_counter()
    result = adopt(project, template, layout, f"database={database}", ok=False)
    failure = next(line for line in result.stderr.splitlines() if "FAILED: the migrations" in line)
    requirement = shlex.split(failure.split("pip install ", 1)[1])[0].rstrip(",")
    commit_id = run(["git", "rev-parse", "v1"], template, {}).stdout.strip()
    assert requirement == f"flask-alembic-runtime @ git+file://localhost{template}@{commit_id}"
    run([UV, "pip", "install", "--quiet", requirement], path, {"VIRTUAL_ENV": ".venv"})
    database = path / "app.db"  # the tutorial's SQLite file: the doctor only reads it
    content = database.read_bytes() if database.exists() else None
    doctor = project.migrate("doctor")
    seconds = time.perf_counter() - started
    assert content is None or database.read_bytes() == content
    print(f"{layout_name}: adopted and proven in {seconds:.1f} s")
    assert f"default: at the head {old_head}" in doctor.stdout
    assert "default: the history replayed on a scratch database gives its schema" in doctor.stdout
    assert "check: the models match the migrations" in doctor.stdout

    # Only the migration environment, manage.py, its tools and settings were written; the
    # project's .gitignore and pyproject.toml only gained lines at their ends.
    written = changed_files(path)
    assert written <= ADOPTION_WRITES | {"pyproject.toml"}, written - ADOPTION_WRITES
    appended = {".gitignore": b"instance/", "pyproject.toml": b"[tool.alembic]"}
    for name, content in before.items():
        if name in appended:
            assert (path / name).read_bytes().startswith(content), f"{name} lost lines"
            assert appended[name] in (path / name).read_bytes()[len(content) :]
        else:
            assert (path / name).read_bytes() == content, f"{name} changed"
    # Alembic's settings: in pyproject.toml when the project has one, else in alembic.ini.
    has_pyproject = "pyproject.toml" in before
    assert ("migrations/alembic.ini" in written) != has_pyproject

    # The old history on the old database, under every command.
    assert project.migrate("current").stdout.strip() == f"{old_head} (head)"
    history = project.migrate("history").stdout
    assert all(revision in history for revision in revisions)
    project.migrate("upgrade")
    assert "No new upgrade operations detected." in project.migrate("check").stdout
    assert row_counts(project, layout) == rows
    settings = [] if has_pyproject else ["-c", "migrations/alembic.ini"]
    plain = project.run("alembic", *settings, "current")
    assert plain.stdout.strip() == f"{old_head} (head)"

    # Deploy scripts that still run `flask db upgrade` keep working on a new revision.
    models = path / layout.models
    db = layout.db_object
    audit = f"\n\nclass Audit({db}.Model):\n    id = {db}.Column({db}.Integer, primary_key=True)\n"
    models.write_text(models.read_text() + audit)
    project.migrate("revision", "--autogenerate", "-m", "audit")
    project.run("flask", "db", "upgrade")
    new_head = project.run("flask", "db", "current").stdout.split()[0]
    assert new_head != old_head
    assert project.migrate("current").stdout.strip() == f"{new_head} (head)"
    project.migrate("doctor")
    project.run("flask", "db", "downgrade")
    behind = project.migrate("doctor", ok=False).stdout
    assert (
        f"default: PROBLEM at {old_head}, not at a head ({new_head}): "
        "run `python manage.py migrate upgrade`"
    ) in behind
    project.run("flask", "db", "upgrade")
    commit(path, "Adopted flask-alembic-template")

    # A template fix to env.py reaches the project; the package templates' changes do not.
    own = {p: p.read_bytes() for p in path.rglob("*") if p.is_file() and not excluded(p, path)}
    env_py = template / "template" / "migrations" / "env.py.jinja"
    env_py.write_text(env_py.read_text() + "# A fix from v2.\n")
    for name in ("__init__.py.jinja", "extensions.py.jinja", "models.py.jinja"):
        package_file = template / "template" / "{{ app_module }}" / name
        package_file.write_text(package_file.read_text() + "# Changed in v2.\n")
    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "Changed in v2.\n")
    release(template, "v2")
    run([COPIER, "update", "--trust", "--defaults", "--skip-answered"], path, {})
    assert (path / "migrations" / "env.py").read_text().endswith("# A fix from v2.\n")
    updated = {p for p in own if p.read_bytes() != own[p]}
    assert {str(p.relative_to(path)) for p in updated} == {
        "migrations/env.py",
        ".copier-answers.yml",
    }
    assert not re.search(r"^<<<<<<<", (path / "migrations" / "env.py").read_text(), re.MULTILINE)
    project.migrate("check")


def excluded(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return parts[0] in {".git", ".venv"} or "__pycache__" in parts or path.suffix == ".db"
