"""hooks/adopt.py's edits of a project's files, one function at a time: the library's line
goes where the project declares its dependencies, and nothing else in them changes; the
settings go to the project's own file; a refusal undoes what Copier wrote."""

import sys
from pathlib import Path

import pytest

from helpers import TEMPLATE, commit, run

sys.path.insert(0, str(TEMPLATE / "hooks"))
from adopt import (
    Copied,
    add_alembic_settings,
    add_requirement,
    environments,
    refuse_other_script_location,
    refuse_second_environment,
    upgrade_hint,
    with_dependency,
)

REQUIREMENT = "flask-alembic-runtime @ git+https://example.org/t.git@abc"

# pyproject.toml's [project] dependencies as teams write them, and the same with the line.
PYPROJECTS = [
    (
        '[project]\nname = "x"\ndependencies = [\n    "flask>=3",\n    "psycopg[binary]",\n]\n',
        (
            f'[project]\nname = "x"\ndependencies = [\n    "flask>=3",\n    "psycopg[binary]",\n'
            f'    "{REQUIREMENT}",\n]\n'
        ),
    ),
    (
        '[project]\ndependencies = [\n    "flask>=3"  # no comma\n]\n\n[tool.ruff]\nx = 1\n',
        (
            f'[project]\ndependencies = [\n    "flask>=3",  # no comma\n    "{REQUIREMENT}",\n]'
            "\n\n[tool.ruff]\nx = 1\n"
        ),
    ),
    (
        '[project]\ndependencies = ["flask", "sqlalchemy[asyncio]"]\n',
        f'[project]\ndependencies = ["flask", "sqlalchemy[asyncio]", "{REQUIREMENT}"]\n',
    ),
    ("[project]\ndependencies = []\n", f'[project]\ndependencies = ["{REQUIREMENT}"]\n'),
    (  # a URL's fragment is no comment; the closing bracket on the last element's line
        '[project]\ndependencies = [\n    "x @ https://e.org/x.zip#sha256=ab"]\n',
        (
            f'[project]\ndependencies = [\n    "x @ https://e.org/x.zip#sha256=ab",\n'
            f'    "{REQUIREMENT}",\n]\n'
        ),
    ),
]


@pytest.mark.parametrize(("before", "after"), PYPROJECTS)
def test_the_line_goes_last_in_project_dependencies(before: str, after: str) -> None:
    assert with_dependency(before, REQUIREMENT) == after


@pytest.mark.parametrize(
    "pyproject",
    [
        "[tool.ruff]\nline-length = 100\n",  # the tools' settings only
        '[project]\nname = "x"\n\n[tool.x]\ndependencies = ["a"]\n',  # another table's key
    ],
)
def test_a_pyproject_without_project_dependencies_takes_no_line(pyproject: str) -> None:
    assert with_dependency(pyproject, REQUIREMENT) is None


@pytest.mark.parametrize(
    ("files", "written"),
    [
        ({"requirements.txt": "flask==3.0.3"}, "requirements.txt"),  # no final newline
        ({"requirements.in": "flask\n", "requirements.txt": "flask==3.0.3\n"}, "requirements.in"),
        ({"pyproject.toml": "[tool.ruff]\n", "requirements.txt": "flask\n"}, "requirements.txt"),
        ({"pyproject.toml": "[project]\ndependencies = []\n", "requirements.txt": ""}, None),
    ],
)
def test_one_file_gains_the_line(
    tmp_path: Path, files: dict[str, str], written: str | None
) -> None:
    """requirements.in before the requirements.txt compiled from it; pyproject.toml first
    where it declares the dependencies (`written` None)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    add_requirement(tmp_path, REQUIREMENT)
    changed = {name for name, text in files.items() if (tmp_path / name).read_text() != text}
    assert changed == {written or "pyproject.toml"}
    if written:
        text = files[written]
        assert (tmp_path / written).read_text() == (
            text + ("" if text.endswith("\n") else "\n") + REQUIREMENT + "\n"
        )
    add_requirement(tmp_path, REQUIREMENT)  # a second adoption adds nothing
    assert sum(REQUIREMENT in (tmp_path / name).read_text() for name in files) == 1


def test_environments_are_found_where_flask_migrate_apps_keep_them(tmp_path: Path) -> None:
    """A folder with env.py and revisions, up to three levels down; virtualenvs and hidden
    folders are not searched."""
    for folder in ("pkg/migrations", ".venv/lib/x", "docs/example", "a/b/c/d"):
        (tmp_path / folder / "versions").mkdir(parents=True)
        (tmp_path / folder / "env.py").write_text("")
        (tmp_path / folder / "versions" / "abc_first.py").write_text("")
    (tmp_path / "docs/example/versions/abc_first.py").unlink()  # no revisions: not one
    assert environments(tmp_path) == [tmp_path / "pkg/migrations"]


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ({"pyproject.toml": "[project]\ndependencies = []\n", "uv.lock": ""}, "`uv lock`"),
        ({"requirements.in": "", "requirements.txt": ""}, "`pip-compile`"),
        ({"pyproject.toml": "[tool.poetry]\n", "poetry.lock": ""}, "`poetry add '"),
        ({"pyproject.toml": "[tool.ruff]\n"}, "no file of them was found"),
    ],
)
def test_what_records_the_pins_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], said: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    add_requirement(tmp_path, REQUIREMENT)
    assert said in capsys.readouterr().out


def git_project(path: Path, files: dict[str, str]) -> Path:
    """A project whose `files` are committed."""
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    run(["git", "init", "--quiet"], path, {})
    commit(path, "Project")
    return path


def test_a_root_alembic_ini_naming_another_folder_refuses_and_undoes_the_copy(
    tmp_path: Path,
) -> None:
    """`alembic init alembic` wrote alembic.ini at the root; the answer says migrations/: one
    line names the answer, the env.py Copier replaced is back, and the files it added are
    gone."""
    project = git_project(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/alembic\n",
        "migrations/env.py": "# the team's\n",
    })  # fmt: skip
    (project / "migrations" / "env.py").write_text("# Copier's\n")
    (project / "manage.py").write_text("# Copier's\n")
    with pytest.raises(SystemExit) as exit_:
        refuse_other_script_location(Copied(project, "migrations", ".copier-answers.yml"))
    assert exit_.value.code == (
        "  FAILED: alembic.ini's script_location names alembic/, not migrations/: adopt it "
        "again with --data migrations_dir=alembic (nothing of the project was changed)"
    )
    assert (project / "migrations" / "env.py").read_text() == "# the team's\n"
    assert not (project / "manage.py").exists()


def test_the_settings_go_to_the_projects_own_file(tmp_path: Path) -> None:
    """A root alembic.ini (plain Alembic) keeps them; else the environment's (Flask-Migrate's),
    with paths from the file's own folder."""
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/alembic\n")
    add_alembic_settings(tmp_path, "alembic")
    assert (tmp_path / "alembic.ini").read_text() == (
        "[alembic]\nprepend_sys_path = %(here)s\nscript_location = %(here)s/alembic\n"
    )
    (tmp_path / "alembic.ini").unlink()
    (tmp_path / "pkg" / "migrations").mkdir(parents=True)  # Copier wrote env.py there
    add_alembic_settings(tmp_path, "pkg/migrations")
    assert (tmp_path / "pkg" / "migrations" / "alembic.ini").read_text() == (
        "[alembic]\nscript_location = %(here)s\nprepend_sys_path = %(here)s/../..\n"
    )


@pytest.mark.parametrize(
    ("files", "hint"),
    [
        ({"uv.lock": ""}, "uv add 'alembic>=1.13,<1.21'"),
        ({"poetry.lock": ""}, "poetry add 'alembic>=1.13,<1.21'"),
        ({"pyproject.toml": "[project]\n"}, "raise it in pyproject.toml"),
        (
            {"requirements.txt": "alembic==1.12\n"},
            "pip install 'alembic>=1.13,<1.21', and raise the pins in the project's requirements",
        ),
    ],
)
def test_the_fix_for_an_unsupported_pin_is_in_the_projects_own_tool(
    tmp_path: Path, files: dict[str, str], hint: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert upgrade_hint(tmp_path, ["alembic>=1.13,<1.21"]) == hint


def test_two_environments_elsewhere_are_both_named(tmp_path: Path) -> None:
    """Which one the app migrates with, the answer settles."""
    project = git_project(tmp_path, {
        f"{folder}/{name}": "" for folder in ("api/migrations", "admin/migrations")
        for name in ("env.py", "versions/a1_first.py")
    })  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        refuse_second_environment(Copied(project, "migrations", ".copier-answers.yml"))
    assert exit_.value.code == (
        "  FAILED: the project's revisions are in admin/migrations/versions and "
        "api/migrations/versions, not migrations/: adopt it again with --data "
        "migrations_dir=admin/migrations or --data migrations_dir=api/migrations, whichever "
        "its app migrates with (nothing of the project was changed)"
    )
