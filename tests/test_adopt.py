"""Adopting the template in existing Flask-Migrate projects, laid out as real ones are:
one command, after which `python manage.py migrate` runs on the project's own database and
history, `flask db upgrade` still works, and nothing of the project's is changed."""

import re
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


def adoption_writes(layout: Layout) -> set[str]:
    """Files an adoption may write or change; everything else is the project's."""
    environment = {"README", "env.py", "script.py.mako"}
    written = {".copier-answers.yml", ".gitignore", "manage.py", layout.requirements}
    return (
        {layout.settings_ini}
        | written
        | {f"{layout.migrations_dir}/{name}" for name in environment}
    )


def flask_migrate_project(layout: Layout, path: Path, url: str | None) -> Project:
    """The project with its pinned packages and a history written by `flask db migrate`,
    applied to its database, rows in it, all committed."""
    for name, text in layout.all_files().items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    project = Project(path, {"DATABASE_URL": url} if url else {})
    if layout.uv_lock:
        run([UV, "lock", "--quiet"], path, {})
    run([UV, "venv", "--quiet", ".venv"], path, {})
    run([UV, "pip", "install", "--quiet", "--compile-bytecode", "-r", layout.requirements],
        path, {"VIRTUAL_ENV": ".venv"})  # fmt: skip
    if layout.plain_alembic:
        project.run("alembic", "init", layout.migrations_dir)
        env_py = path / layout.migrations_dir / "env.py"
        env_py.write_text(env_py.read_text().replace("target_metadata = None", PLAIN_ENV))
    else:
        project.run("flask", "db", "init")
    if layout.customised_env:
        env_py = path / layout.migrations_dir / "env.py"
        assert layout.customised_env[0] in env_py.read_text()
        env_py.write_text(env_py.read_text().replace(*layout.customised_env))
    models = path / layout.models
    for step, edit in enumerate([None, *layout.steps], start=1):
        if edit is not None:
            old, new = edit
            assert old in models.read_text(), f"{old!r} not in {layout.models}"
            models.write_text(models.read_text().replace(old, new, 1))
        if layout.plain_alembic:
            project.run("alembic", "revision", "--autogenerate", "-m", f"step {step}")
            project.run("alembic", "upgrade", "head")
        else:
            project.run("flask", "db", "migrate", "-m", f"step {step}")
            project.run("flask", "db", "upgrade")
    for insert in layout.rows.values():
        app_sql(project, layout, insert)
    if layout.drift:
        models.write_text(models.read_text().replace(*layout.drift, 1))
    run(["git", "init", "--quiet"], path, {})
    commit(path, "A Flask-Migrate project")
    return project


# What a team using plain Alembic writes in the env.py `alembic init` gave it: the app's
# database and models.
PLAIN_ENV = """\
from blog import create_app, db

app = create_app()
config.set_main_option("sqlalchemy.url", app.config["SQLALCHEMY_DATABASE_URI"])
target_metadata = db.metadata"""


def current_revision(project: Project, layout: Layout) -> str:
    """The database's revision, as the project's own tool shows it before the adoption."""
    command = ("alembic",) if layout.plain_alembic else ("flask", "db")
    return project.run(*command, "current").stdout.split()[0]


# Runs one statement through the app's own engine, whatever database the project uses,
# commits it, and prints what a query returns.
APP_SQL = """\
import sys
from importlib import import_module

from sqlalchemy import text

module, style, sql = sys.argv[1:]
found = import_module(module)
app = found.create_app() if style == "factory" else found.app
state = app.extensions["sqlalchemy"]  # Flask-SQLAlchemy 2.5: a state holding the object
with app.app_context(), getattr(state, "db", state).engine.begin() as connection:
    result = connection.execute(text(sql))
    print(result.scalar() if result.returns_rows else "")
"""


def app_sql(project: Project, layout: Layout, sql: str, **env: str) -> str:
    """Run `sql` on the project's own database, as its app connects to it."""
    args = ("python", "-c", APP_SQL, layout.app_module, layout.app_style, sql)
    return project.run(*args, **env).stdout.strip()


def row_counts(project: Project, layout: Layout) -> dict[str, str]:
    """How many rows each of the project's tables holds."""
    return {
        table: app_sql(project, layout, f"SELECT COUNT(*) FROM {table}") for table in layout.rows
    }


def revisions_before(project: Project, revision: str) -> str:
    """The revision `revision` revises, as `migrate show` names it."""
    shown = project.migrate("show", revision).stdout
    return re.search(r"^Parent: (\S+)$", shown, flags=re.MULTILINE)[1]


def changed_files(path: Path) -> set[str]:
    """Files git sees added or changed since the last commit."""
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], path, {}).stdout
    return {line[3:] for line in status.splitlines()}


def adopt(
    project: Project, template: Path, layout: Layout, *data: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """The README's adoption command, run in the project's root."""
    args = [COPIER, "copy", "--trust", "--defaults", "--overwrite", "--data", "adopt=true"]
    if layout.app_answer is not None:
        args += ["--data", f"app_module={layout.app_answer}"]
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
    pytest.param("in_package", "sqlite", id="in_package-sqlite"),
    pytest.param("in_package", "postgresql", id="in_package-postgresql", marks=pytest.mark.server),
    pytest.param("legacy", "sqlite", id="legacy-sqlite"),
    pytest.param("legacy", "postgresql", id="legacy-postgresql", marks=pytest.mark.server),
    pytest.param("plain_alembic", "sqlite", id="plain_alembic-sqlite"),
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
        else server_database(database).replace("postgresql://", postgresql_scheme(layout))
    )  # fmt: skip
    project = flask_migrate_project(layout, path, url)
    old_head = current_revision(project, layout)
    versions = path / layout.migrations_dir / "versions"
    revisions = sorted(p.stem.split("_")[0] for p in versions.glob("*.py"))
    assert len(revisions) == 3
    rows = row_counts(project, layout)
    assert set(rows.values()) == {"1"}
    before = {name: (path / name).read_bytes() for name in layout.all_files()}

    # The template repository at v1, as users reach it.
    template = template_repository(tmp_path / "template")
    run(["git", "tag", "v1"], template, {})
    database_name = database

    # The README's adoption command: the library is added to the project's dependencies and
    # installed beside its pinned packages, which stay as they were; doctor proves it.
    packages = freeze(project)
    started = time.perf_counter()
    database = path / "app.db"  # the tutorial's SQLite file: the doctor only reads it
    content = database.read_bytes() if database.exists() else None
    adoption = adopt(project, template, layout, f"database={database_name}", *data(layout))
    seconds = time.perf_counter() - started
    print(f"{layout_name}: adopted and proven in {seconds:.1f} s")
    assert content is None or database.read_bytes() == content
    commit_id = run(["git", "rev-parse", "v1"], template, {}).stdout.strip()
    requirement = f"flask-alembic-runtime @ git+file://localhost{template}@{commit_id}"
    after = freeze(project)
    [added] = after - packages
    assert added.startswith("flask-alembic-runtime @ git+file://") and commit_id in added
    assert packages - after == set()
    doctor = adoption.stdout + adoption.stderr
    if layout.uv_lock:  # the line is in pyproject.toml: uv.lock is the project's to refresh
        assert f"pyproject.toml: added {requirement}; run `uv lock` to record it" in doctor
    env_py = f"{layout.migrations_dir}/env.py"
    assert f"{env_py}: now the library's settings file; the project's own is in git" in doctor
    assert f"default: at the head {old_head}" in doctor
    assert "default: the history replayed on a scratch database gives its schema" in doctor
    if layout.drift:  # work to do, listed with its fix; check still fails on it
        assert "check: TO DO the models differ from the migrations (add_column" in doctor
    else:
        assert "check: the models match the migrations" in doctor

    # Only the migration environment, manage.py and the answers were written; the project's
    # files are as they were but for the dependency line at the end of its list, and
    # .gitignore's lines for migrate's own files (a SQLite lock file, a killed squash's).
    written = changed_files(path)
    assert written <= adoption_writes(layout), written
    for name, content in before.items():
        now = (path / name).read_text()
        if name == ".gitignore":
            added = {"*.migration-lock", f"{layout.migrations_dir}/.migrate-*"}
            assert now.startswith(content.decode())
            assert set(now[len(content) :].splitlines()[2:]) == added, now
        elif name == layout.requirements == "requirements.txt":
            assert now == content.decode() + requirement + "\n"
        elif name == "pyproject.toml":
            assert now.replace(f'    "{requirement}",\n', "") == content.decode()
        else:
            assert now == content.decode(), f"{name} changed"
    # Alembic's settings, lint_after among them, in the project's own settings file.
    ini = (path / layout.settings_ini).read_text()
    assert f"lint_after = {old_head}" in ini
    assert not (path / "migrations").exists() or layout.migrations_dir == "migrations"

    # The old history on the old database, under every command.
    assert project.migrate("current").stdout.strip() == f"{old_head} (head)"
    history = project.migrate("history").stdout
    assert all(revision in history for revision in revisions)
    project.migrate("upgrade")
    check = project.migrate("check", ok=not layout.drift)
    if layout.drift:
        assert "FAILED: the models differ from the migrations (add_column" in check.stderr
    assert row_counts(project, layout) == rows
    # One revision back and forth, as a rollback does (Flask-Migrate's `downgrade` default);
    # the rows of a table the last revision made go with it.
    [head_file] = versions.glob(f"{old_head}_*.py")
    if "drop_constraint(None" in head_file.read_text():
        # Autogenerate left a unique constraint unnamed (models_package): one line names the
        # step and the fix, the database stays; MySQL named it after its column.
        refused = project.migrate("downgrade", ok=False)
        assert "drop_constraint(None, ...) names no constraint" in refused.stderr
        assert project.migrate("current").stdout.strip() == f"{old_head} (head)"
        head_file.write_text(
            head_file.read_text().replace("drop_constraint(None,", "drop_constraint('title',")
        )
    back = project.migrate("downgrade")
    assert f"Running downgrade {old_head} -> {revisions_before(project, old_head)}" in back.stderr
    project.migrate("upgrade")
    assert project.migrate("current").stdout.strip() == f"{old_head} (head)"
    project.migrate("check", ok=not layout.drift)
    # lint checks what is written from now on; the history's old drop_column is behind it,
    # and checked on request, with the whole history.
    assert "0 revisions linted, no findings" in project.migrate("lint").stdout
    whole = project.migrate("lint", "base:heads", ok=None)
    assert "3 revisions" in whole.stdout + whole.stderr
    if layout_name == "in_package":
        assert ": drop-column: boards.legacy_code is dropped with its data" in whole.stdout
    if layout_name == "models_package":  # autogenerate's unnamed unique constraint
        assert ": unnamed-constraint: a unique constraint on books" in whole.stdout
    plain = project.run("alembic", "-c", layout.settings_ini, "current")
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
    if layout.migrates_at_start:
        return  # every start of its app (doctor's too) upgrades the database again
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
    env_py = template / "template" / "{{ migrations_dir }}" / "env.py.jinja"
    env_py.write_text(env_py.read_text() + "# A fix from v2.\n")
    for name in ("__init__.py.jinja", "extensions.py.jinja", "models.py.jinja"):
        package_file = template / "template" / "{{ app_module }}" / name
        package_file.write_text(package_file.read_text() + "# Changed in v2.\n")
    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "Changed in v2.\n")
    release(template, "v2")
    run([COPIER, "update", "--trust", "--defaults", "--skip-answered"], path, {})
    env_py = path / layout.migrations_dir / "env.py"
    assert env_py.read_text().endswith("# A fix from v2.\n")
    updated = {p for p in own if p.read_bytes() != own[p]}
    assert {str(p.relative_to(path)) for p in updated} == {
        f"{layout.migrations_dir}/env.py",
        ".copier-answers.yml",
    }
    assert not re.search(r"^<<<<<<<", env_py.read_text(), re.MULTILINE)
    project.migrate("check")


def test_an_adoption_that_cannot_be_done_stops_first_with_one_line(tmp_path: Path) -> None:
    """The revisions live in the package (Flask-Migrate's `directory=`) but the answer says
    migrations/: one line names the answer. A pin the library does not support (Alembic
    1.12): one line naming it, nothing installed. Either way the files Copier wrote are
    undone, and the project's own commands work as before."""
    layout = LAYOUTS["in_package"]
    project = flask_migrate_project(layout, tmp_path / layout.name, f"sqlite:///{tmp_path}/t.db")
    head = project.run("flask", "db", "current").stdout
    template = template_repository(tmp_path / "template")
    misplaced = adopt(project, template, layout, ok=False)
    assert failure_line(misplaced) == (
        "FAILED: the project's revisions are in tracker/migrations/versions, not migrations/: "
        "adopt it again with --data migrations_dir=tracker/migrations (nothing of the project "
        "was changed)"
    )
    assert changed_files(project.path) == set()
    assert not (project.path / "migrations").exists()

    run(
        [UV, "pip", "install", "--quiet", "alembic==1.12.1"], project.path, {"VIRTUAL_ENV": ".venv"}
    )
    packages = freeze(project)
    refused = adopt(project, template, layout, *data(layout), ok=False)
    assert failure_line(refused) == (
        "FAILED: flask-alembic-runtime, which the migrations would run on, does not support "
        "alembic 1.12.1 (supported: >=1.13,<1.21): uv add 'alembic>=1.13,<1.21', then adopt "
        "again (nothing of the project was changed)"
    )
    assert freeze(project) == packages
    assert changed_files(project.path) == set()
    assert project.run("flask", "db", "current").stdout == head


def test_a_database_built_by_create_all_and_stamped_is_named_with_its_way_out(
    tmp_path: Path,
) -> None:
    """(g) The app's models gained a column that no revision adds; its database was built by
    `db.create_all()` and stamped at the head, as apps that create their tables at start-up
    do. The proof names that and what to do; done, the adoption is proven."""
    layout = LAYOUTS["single_module"]
    path = tmp_path / layout.name
    database = tmp_path / "data.db"
    project = flask_migrate_project(layout, path, f"sqlite:///{database}")
    database.unlink()
    models = path / layout.models
    models.write_text(models.read_text().replace(
        "nullable=False)\n", "nullable=False)\n    pinned = db.Column(db.Boolean)\n", 1
    ))  # fmt: skip
    project.run(
        "python", "-c", "from app import app, db; app.app_context().push(); db.create_all()"
    )
    project.run("flask", "db", "stamp", "head")
    for insert in layout.rows.values():
        app_sql(project, layout, insert)
    commit(path, "Pinned notes, built by create_all()")
    template = template_repository(tmp_path / "template")
    packages = freeze(project)

    proof = adopt(project, template, layout, ok=False)
    [added] = freeze(project) - packages
    assert added.startswith("flask-alembic-runtime @ git+file://")
    assert (
        "default: PROBLEM the database is what the models build (db.create_all()), recorded "
        "at a revision its history does not build"
    ) in proof.stdout + proof.stderr
    assert "default:   column note.pinned: only in the database" in proof.stdout + proof.stderr

    # The way out it names: the missing revision, written against an upgraded scratch
    # database, then this database stamped at it.
    scratch = {"DATABASE_URL": f"sqlite:///{tmp_path / 'scratch.db'}"}
    project.migrate("upgrade", **scratch)
    project.migrate("revision", "--autogenerate", "-m", "pinned notes", **scratch)
    project.migrate("stamp", "head")
    doctor = project.migrate("doctor").stdout
    assert "check: the models match the migrations" in doctor
    assert "the history replayed on a scratch database gives its schema" in doctor
    head = project.migrate("heads").stdout.split()[0]
    assert "pinned notes" in project.migrate("history").stdout
    project.migrate("downgrade")
    project.migrate("upgrade")
    assert project.migrate("current").stdout.strip() == f"{head} (head)"
    assert set(row_counts(project, layout).values()) == {"1"}


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.server)]
)
def test_an_app_that_creates_its_tables_as_it_starts_is_migrated_by_its_revisions(
    tmp_path: Path, database: str, server_database: Callable[[str], str]
) -> None:
    """(f) on its old versions, whose factory also runs `db.create_all()` at every start.
    With Flask-Migrate, a new database then fails at its first revision ("already exists")
    and autogenerate misses a new model's table (the start made it); adopted, every
    command of the library skips that call, and the revisions make the tables."""
    layout = LAYOUTS["legacy"]
    path = tmp_path / layout.name

    def new_database(name: str) -> str:
        if database == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        return server_database(database).replace("postgresql://", postgresql_scheme(layout))

    project = flask_migrate_project(layout, path, new_database("data"))
    factory = path / "AppName" / "__init__.py"
    imports = "    from AppName import models  # noqa: F401\n"
    factory.write_text(factory.read_text().replace(imports, (
        f"{imports}    with app.app_context():\n"
        "        db.create_all()  # a table a new model needs, made at every start\n"
    )))  # fmt: skip
    commit(path, "Create missing tables at every start")
    old_head = project.run("flask", "db", "current").stdout.split()[0]
    adoption = adopt(project, template_repository(tmp_path / "template"), layout, *data(layout))
    # Flask-Migrate 3.1 registers `flask db` too: Flask takes either, by the install's order.
    assert "flask db: Flask-Migrate 3.1.0 registers `db` too" in adoption.stdout
    tables = {"alembic_version", "member", "visit"}

    # A new database, as a teammate's clone or CI starts with: each way in migrates it.
    ways_in = {
        "manage_py": ("python", "manage.py", "migrate", "upgrade"),
        "flask_migrate": ("flask", "migrate", "upgrade"),
        "alembic": ("alembic", "-c", "migrations/alembic.ini", "upgrade", "head"),
    }
    for name, command in ways_in.items():
        url = new_database(name)
        project.run(*command, DATABASE_URL=url)
        assert project.migrate("current", DATABASE_URL=url).stdout.strip() == (
            f"{old_head} (head)"
        ), name
        found = app_sql(project, layout, TABLES[database], DATABASE_URL=url)
        assert set(found.split()) == tables, name

    # A new model: autogenerate sees its table, which the start would have made already.
    models = path / layout.models
    audit = "\n\nclass Audit(db.Model):\n    id = db.Column(db.Integer, primary_key=True)\n"
    models.write_text(models.read_text() + audit)
    project.migrate("revision", "--autogenerate", "-m", "audit")
    [revision] = (path / "migrations" / "versions").glob("*_audit.py")
    assert re.search(r"op\.create_table\(\s*['\"]audit['\"]", revision.read_text())
    project.migrate("upgrade")
    assert project.migrate("current").stdout.strip() == f"{revision.stem.split('_')[0]} (head)"
    assert set(row_counts(project, layout).values()) == {"1"}


# The tables of the app's database, as its engine sees them, by kind.
TABLES = {
    "sqlite": "SELECT group_concat(name, ' ') FROM sqlite_master WHERE type = 'table'",
    "postgresql": (
        "SELECT string_agg(table_name, ' ') FROM information_schema.tables "
        "WHERE table_schema = 'public'"
    ),
}


def postgresql_scheme(layout: Layout) -> str:
    """psycopg 3, which SQLAlchemy 2.0 names `postgresql+psycopg`; psycopg2 under 1.4."""
    legacy = "psycopg2" in layout.all_files().get("requirements.txt", "")
    return "postgresql://" if legacy else "postgresql+psycopg://"


def failure_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one FAILED line a hook printed."""
    [line] = [line.strip() for line in result.stderr.splitlines() if "FAILED:" in line]
    return line


def freeze(project: Project) -> set[str]:
    """The packages installed in the project's virtualenv, as `pip freeze` lists them."""
    listed = run([UV, "pip", "freeze"], project.path, {"VIRTUAL_ENV": ".venv"}).stdout
    return set(listed.splitlines())


def data(layout: Layout) -> list[str]:
    """The answers beyond the app that a layout's adoption needs."""
    if layout.migrations_dir == "migrations":
        return []
    return [f"migrations_dir={layout.migrations_dir}"]


def excluded(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return parts[0] in {".git", ".venv"} or "__pycache__" in parts or path.suffix == ".db"
