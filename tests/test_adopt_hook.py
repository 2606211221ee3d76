"""hooks/adopt.py's edits of a project's files, one function at a time: the library's line
goes where the project declares its dependencies, and nothing else in them changes."""

import sys
from pathlib import Path

import pytest

from helpers import TEMPLATE

sys.path.insert(0, str(TEMPLATE / "hooks"))
from adopt import add_requirement, environments, with_dependency

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
