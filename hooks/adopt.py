"""Hook: finish adopting an existing Flask project, then prove the adoption.

Copier has written manage.py and the migration environment, nothing else. This adds what
the project lacks and changes nothing it has:
- the template's .gitignore lines the project's .gitignore misses, appended;
- Alembic's settings: `[tool.alembic]` appended to pyproject.toml when the project has one,
  else the two keys migrations/alembic.ini (Flask-Migrate's) needs for `alembic -c`;
- an empty migrations/versions/ when there is none.
Then, in the project's virtualenv, `python manage.py migrate doctor`: the migrations run
on flask-alembic-runtime, which the virtualenv must have (the proof says how to add it).

Run by hand from the project root:
    python path/to/hooks/adopt.py path/to/template/.gitignore --requirement 'REQUIREMENT'
"""

import argparse
import os
import re
import sys
from pathlib import Path

from progress import run, say, skipped
from setup_env import can_import, python_in

PYPROJECT_SETTINGS = """
# Alembic's settings (Alembic >= 1.16), read by `python manage.py migrate` and plain `alembic`.
[tool.alembic]
script_location = "%(here)s/migrations"
# Put the project root on sys.path, so that env.py can import the app.
prepend_sys_path = ["%(here)s"]
"""

# What migrations/alembic.ini needs so that plain `alembic -c migrations/alembic.ini` runs
# (Flask-Migrate sets script_location itself, and goes on doing so).
INI_SETTINGS = {"script_location": "%(here)s", "prepend_sys_path": "%(here)s/.."}


def add_gitignore_lines(template_gitignore: Path, gitignore: Path) -> None:
    """Append the template's ignore rules that the project's .gitignore lacks."""
    existing = gitignore.read_text() if gitignore.exists() else ""
    have = {line.strip() for line in existing.splitlines()}
    missing = [
        line
        for line in template_gitignore.read_text().splitlines()
        if line.strip() and not line.startswith("#") and line.strip() not in have
    ]
    if not missing:
        return
    separator = "" if not existing or existing.endswith("\n") else "\n"
    block = "\n# Added by flask-alembic-template\n" + "\n".join(missing) + "\n"
    gitignore.write_text(existing + separator + block)
    say(f".gitignore: added {', '.join(missing)}")


def add_alembic_settings(project: Path) -> None:
    """Give Alembic its settings where the project keeps its own."""
    pyproject = project / "pyproject.toml"
    if pyproject.exists():
        text = pyproject.read_text()
        if not re.search(r"^\[tool\.alembic\]", text, flags=re.MULTILINE):
            separator = "" if text.endswith("\n") else "\n"
            pyproject.write_text(text + separator + PYPROJECT_SETTINGS)
            say("pyproject.toml: added [tool.alembic]")
        return
    ini = project / "migrations" / "alembic.ini"
    text = ini.read_text() if ini.exists() else "[alembic]\n"
    if not re.search(r"^\[alembic\]", text, flags=re.MULTILINE):
        text = "[alembic]\n\n" + text
    section = re.search(r"^\[alembic\][^\n]*\n", text, flags=re.MULTILINE)
    missing = [key for key in INI_SETTINGS if not re.search(rf"^{key}\s*=", text, re.MULTILINE)]
    if not missing:
        return
    lines = "".join(f"{key} = {INI_SETTINGS[key]}\n" for key in missing)
    ini.write_text(text[: section.end()] + lines + text[section.end() :])
    say(f"migrations/alembic.ini: added {', '.join(missing)}")


def project_python(project: Path) -> Path | None:
    """The interpreter of the project's virtualenv: the active one, else .venv or venv."""
    folders = [Path(os.environ["VIRTUAL_ENV"])] if os.environ.get("VIRTUAL_ENV") else []
    folders += [project / ".venv", project / "venv"]
    pythons = [python_in(folder) for folder in folders]
    return next((python for python in pythons if python.exists()), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template_gitignore", type=Path)
    parser.add_argument(
        "--requirement",
        required=True,
        help="flask-alembic-runtime's line, as pyproject.toml takes it",
    )
    parser.add_argument("--prove", action=argparse.BooleanOptionalAction, default=True)
    options = parser.parse_args()
    project = Path.cwd()
    add_gitignore_lines(options.template_gitignore, project / ".gitignore")
    add_alembic_settings(project)
    (project / "migrations" / "versions").mkdir(parents=True, exist_ok=True)
    if not options.prove:
        return
    python = project_python(project)
    if python is None:
        skipped("Adoption proof", "no virtualenv found: run `python manage.py migrate doctor`")
        return
    if not can_import(python, "flask_alembic_runtime"):
        requirement = options.requirement
        sys.exit(
            f"  FAILED: the migrations now run on flask-alembic-runtime, which {python} lacks: "
            f"add '{requirement}' to the project's dependencies, install it (pip install "
            f"'{requirement}', or uv pip install), then run `python manage.py migrate doctor`"
        )
    doctor = [python, "manage.py", "migrate", "doctor"]
    for line in run("Adoption proof (migrate doctor)", doctor, project).splitlines():
        say(f"  {line}")


if __name__ == "__main__":
    main()
