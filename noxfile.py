"""The library's unit tests (tests/library) across its supported versions: `nox --session
library` runs them with the oldest, the first of the newest major, and the newest release
line of each dependency; `nox --session "library(oldest)"` with one set. `nox --session
copier` runs the generation tests on the oldest Copier the template accepts.

The sets come from pyproject.toml, `[project] dependencies`, so that they are written once:
`oldest` is each lower bound's line (`sqlalchemy>=1.4,<2.2`: sqlalchemy==1.4.*), `major`
the first line of the newest major (sqlalchemy==2.0.*), `newest` the line below each upper
bound (sqlalchemy==2.1.*). The test tools keep the ranges of the `test` extra.
"""

import re
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.version import Version

nox.options.sessions = ["library"]

PROJECT = tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text())["project"]
COPIER_YML = Path(__file__).parent / "copier.yml"

#: What tests/library and the conftests it loads import or run, besides the library:
#: tests/conftest.py imports helpers.py (copier); format_revision runs ruff; test_squawk
#: runs squawk; some tests use the PostgreSQL and MariaDB servers.
TEST_TOOLS = ("pytest", "pytest-xdist", "copier", "ruff", "squawk-cli", "psycopg", "pymysql")

#: What the older sets also need. SQLAlchemy before 2.1 connects `postgresql://` URLs (the
#: test servers', tests/helpers.py) with psycopg2; 2.1 with psycopg (3). Flask 2.1 asks for
#: Werkzeug>=2.0 but breaks on 3.0 (`url_quote`): projects that pin Flask 2.1 pin Werkzeug
#: 2.1 beside it.
PSYCOPG2 = "psycopg2-binary>=2.9,<2.10"
EXTRA = {"oldest": [PSYCOPG2, "werkzeug>=2.1,<2.2"], "major": [PSYCOPG2], "newest": []}


def release_line(requirement: Requirement, which: str) -> str:
    """`name==X.Y.*`: the release line of the requirement's lower bound (`>=X.Y`, "oldest"),
    the one below its upper bound (`<X.Y+1`, "newest"), or the first of the newest major
    version (`X.0`, "major": where an old major and a new one are both supported, e.g.
    SQLAlchemy 1.4 and 2.x; the lower bound where the range has one major only)."""
    bounds = {spec.operator: Version(spec.version) for spec in requirement.specifier}
    oldest = bounds[">="].release[:2]
    newest = bounds["<"].release[:2]
    if newest[1] == 0:
        raise ValueError(f"{requirement}: which line is below <{bounds['<']}?")
    major, minor = {
        "oldest": oldest,
        "newest": (newest[0], newest[1] - 1),
        "major": max(oldest, (newest[0], 0)),
    }[which]
    return f"{requirement.name}=={major}.{minor}.*"


def pins(which: str) -> list[str]:
    """The dependencies' release lines of one set: "oldest", "major" or "newest"."""
    lines = [release_line(Requirement(text), which) for text in PROJECT["dependencies"]]
    return lines + EXTRA[which]


def tool_requirements() -> list[str]:
    """TEST_TOOLS as the `test` extra pins them."""
    extra = PROJECT["optional-dependencies"]["test"]
    return [text for text in extra if Requirement(text).name in TEST_TOOLS]


#: The sets `library` runs: the oldest release lines, the first of each newest major
#: (SQLAlchemy 2.0, Flask-SQLAlchemy 3.0, Flask 3.0), and the newest.
SETS = ["oldest", "major", "newest"]

SHOW_VERSIONS = """\
import sys
from importlib.metadata import version
print("Installed:", ", ".join(f"{name} {version(name)}" for name in sys.argv[1:]))
"""


@nox.session(venv_backend="uv")
@nox.parametrize("versions", SETS, ids=SETS)
def library(session: nox.Session, versions: str) -> None:
    """The library's unit tests with one set of dependencies (SETS)."""
    session.install("-e", ".", *pins(versions), *tool_requirements())
    names = [Requirement(text).name for text in PROJECT["dependencies"]]
    session.run("python", "-c", SHOW_VERSIONS, *names, "werkzeug", silent=False)
    session.run("pytest", "tests/library", "-p", "no:cacheprovider", "-n", "2", *session.posargs)


@nox.session(venv_backend="uv")
def copier(session: nox.Session) -> None:
    """The template's generation tests on the oldest Copier it accepts (copier.yml's
    `_min_copier_version`), with the other test tools as the `test` extra pins them."""
    floor = re.search(r'^_min_copier_version: "(.+)"', COPIER_YML.read_text(), re.MULTILINE)
    assert floor is not None, "copier.yml has no _min_copier_version"
    extra = PROJECT["optional-dependencies"]["test"]
    tools = [text for text in extra if Requirement(text).name != "copier"]
    session.install("-e", ".", f"copier=={floor[1]}", *tools)
    session.run("copier", "--version", silent=False)
    tests = ["tests/test_generate.py", "tests/test_questions.py", "tests/test_hooks.py"]
    session.run("pytest", *tests, "-p", "no:cacheprovider", "-n", "2", *session.posargs)
