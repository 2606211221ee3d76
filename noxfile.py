"""The library's unit tests (tests/library) on each end of its supported versions:
`nox --session library` runs them with the oldest and with the newest release line of
each dependency, `nox --session "library(oldest)"` with one set.

Both sets come from pyproject.toml, `[project] dependencies`, so that they are written once:
`oldest` is each lower bound's line (`sqlalchemy>=2.0,<2.2`: sqlalchemy==2.0.*), `newest`
the line below each upper bound (sqlalchemy==2.1.*). The test tools keep the ranges of the
`test` extra.
"""

import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.version import Version

nox.options.sessions = ["library"]

PROJECT = tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text())["project"]

#: What tests/library and the conftests it loads import or run, besides the library:
#: tests/conftest.py imports helpers.py (copier); format_revision runs ruff; test_squawk
#: runs squawk; some tests use the PostgreSQL and MariaDB servers.
TEST_TOOLS = ("pytest", "pytest-xdist", "copier", "ruff", "squawk-cli", "psycopg", "pymysql")

#: What only the oldest set needs. SQLAlchemy 2.0 connects `postgresql://` URLs (the test
#: servers', tests/helpers.py) with psycopg2; 2.1 with psycopg (3).
OLDEST_EXTRA = ["psycopg2-binary>=2.9,<2.10"]


def release_line(requirement: Requirement, which: str) -> str:
    """`name==X.Y.*`: the release line of the requirement's lower bound (`>=X.Y`), or the
    one below its upper bound (`<X.Y+1`)."""
    bounds = {spec.operator: Version(spec.version) for spec in requirement.specifier}
    if which == "oldest":
        major, minor = bounds[">="].release[:2]
    else:
        major, minor = bounds["<"].release[:2]
        if minor == 0:
            raise ValueError(f"{requirement}: which line is below <{bounds['<']}?")
        minor -= 1
    return f"{requirement.name}=={major}.{minor}.*"


def pins(which: str) -> list[str]:
    """The dependencies' release lines of one set, "oldest" or "newest"."""
    lines = [release_line(Requirement(text), which) for text in PROJECT["dependencies"]]
    return lines + (OLDEST_EXTRA if which == "oldest" else [])


def tool_requirements() -> list[str]:
    """TEST_TOOLS as the `test` extra pins them."""
    extra = PROJECT["optional-dependencies"]["test"]
    return [text for text in extra if Requirement(text).name in TEST_TOOLS]


SHOW_VERSIONS = """\
import sys
from importlib.metadata import version
print("Installed:", ", ".join(f"{name} {version(name)}" for name in sys.argv[1:]))
"""


@nox.session(venv_backend="uv")
@nox.parametrize("versions", ["oldest", "newest"], ids=["oldest", "newest"])
def library(session: nox.Session, versions: str) -> None:
    """The library's unit tests with one set of dependencies: `oldest` or `newest`."""
    session.install("-e", ".", *pins(versions), *tool_requirements())
    names = [Requirement(text).name for text in PROJECT["dependencies"]]
    session.run("python", "-c", SHOW_VERSIONS, *names, "werkzeug", silent=False)
    session.run("pytest", "tests/library", "-p", "no:cacheprovider", "-n", "2", *session.posargs)
