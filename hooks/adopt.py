"""Hook: finish adopting an existing Flask project, then prove the adoption.

Copier has written manage.py and the migration environment (env.py, script.py.mako and
README in MIGRATIONS_DIR), nothing else. When the project's revisions live in another
folder, or a package it pins lies outside what the library supports, it stops with one
line and undoes what Copier wrote. Else it adds what the project lacks and changes nothing
it has:
- the template's .gitignore lines for migrate's own files (a SQLite database's lock file,
  what a killed squash leaves), where the project's .gitignore lacks them;
- Alembic's settings, in the project's own file (a root alembic.ini that `alembic init`
  wrote, else MIGRATIONS_DIR/alembic.ini, Flask-Migrate's): what plain `alembic` needs,
  and `lint_after`, the head at adoption;
- an empty versions/ folder when there is none;
- flask-alembic-runtime's line in the project's dependencies (pyproject.toml,
  requirements.in or requirements.txt), nothing else in them rewritten.
Then, in the project's virtualenv: the library installed without touching the packages
the project pins (one line, and nothing installed, when a pin lies outside what the library
supports), and `python manage.py migrate doctor`.

Run by hand from the project root:
    python path/to/hooks/adopt.py path/to/template --requirement 'REQUIREMENT'
"""

import argparse
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from progress import run, say, skipped
from setup_env import can_import, python_in

# What the settings file needs so that plain `alembic` runs (Flask-Migrate sets
# script_location itself, and goes on doing so): the environment's folder and the project
# root, from the file's own folder.
INI_SETTINGS = {
    "script_location": "%(here)s{to_environment}",
    "prepend_sys_path": "%(here)s{to_root}",
}

# The files Copier renders into MIGRATIONS_DIR, and its record of the answers.
RENDERED = ("env.py", "script.py.mako", "README")

# Folders never searched for a migration environment.
NOT_SEARCHED = {".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".tox", ".nox"}


@dataclass
class Copied:
    """What Copier wrote into the project before this hook runs: manage.py, its answers
    and the environment's files in MIGRATIONS_DIR."""

    project: Path
    migrations_dir: str
    answers_file: str

    def refuse(self, problem: str) -> NoReturn:
        """Stop the adoption with one line, the project as it was before Copier wrote."""
        sys.exit(f"  FAILED: {problem} ({self.undo()})")

    def undo(self) -> str:
        """Put back each file Copier replaced as git has it, remove each it added; say so."""
        written = [self.answers_file, "manage.py"]
        written += [f"{self.migrations_dir}/{name}" for name in RENDERED]
        listed = ["git", "ls-files", "-z", "--", *written]
        git = subprocess.run(listed, cwd=self.project, capture_output=True, text=True, check=False)
        if git.returncode:
            return f"the project is no git repository: restore {', '.join(written)} yourself"
        replaced = [name for name in git.stdout.split("\0") if name]
        if replaced:
            restore = ["git", "checkout", "HEAD", "--", *replaced]
            subprocess.run(restore, cwd=self.project, check=True)
        for name in set(written) - set(replaced):
            (self.project / name).unlink(missing_ok=True)
        environment = self.project / self.migrations_dir
        for folder in (environment / "versions", environment):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return "nothing of the project was changed"


def add_gitignore_lines(template_gitignore: Path, gitignore: Path, migrations_dir: str) -> None:
    """Append the template's ignore rules for migrate's own files (a SQLite database's lock
    file, what a killed squash leaves) that the project's .gitignore lacks."""
    existing = gitignore.read_text() if gitignore.exists() else ""
    have = {line.strip() for line in existing.splitlines()}
    missing = [
        line.replace("migrations/", f"{migrations_dir}/")
        for line in template_gitignore.read_text().splitlines()
        if "migrat" in line and not line.startswith("#")
    ]
    missing = [line for line in missing if line not in have]
    if not missing:
        return
    separator = "" if not existing or existing.endswith("\n") else "\n"
    block = "\n# Added by flask-alembic-template\n" + "\n".join(missing) + "\n"
    gitignore.write_text(existing + separator + block)
    say(f".gitignore: added {', '.join(missing)}")


def settings_file(project: Path, migrations_dir: str) -> str:
    """Where the project keeps Alembic's settings: the alembic.ini `alembic init` wrote at
    its root, else the environment's (Flask-Migrate's file)."""
    return "alembic.ini" if (project / "alembic.ini").is_file() else f"{migrations_dir}/alembic.ini"


def add_alembic_settings(project: Path, migrations_dir: str) -> None:
    """Give Alembic the settings it lacks in the project's own settings file, so that
    nothing outside the migration environment changes but the dependency line."""
    name = settings_file(project, migrations_dir)
    ini = project / name
    text = ini.read_text() if ini.exists() else ""
    missing = [key for key in INI_SETTINGS if not re.search(rf"^{key}\s*=", text, re.MULTILINE)]
    if not missing:
        return
    at_root = ini.parent == project
    paths = {
        "to_environment": f"/{migrations_dir}" if at_root else "",
        "to_root": "" if at_root else "/.." * len(Path(migrations_dir).parts),
    }
    add_to_alembic_section(
        ini, "".join(f"{key} = {INI_SETTINGS[key].format(**paths)}\n" for key in missing)
    )
    say(f"{name}: added {', '.join(missing)}")


def add_to_alembic_section(ini: Path, lines: str) -> None:
    """Insert `lines` at the top of the ini file's [alembic] section, made if missing."""
    text = ini.read_text() if ini.exists() else "[alembic]\n"
    if not re.search(r"^\[alembic\]", text, flags=re.MULTILINE):
        text = "[alembic]\n\n" + text
    section = re.search(r"^\[alembic\][^\n]*\n", text, flags=re.MULTILINE)
    assert section is not None  # made above
    ini.write_text(text[: section.end()] + lines + text[section.end() :])


def refuse_other_script_location(copied: Copied) -> None:
    """Stop when a root alembic.ini names another environment than MIGRATIONS_DIR."""
    ini = copied.project / "alembic.ini"
    if not ini.is_file():
        return
    parser = configparser.ConfigParser(defaults={"here": str(copied.project)})
    parser.read(ini)
    location = parser.get("alembic", "script_location", fallback=None)
    if location is None or ":" in location.replace(str(copied.project), ""):
        return  # none, or a package resource (`pkg:migrations`)
    path = (copied.project / location).resolve()
    if path != (copied.project / copied.migrations_dir).resolve():
        named = Path(os.path.relpath(path, copied.project.resolve())).as_posix()
        copied.refuse(
            f"alembic.ini's script_location names {named}/, not {copied.migrations_dir}/: "
            f"adopt it again with --data migrations_dir={named}"
        )


def environments(project: Path) -> list[Path]:
    """The project's migration environments: folders with an env.py and a versions/ folder
    holding revisions, within three levels of the root."""
    found = []
    for env_py in sorted(project.glob("env.py")) + sorted(
        path for depth in ("*", "*/*", "*/*/*") for path in project.glob(f"{depth}/env.py")
    ):
        folder = env_py.parent
        relative = folder.relative_to(project).parts
        if NOT_SEARCHED & set(relative) or any(part.startswith(".") for part in relative):
            continue
        if any((folder / "versions").glob("*.py")):
            found.append(folder)
    return found


def refuse_second_environment(copied: Copied) -> None:
    """Stop when the revisions live elsewhere than MIGRATIONS_DIR, naming the answer that
    adopts the right one."""
    project, migrations_dir = copied.project, copied.migrations_dir
    migrations = project / migrations_dir
    if any((migrations / "versions").glob("*.py")):
        return
    elsewhere = [folder for folder in environments(project) if folder != migrations]
    if not elsewhere:
        return  # a project without revisions yet: its environment starts here
    found = [folder.relative_to(project).as_posix() for folder in elsewhere]
    where = " and ".join(f"{folder}/versions" for folder in found)
    answers = " or ".join(f"--data migrations_dir={folder}" for folder in found)
    copied.refuse(
        f"the project's revisions are in {where}, not {migrations_dir}/: adopt it again "
        f"with {answers}{', whichever its app migrates with' if len(found) > 1 else ''}"
    )


def add_requirement(project: Path, requirement: str) -> None:
    """Add the library's line where the project declares its dependencies, unless there."""
    for name in ("pyproject.toml", "requirements.in", "requirements.txt"):
        path = project / name
        if not path.exists():
            continue
        text = path.read_text()
        if "flask-alembic-runtime" in text:
            return
        if name != "pyproject.toml":
            separator = "" if not text or text.endswith("\n") else "\n"
            path.write_text(f"{text}{separator}{requirement}\n")
        elif (added := with_dependency(text, requirement)) is not None:
            path.write_text(added)
        else:
            continue  # a pyproject.toml without [project] dependencies (tools only)
        say(f"{name}: added {requirement}{LOCKS.get(name, '') if locked(project, name) else ''}")
        return
    if (project / "poetry.lock").exists():
        say(f"Add the library with `poetry add '{requirement}'` (Poetry keeps its own list)")
    else:
        say(f"Add {requirement!r} to the project's dependencies: no file of them was found")


# What records a dependency file's pins, and how to refresh it after the line is added.
LOCKS = {
    "pyproject.toml": "; run `uv lock` to record it in uv.lock",
    "requirements.in": "; run `pip-compile` to record it in requirements.txt",
}


def locked(project: Path, name: str) -> bool:
    """Whether a lock records the pins of the dependency file `name`."""
    lock = "uv.lock" if name == "pyproject.toml" else "requirements.txt"
    return name in LOCKS and (project / lock).exists()


def with_dependency(pyproject: str, requirement: str) -> str | None:
    """pyproject.toml's text with `requirement` last in [project] dependencies (None when
    it has none), the rest of the text as it was."""
    project = re.search(r"^\[project\][ \t]*$", pyproject, flags=re.MULTILINE)
    if project is None:
        return None
    following = re.search(r"^\[", pyproject[project.end() :], flags=re.MULTILINE)
    end = project.end() + following.start() if following else len(pyproject)
    start = re.compile(r"^dependencies\s*=\s*\[", flags=re.MULTILINE).search(
        pyproject, project.end(), end
    )
    if start is None:
        return None
    # The array's closing bracket, and its last element's last character (`last`): read
    # as TOML reads it, strings and comments (`"x"  # note`) skipped.
    quote, comment, last = None, False, start.end() - 1
    for index in range(start.end(), end):
        char = pyproject[index]
        if comment:
            comment = char != "\n"
        elif quote:
            quote, last = (None if char == quote else quote), index
        elif char in "\"'":
            quote, last = char, index
        elif char == "#":
            comment = True
        elif char == "]":
            break
        elif not char.isspace():
            last = index
    else:
        return None
    comma = "" if pyproject[last] in ",[" else ","
    between = pyproject[last + 1 : index]  # spaces, comments, newlines
    if "\n" not in pyproject[start.end() : index]:  # one line: ["a", "b"]
        space = " " if pyproject[last] != "[" else ""
        return f'{pyproject[: last + 1]}{comma}{space}"{requirement}"{pyproject[last + 1 :]}'
    between = between if between.endswith("\n") else between.rstrip(" ") + "\n"
    line = f'    "{requirement}",\n'
    return pyproject[: last + 1] + comma + between + line + pyproject[index:]


def project_python(project: Path) -> Path | None:
    """The interpreter of the project's virtualenv: the active one, else .venv or venv."""
    folders = [Path(os.environ["VIRTUAL_ENV"])] if os.environ.get("VIRTUAL_ENV") else []
    folders += [project / ".venv", project / "venv"]
    pythons = [python_in(folder) for folder in folders]
    return next((python for python in pythons if python.exists()), None)


# Prints the installed version of each package named on the command line (null: none).
VERSIONS = """\
import json, sys
from importlib.metadata import PackageNotFoundError, version
def installed(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None
print(json.dumps({name: installed(name) for name in sys.argv[1:]}))
"""


def release(text: str) -> tuple[int, ...]:
    """A version's release numbers, e.g. (2, 0, 45) for "2.0.45"."""
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])


def supported_ranges(library: Path) -> dict[str, tuple[str, str]]:
    """The range of each package the library supports, from its pyproject.toml
    (`name>=OLDEST,<NEXT`)."""
    ranges = {}
    for requirement in tomllib.loads(library.read_text())["project"]["dependencies"]:
        found = re.match(r"([A-Za-z0-9._-]+)\s*>=\s*([\d.]+)\s*,\s*<\s*([\d.]+)$", requirement)
        if found:
            ranges[found[1].lower()] = (found[2], found[3])
    return ranges


def installed_versions(python: Path, names: list[str]) -> dict[str, str | None]:
    """The installed version of each package in the virtualenv of `python` (None: none)."""
    probe = subprocess.run(
        [python, "-c", VERSIONS, *names], capture_output=True, text=True, check=True
    )
    versions: dict[str, str | None] = json.loads(probe.stdout)
    return versions


def unsupported(
    versions: dict[str, str | None], ranges: dict[str, tuple[str, str]]
) -> dict[str, str]:
    """The packages outside the ranges, each with its installed version ("none": none)."""
    outside = {}
    for name, (oldest, following) in ranges.items():
        installed = versions.get(name)
        if installed is None or not release(oldest) <= release(installed) < release(following):
            outside[name] = installed or "none"
    return outside


def upgrade_hint(project: Path, wanted: list[str]) -> str:
    """How the project raises its pins to the `wanted` requirements, in its own tool's words."""
    quoted = " ".join(f"'{requirement}'" for requirement in wanted)
    if (project / "uv.lock").exists():
        return f"uv add {quoted}"
    if (project / "poetry.lock").exists():
        return f"poetry add {quoted}"
    pyproject = project / "pyproject.toml"
    if pyproject.exists() and "[project]" in pyproject.read_text():
        return "raise it in pyproject.toml" if len(wanted) == 1 else "raise them in pyproject.toml"
    return f"pip install {quoted}, and raise the pins in the project's requirements"


def require_supported(
    versions: dict[str, str | None], ranges: dict[str, tuple[str, str]], copied: Copied
) -> None:
    """Stop, before anything is written, when a package the project pins lies outside what
    the library supports: the project's packages are never upgraded behind its back."""
    outside = unsupported(versions, ranges)
    if outside:
        supported = {name: f">={ranges[name][0]},<{ranges[name][1]}" for name in outside}
        found = "; ".join(
            f"{name} {installed} (supported: {supported[name]})"
            for name, installed in outside.items()
        )
        wanted = [f"{name}{supported[name]}" for name in outside]
        copied.refuse(
            f"flask-alembic-runtime, which the migrations would run on, does not support "
            f"{found}: {upgrade_hint(copied.project, wanted)}, then adopt again"
        )


def install_library(python: Path, project: Path, requirement: str) -> None:
    """Install the library into the project's virtualenv and nothing else (its
    dependencies are the project's own packages, checked by require_supported)."""
    if can_import(python, "pip"):
        install = [python, "-m", "pip", "install", "--no-deps", requirement]
    else:  # a virtualenv that uv made has no pip
        uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
        install = [uv, "pip", "install", "--python", python, "--no-deps", requirement]
    title = "Installed flask-alembic-runtime (the project's packages left as they are)"
    run(title, install, project, starting="Installing flask-alembic-runtime")


def record_lint_baseline(python: Path, project: Path, migrations_dir: str) -> None:
    """Record the head the project is adopted at (`lint_after`), so that `migrate lint`
    checks the revisions written from now on, not those deployed long ago."""
    heads = run("Heads of the history", [python, "manage.py", "migrate", "heads"], project)
    revisions = [line.split()[0] for line in heads.splitlines() if line.strip()]
    if len(revisions) != 1:
        return  # no history yet, or several heads: lint checks everything
    shown = settings_file(project, migrations_dir)
    if re.search(r"^lint_after\s*=", (project / shown).read_text(), flags=re.MULTILINE):
        return
    add_to_alembic_section(
        project / shown,
        "# `migrate lint` checks the revisions after this one, the head at adoption.\n"
        f"lint_after = {revisions[0]}\n",
    )
    say(f"{shown}: lint_after = {revisions[0]} (`migrate lint base:heads` lints all)")


def name_flask_db(flask_migrate: str | None) -> None:
    """Say which `flask db` runs where Flask-Migrate before 4 registers the name too (as a
    `flask.commands` entry point): Flask takes either, by the order of the install."""
    if flask_migrate is None or release(flask_migrate) >= (4,):
        return
    say(
        f"flask db: Flask-Migrate {flask_migrate} registers `db` too, so `flask db` may be "
        "its own (the same env.py, but it neither skips a db.create_all() at start nor has "
        "doctor, lint...): `flask migrate` is always this library's, or raise Flask-Migrate "
        "to 4 (no such registration)"
    )


def point_to_replaced_env(project: Path, migrations_dir: str) -> None:
    """Say where the project's own env.py went: git has it, with its team's edits."""
    env_py = f"{migrations_dir}/env.py"
    tracked = ["git", "ls-files", "--error-unmatch", env_py]
    if subprocess.run(tracked, cwd=project, capture_output=True, check=False).returncode:
        return
    unchanged = ["git", "diff", "--quiet", "HEAD", "--", env_py]
    if subprocess.run(unchanged, cwd=project, capture_output=True, check=False).returncode:
        say(
            f"{env_py}: now the library's settings file; the project's own is in git (`git "
            f"diff HEAD -- {env_py}`): carry any edits of its team's into the settings there"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path, help="the template repository")
    parser.add_argument(
        "--requirement",
        required=True,
        help="flask-alembic-runtime's line, as pyproject.toml takes it",
    )
    parser.add_argument("--migrations-dir", default="migrations")
    parser.add_argument("--answers-file", default=".copier-answers.yml")
    parser.add_argument("--prove", action=argparse.BooleanOptionalAction, default=True)
    options = parser.parse_args()
    project = Path.cwd()
    copied = Copied(project, options.migrations_dir, options.answers_file)
    refuse_second_environment(copied)
    refuse_other_script_location(copied)
    point_to_replaced_env(project, options.migrations_dir)
    python = project_python(project) if options.prove else None
    ranges = supported_ranges(options.template / "pyproject.toml")
    # One probe: the project's versions of the library's dependencies, the library's, and
    # Flask-Migrate's.
    names = [*ranges, "flask-alembic-runtime", "flask-migrate"]
    versions = installed_versions(python, names) if python else {}
    install = python is not None and versions["flask-alembic-runtime"] is None
    if python is not None and install:
        require_supported(versions, ranges, copied)
    gitignore = options.template / "template" / ".gitignore"
    add_gitignore_lines(gitignore, project / ".gitignore", options.migrations_dir)
    add_alembic_settings(project, options.migrations_dir)
    (project / options.migrations_dir / "versions").mkdir(parents=True, exist_ok=True)
    add_requirement(project, options.requirement)
    name_flask_db(versions.get("flask-migrate"))
    if python is None:
        if options.prove:
            skipped("Adoption proof", "no virtualenv found: run `python manage.py migrate doctor`")
        return
    if install:
        install_library(python, project, options.requirement)
    record_lint_baseline(python, project, options.migrations_dir)
    doctor = [python, "manage.py", "migrate", "doctor"]
    for line in run("Adoption proof (migrate doctor)", doctor, project).splitlines():
        say(f"  {line}")


if __name__ == "__main__":
    main()
