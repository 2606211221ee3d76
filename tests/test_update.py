"""`copier update`: template fixes reach a project, and nothing of the user's is lost.

Built the way Copier's own suite does it: a template repository with two tags, `v1` (an
older template) and `v2` (the current one), and a project copied at v1, then worked on.
"""

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import copier
import pytest
import yaml

from helpers import (
    COPIER,
    TEMPLATE,
    UV,
    Project,
    commit,
    release,
    render,
    run,
    snapshot,
    template_repository,
)

ENV_PY = Path("migrations") / "env.py"
MANAGE_PY = Path("manage.py")
USER_IGNORED = 'IGNORED_TABLES: set[str] = {"spatial_ref_sys"}'
# An update as a teammate runs it, without the hooks that make a new project.
UPDATE = [COPIER, "update", "--trust", "--defaults", "--skip-tasks"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """The template repository: `v1` lacks two fixes that `v2`, the current template, has."""
    repository = template_repository(tmp_path / "template")
    env_py = repository / "template" / "{{ migrations_dir }}" / "env.py.jinja"
    manage_py = repository / "template" / "manage.py.jinja"
    models_py = repository / "template" / "{{ app_module }}" / "models.py.jinja"
    current = {path: path.read_text() for path in (env_py, manage_py, models_py)}
    # v1: the old usage strings, no server default comparison, a different example model.
    edit(manage_py, 'prog="manage.py migrate",', 'prog="alembic",')
    edit(env_py, "    compare_server_default=True,\n", "")
    edit(models_py, "String(100), index=True", "String(80), index=True")
    release(repository, "v1")
    for path, text in current.items():
        path.write_text(text)
    release(repository, "v2")
    return repository


def project_at_v1(
    template: Path, destination: Path, vcs_ref: str = "v1", **answers: object
) -> Project:
    """Copy at v1, install, then work as a user: two revisions, edits, all committed."""
    render(destination, source=template, vcs_ref=vcs_ref, **answers)
    project = Project(destination).install()
    project.env["DATABASE_URL"] = f"sqlite:///{destination.parent / 'app.db'}"
    run(["git", "init", "--quiet"], destination, {})
    commit(destination, "Generated at v1")

    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    project.migrate("upgrade")
    package = destination / str(answers.get("app_module", "my_flask_app"))
    edit(package / "models.py", "index=True)\n", "index=True)\n    age: Mapped[int | None]\n")
    project.migrate("revision", "--autogenerate", "-m", "add user age")
    project.migrate("upgrade")
    edit(destination / ENV_PY, "IGNORED_TABLES: set[str] = set()", USER_IGNORED)
    with (destination / "README.md").open("a") as readme:
        readme.write("\n## Deploying\n\nOur own notes.\n")
    commit(destination, "Our revisions and edits")
    return project


def with_an_older_commit(
    repository: Path, *edits: tuple[Path, str, str], removed: tuple[Path, ...] = ()
) -> str:
    """Commit the template repository with these edits (file, old text, new text) and
    without the `removed` files, then as it is: the older commit's id. No release tags:
    users copy and update from commits of main."""
    current = {path: path.read_text() for path in [*(path for path, _, _ in edits), *removed]}
    for path, old, new in edits:
        edit(path, old, new)
    for path in removed:
        path.unlink()
    commit(repository, "An older template")
    older = run(["git", "rev-parse", "HEAD"], repository, {}).stdout.strip()
    for path, text in current.items():
        path.write_text(text)
    commit(repository, "The current template")
    return older


def committed_project(repository: Path, vcs_ref: str, destination: Path, **answers: object) -> Path:
    """A project copied from the template at `vcs_ref`, in a git repository of its own."""
    render(destination, source=repository, vcs_ref=vcs_ref, **answers)
    run(["git", "init", "--quiet"], destination, {})
    commit(destination, "Generated from an older template")
    return destination


def update_refused(destination: Path, question: str, answer: str) -> None:
    """`copier update` stops before any file changes, naming the answer to change."""
    result = run(UPDATE, destination, {}, check=False)
    assert result.returncode != 0
    assert (
        f'FAILED: {question} "{answer}" is a name the template now refuses: rename it in'
        f" your code and in .copier-answers.yml ({question}: NEW_NAME), commit, then run the"
        " update again"
    ) in result.stderr.splitlines()
    assert run(["git", "status", "--porcelain"], destination, {}).stdout == ""


def revisions(project: Project) -> dict[str, bytes]:
    versions = project.path / "migrations" / "versions"
    return {path.name: path.read_bytes() for path in versions.iterdir()}


def no_conflict_markers(project: Project) -> None:
    for path in project.path.rglob("*"):
        if ".venv" not in path.parts and ".git" not in path.parts and path.is_file():
            text = path.read_text(errors="replace")
            assert "<<<<<<<" not in text and ">>>>>>>" not in text, path
        assert not path.name.endswith(".rej"), path


def test_update_applies_fixes_and_keeps_everything_of_the_user(
    template: Path, tmp_path: Path
) -> None:
    project = project_at_v1(template, tmp_path / "project")
    before = revisions(project)
    models_before = (project.path / "my_flask_app" / "models.py").read_text()

    check = run([COPIER, "check-update", "--output-format", "json"], project.path, {})
    assert json.loads(check.stdout) == {
        "update_available": True,
        "current_version": "1",
        "latest_version": "2",
    }

    copier.run_update(project.path, defaults=True, overwrite=True, unsafe=True, quiet=True)

    assert revisions(project) == before, "every user revision, byte for byte"
    assert (project.path / "my_flask_app" / "models.py").read_text() == models_before
    env_py = (project.path / ENV_PY).read_text()
    assert "compare_server_default=True" in env_py, "the template fix arrived"
    assert USER_IGNORED in env_py, "the user's edit stayed"
    assert 'prog="manage.py migrate",' in (project.path / MANAGE_PY).read_text()
    # The library's pin moved to v2's commit, and the update installed it.
    v2 = run(["git", "rev-parse", "v2"], template, {}).stdout.strip()
    assert (
        f"flask-alembic-runtime @ git+file://localhost{template}@{v2}"
        in (project.path / "pyproject.toml").read_text()
    )
    assert "Our own notes." in (project.path / "README.md").read_text()
    assert "_commit: v2" in (project.path / ".copier-answers.yml").read_text()
    no_conflict_markers(project)

    assert project.migrate("upgrade", "--help").stdout.startswith("usage: manage.py migrate")
    project.migrate("upgrade")
    project.migrate("check")
    project.run("pytest", "-q", "-p", "no:cacheprovider")


def test_a_deleted_file_stays_deleted(template: Path, tmp_path: Path) -> None:
    project = project_at_v1(template, tmp_path / "project")
    run(["git", "rm", "--quiet", "my_flask_app/views.py", ".env.example"], project.path, {})
    commit(project.path, "We do not want these")
    copier.run_update(project.path, defaults=True, overwrite=True, unsafe=True, quiet=True)
    assert not (project.path / "my_flask_app" / "views.py").exists()
    assert not (project.path / ".env.example").exists()


def test_a_conflict_is_marked_inline_and_named(template: Path, tmp_path: Path) -> None:
    project = project_at_v1(template, tmp_path / "project")
    edit(project.path / MANAGE_PY, 'prog="alembic",', 'prog="db",')
    commit(project.path, "Our own program name")
    result = run([COPIER, "update", "--trust", "--defaults"], project.path, {}, check=False)
    assert result.returncode != 0
    assert (
        "  FAILED: the update left conflicts in manage.py: edit each"
        " (between <<<<<<< and >>>>>>>), then `git add` them and commit"
    ) in result.stderr.splitlines()
    manage_py = (project.path / MANAGE_PY).read_text()
    assert "<<<<<<< before updating" in manage_py
    assert 'prog="db",' in manage_py
    assert 'prog="manage.py migrate",' in manage_py
    assert ">>>>>>> after updating" in manage_py


def test_an_update_runs_the_projects_quick_checks_and_lists_what_fails(
    template: Path, tmp_path: Path
) -> None:
    """Without a conflict, an update that leaves the project broken is not silent: the
    checks a teammate would run first (compile, ruff, migrate heads) are listed."""
    project = project_at_v1(template, tmp_path / "project")
    broken = project.path / "migrations" / "versions" / "broken.py"
    broken.write_text('"""Half written."""\n\nrevision = "broken"\ndef upgrade(:\n')
    commit(project.path, "A revision half written")
    result = run([COPIER, "update", "--trust", "--defaults"], project.path, {}, check=False)
    assert result.returncode != 0
    failed = [line for line in result.stderr.splitlines() if "FAILED: after the update" in line]
    assert [line.split(" (")[0] for line in failed] == [
        "  FAILED: after the update, `python -m compileall`",
        "  FAILED: after the update, `ruff check`",
        "  FAILED: after the update, `python manage.py migrate heads`",
    ]
    assert failed[2].endswith(
        "(FAILED: migrations/versions/broken.py:4: SyntaxError: invalid syntax): fix it, then commit"
    )
    assert "compare_server_default=True" in (project.path / ENV_PY).read_text(), "updated"


@pytest.mark.server
def test_changing_the_database_on_update(
    template: Path, tmp_path: Path, server_database: Callable[[str], str]
) -> None:
    """The update installs the new driver into `.venv` itself."""
    project = project_at_v1(template, tmp_path / "project")
    before = revisions(project)
    update = [COPIER, "update", "--trust", "--defaults", "--data", "database=postgresql"]
    result = run(update, project.path, {"PATH": f"{UV.parent}{os.pathsep}{os.environ['PATH']}"})
    v2 = run(["git", "rev-parse", "v2"], template, {}).stdout.strip()
    lacks = (
        f"flask-alembic-runtime @ git+file://localhost{template}@{v2}, "
        "alembic-postgresql-enum>=1.11,<1.12, psycopg[binary]>=3.2,<3.4, squawk-cli>=2.70,<2.71"
    )
    assert f".venv lacks {lacks}: installing the project again" in result.stdout
    assert revisions(project) == before
    assert "psycopg[binary]" in (project.path / "pyproject.toml").read_text()
    config = (project.path / "my_flask_app" / "config.py").read_text()
    assert "postgresql://postgres@localhost:5432/my_flask_app" in config
    no_conflict_markers(project)
    commit(project.path, "Now on PostgreSQL")

    project.env["DATABASE_URL"] = server_database("postgresql")
    project.migrate("current")
    project.migrate("upgrade")
    project.migrate("check")
    project.run("pytest", "-q", "-p", "no:cacheprovider")


def test_an_answer_the_new_template_refuses_stops_the_update(tmp_path: Path) -> None:
    """A newer template refuses `engine` as the SQLAlchemy object's name, which an older
    one took. Its `_migrations` entry stops the update before any file changes, instead of
    letting Copier swap the answer for the default `db` in the files the template owns.
    No release tags: users copy and update from commits of main."""
    repository = template_repository(tmp_path / "template")
    older = with_an_older_commit(repository, (repository / "lists" / "names.yml", ' "engine",', ""))
    destination = committed_project(repository, older, tmp_path / "project", db_object="engine")
    update_refused(destination, "db_object", "engine")

    # The fix the message gives: rename the object where it is used (the tests' fixture
    # too), and the answer.
    uses = r"\bengine(?=\.(Model|init_app|session|engines|metadatas)\b| = SQLAlchemy|: SQLAlchemy)"
    renamed = {"db_object: engine": "db_object: store", 'name="engine"': 'name="store"'}
    for path in [*destination.rglob("*.py"), destination / ".copier-answers.yml"]:
        text = re.sub(r"import engine$", "import store", path.read_text(), flags=re.MULTILINE)
        for old, new in renamed.items():
            text = text.replace(old, new)
        path.write_text(re.sub(uses, "store", text))
    commit(destination, "Rename the SQLAlchemy object")
    run(UPDATE, destination, {})
    # The project left the older template (Copier records `git describe` of what it used).
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert not older.startswith(str(answers["_commit"])), answers["_commit"]
    extensions = (destination / "my_flask_app" / "extensions.py").read_text()
    assert "store = SQLAlchemy(model_class=Base)" in extensions
    project = Project(destination, {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}"})
    no_conflict_markers(project)
    project.install().migrate("revision", "--autogenerate", "-m", "create users and posts")
    project.run("pytest", "-q", "-p", "no:cacheprovider")


# The last commit of main whose manage.py defined `cli`, the FlaskGroup a team added its
# own commands to (`@cli.command()`), before 0.4 moved `migrate` out of it.
MANAGE_PY_WITH_CLI = "5c7cff2"


def template_at(commit_: str, repository: Path) -> str:
    """A template repository at `repository` holding this template as it was at `commit_`,
    committed: its commit."""
    repository.mkdir()
    archive = repository.parent / "template.tar"
    run(["git", "archive", f"--output={archive}", commit_], TEMPLATE, {})
    run(["tar", "-xf", archive], repository, {})
    run(["git", "init", "--quiet"], repository, {})
    commit(repository, f"The template at {commit_}")
    return run(["git", "rev-parse", "HEAD"], repository, {}).stdout.strip()


def to_the_current_template(repository: Path) -> None:
    """Commit the current template on top, as `main` reaches users."""
    for path in repository.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(snapshot(), repository, ignore=shutil.ignore_patterns(".git"),
                    dirs_exist_ok=True)  # fmt: skip
    commit(repository, "The current template")


# The last commit of main whose projects carried the migration tooling in their own
# migration_tools/ package, before flask-alembic-runtime.
BEFORE_THE_LIBRARY = "5bed619ec3b80ab1c7398cb805b81e8bfcd96ec1"


def test_a_project_from_before_the_library_moves_onto_it(tmp_path: Path) -> None:
    """`copier update` from a commit whose projects had migration_tools/: the folder goes,
    the library comes as a dependency, and the user's revisions, models and edits stay."""
    repository = tmp_path / "template"
    older = template_at(BEFORE_THE_LIBRARY, repository)
    project = project_at_v1(repository, tmp_path / "project", vcs_ref=older)
    assert (project.path / "migration_tools" / "command.py").exists()
    before = revisions(project)
    models = (project.path / "my_flask_app" / "models.py").read_text()

    to_the_current_template(repository)
    update = [COPIER, "update", "--trust", "--defaults", "--vcs-ref", "HEAD"]
    path = {"PATH": f"{UV.parent}{os.pathsep}{os.environ['PATH']}"}
    result = run(update, project.path, path, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    assert not (project.path / "migration_tools").exists()
    pyproject = (project.path / "pyproject.toml").read_text()
    head = run(["git", "rev-parse", "HEAD"], repository, {}).stdout.strip()
    assert f"flask-alembic-runtime @ git+file://localhost{repository}@{head}" in pyproject
    assert "migration_tools" not in pyproject
    assert revisions(project) == before, "every user revision, byte for byte"
    assert (project.path / "my_flask_app" / "models.py").read_text() == models
    assert USER_IGNORED in (project.path / ENV_PY).read_text(), "the user's edit stayed"
    assert "Our own notes." in (project.path / "README.md").read_text()
    no_conflict_markers(project)

    assert project.migrate("current").stdout.split()[0] in "".join(before)
    project.migrate("upgrade")
    project.migrate("check")
    project.run("pytest", "-q", "-p", "no:cacheprovider")
    project.run("ruff", "check", ".")


def test_a_teams_command_in_a_pre_0_4_manage_py_is_named_after_the_update(
    tmp_path: Path,
) -> None:
    """A project from before 0.4 whose team added a command to manage.py's `cli`: the
    update merges it without a conflict into a manage.py that has no `cli`, so the quick
    checks name it, with the home its commands have now."""
    repository = tmp_path / "template"
    project = project_at_v1(
        repository, tmp_path / "project", vcs_ref=template_at(MANAGE_PY_WITH_CLI, repository)
    )
    edit(
        project.path / MANAGE_PY,
        '\nif __name__ == "__main__":',
        '\n@cli.command()\ndef seed() -> None:\n    """Add example rows."""\n\n'
        '\nif __name__ == "__main__":',
    )
    commit(project.path, "Our own command")
    to_the_current_template(repository)
    path = {"PATH": f"{UV.parent}{os.pathsep}{os.environ['PATH']}"}
    result = run([COPIER, "update", "--trust", "--defaults", "--vcs-ref", "HEAD"], project.path,
                 path, check=False)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stderr.splitlines() if "FAILED: after the update" in line]
    assert any(
        re.fullmatch(
            r"  FAILED: after the update, `ruff check` \(manage\.py:\d+:\d+: F821 Undefined name"
            r" `cli`\): move your own commands to my_flask_app/commands\.py \(updates leave it"
            r" alone\), then commit",
            line,
        )
        for line in failed
    ), failed


def test_a_package_name_refused_since_stops_the_update(tmp_path: Path) -> None:
    """A newer template refuses app_module names starting with "_" (Python's private
    modules) for new projects; an update of a project made before with such a package
    stops before any file changes, instead of Copier swapping in the default package."""
    repository = template_repository(tmp_path / "template")
    macros = repository / "lists" / "app_module.jinja"
    older = with_an_older_commit(
        repository,
        (macros, '{%- elif name.startswith("_") -%}private\n', ""),
        (macros, '"^[a-z][a-z0-9_]*$"', '"^[a-z_][a-z0-9_]*$"'),
    )
    destination = committed_project(
        repository, older, tmp_path / "project", app_module="_private_shop9"
    )
    update_refused(destination, "app_module", "_private_shop9")


def test_the_projects_own_commands_file_is_added_then_left_alone(tmp_path: Path) -> None:
    """commands.py, the home of a team's own commands, reaches a project made before it
    existed; the team's edits to it survive the next update."""
    repository = template_repository(tmp_path / "template")
    package = repository / "template" / "{{ app_module }}"
    init_py = package / "__init__.py.jinja"
    commands_py = package / "commands.py.jinja"
    older = with_an_older_commit(
        repository,
        (init_py, "from . import commands, health, models", "from . import health, models"),
        (init_py, "    commands.register(app)\n", ""),
        removed=(commands_py,),
    )
    destination = committed_project(repository, older, tmp_path / "project")
    project = Project(destination, {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}"}).install()
    run(UPDATE, destination, {})
    about = project.run("python", "manage.py", "about").stdout
    assert about.splitlines()[0] == "APP_ENV=development"
    assert "default database: sqlite:///" in about
    assert "APP_ENV=development" in project.run("flask", "about").stdout

    ours = destination / "my_flask_app" / "commands.py"
    ours.write_text(ours.read_text().replace('f"APP_ENV={APP_ENV}"', 'f"env: {APP_ENV}"'))
    commit(destination, "Our own wording")
    edit(commands_py, "def about() -> None:", "def about() -> None:  # changed")
    commit(repository, "A change to the template's commands.py")
    run(UPDATE, destination, {})
    assert project.run("python", "manage.py", "about").stdout.startswith("env: development")
    assert "# changed" not in ours.read_text()
