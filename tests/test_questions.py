"""Each validator in copier.yml rejects bad answers with its message, and accepts good ones."""

import builtins
import keyword
import sys
import tomllib
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from helpers import COPIER, TEMPLATE, UV, Project, render, run

# Each refused answer, and the first line of what the user is told: it names the fix.
REFUSED = [
    ({"project_name": "123 !!"}, 'project_name needs at least one letter, e.g. "My Flask App"'),
    ({"project_name": "two\nlines"}, 'project_name must be one line of text, e.g. "My Flask App"'),
    ({"project_name": "a" * 300}, "project_name has 300 characters; the limit is 100: shorten it"),
    ({"app_module": ""}, 'app_module is needed: e.g. "my_app"'),
    (
        {"app_module": "My App"},
        'app_module "My App" must be lower_case_with_underscores, e.g. "my_app"',
    ),
    ({"app_module": "MyApp"}, "must be lower_case_with_underscores"),
    ({"app_module": "2fast"}, "must be lower_case_with_underscores"),
    ({"app_module": "my-app"}, "must be lower_case_with_underscores"),
    ({"app_module": "x" * 61}, "app_module has 61 characters; the limit is 60: shorten it"),
    ({"app_module": "class"}, 'app_module "class" is a Python keyword: try "class_app"'),
    # What pytest collects and imports as test files, and Python's private names.
    (
        {"app_module": "test_app"},
        'app_module "test_app" is a test name: try "my_test_app"',
    ),
    ({"app_module": "test_migrations"}, 'is a test name: try "my_test_migrations"'),
    ({"app_module": "shop_test"}, 'is a test name: try "shop_test_app"'),
    ({"app_module": "test"}, 'is a test name: try "my_test_app"'),
    ({"app_module": "conftest"}, 'is a test name: try "conftest_app"'),
    ({"app_module": "_pytest"}, 'app_module "_pytest" starts with "_": try "pytest_app"'),
    ({"app_module": "_strptime"}, 'starts with "_": try "strptime_app"'),
    ({"app_module": "__future__"}, 'starts with "_": try "future_app"'),
    ({"app_module": "__main__"}, 'starts with "_": try "main_app"'),
    ({"app_module": "_private_shop9"}, 'starts with "_": try "private_shop9_app"'),
    ({"app_module": "json"}, 'app_module "json" would shadow a module: try "json_app"'),
    ({"app_module": "flask"}, 'app_module "flask" would shadow a module: try "flask_app"'),
    ({"app_module": "alembic"}, "would shadow a module"),
    ({"app_module": "sqlalchemy"}, "would shadow a module"),
    ({"app_module": "copier"}, "would shadow a module"),
    ({"app_module": "tests"}, 'is a test name: try "tests_app"'),
    ({"app_module": "migrations"}, "would shadow a module"),
    ({"app_module": "flask_alembic_runtime"}, "would shadow a module"),
    ({"app_module": "manage"}, "would shadow a module"),
    ({"db_object": "my db"}, 'db_object "my db" is not a Python identifier: try "db"'),
    (
        {"db_object": "import"},
        'db_object "import" is a Python keyword: pick another name, e.g. "db"',
    ),
    ({"db_object": "None"}, 'db_object "None" is a Python keyword'),
    ({"db_object": "__name__"}, 'db_object "__name__" is a Python special name: try "db"'),
    ({"db_object": "__file__"}, "is a Python special name"),
    ({"db_object": "True"}, 'db_object "True" is a Python keyword'),
    ({"db_object": "len"}, 'db_object "len" would hide Python\'s built-in len: try "db"'),
    ({"db_object": "str"}, "would hide Python's built-in str"),
    ({"db_object": "getattr"}, "would hide Python's built-in getattr"),
    ({"db_object": "isinstance"}, "would hide Python's built-in isinstance"),
    ({"db_object": "app"}, 'db_object "app" is used by the project: pick another, e.g. "db"'),
    ({"db_object": "create_app"}, "is used by the project"),
    ({"db_object": "models"}, "is used by the project"),
    (
        {"app_module": "shop", "db_object": "shop"},
        'db_object "shop" is app_module\'s name too: pick another, e.g. "db"',
    ),
    (
        {"app_module": "db", "db_object": "db"},
        'app_module\'s name too: pick another, e.g. "database"',
    ),
    ({"db_object": "Event"}, 'db_object "Event" is used by the project'),
    ({"app_style": "singleton"}, "'singleton' is not in ['factory', 'module']"),
    ({"database": "oracle"}, "'oracle' is not in ['sqlite', 'postgresql', 'mysql']"),
    ({"binds": "analytics"}, "binds must be a YAML list of names, e.g. [analytics] or []"),
    ({"binds": {"analytics": 1}}, "binds must be a YAML list of names"),
    (
        {"binds": ["Analytics"]},
        'bind "Analytics" must be a lower-case identifier, e.g. "analytics"',
    ),
    ({"binds": ["my-db"]}, 'bind "my-db" must be a lower-case identifier'),
    ({"binds": [1]}, 'bind "1" must be a lower-case identifier'),
    ({"binds": ["default"]}, 'bind "default" is the main database\'s name: try "analytics"'),
    ({"binds": ["a", "b", "a"]}, 'bind "a" is listed twice: list each database once'),
    ({"binds": ["b" * 240]}, 'bind "bbbbbbbbb..." has 240 characters; the limit is 50: shorten it'),
    ({"runtime_source": "npm"}, 'runtime_source "npm" must be "git" or "pypi"'),
    # Adopting: the app as `flask --app` takes it, the environment inside the project.
    ({"adopt": True, "app_module": "my app"}, 'app_module "my app" is no flask --app value'),
    ({"adopt": True, "app_module": "9pkg.run"}, 'is no flask --app value, e.g. "pkg.run"'),
    ({"adopt": True, "app_module": "pkg..run"}, "is no flask --app value"),
    ({"adopt": True, "app_module": "pkg:create app"}, "is no flask --app value"),
    ({"adopt": True, "migrations_dir": "../shared"}, 'migrations_dir "../shared" is outside'),
    ({"adopt": True, "migrations_dir": "/srv/migrations"}, "is outside the project: try"),
    ({"adopt": True, "migrations_dir": ""}, 'migrations_dir "" is outside the project'),
]


@pytest.mark.parametrize(("answers", "message"), REFUSED)
def test_bad_answer_is_rejected_with_its_message(
    tmp_path: Path, answers: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match="^(Validation error|Invalid choice)") as error:
        render(tmp_path / "project", **answers)
    assert message in str(error.value)
    assert not (tmp_path / "project" / "manage.py").exists()
    # Copier shows the message on one line under the prompt, cut at the terminal's width.
    told = str(error.value).split(": ", 1)[1].splitlines()[0]
    assert len(told) <= 72, f"{len(told)} columns: {told}"


def test_cli_names_the_problem_and_the_fix(tmp_path: Path) -> None:
    result = run(
        [
            COPIER,
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "app_module=json",
            TEMPLATE,
            tmp_path / "project",
        ],
        tmp_path,
        {},
        check=False,
    )
    assert result.returncode != 0
    assert 'app_module "json" would shadow a module: try "json_app"' in result.stderr


@pytest.mark.parametrize(
    ("answers", "package"),
    [
        ({}, "my_flask_app"),
        ({"project_name": "Shop 2.0"}, "shop_2_0"),
        ({"project_name": "42 Things"}, "things"),
        ({"app_module": "my_test_suite"}, "my_test_suite"),
        ({"app_module": "testing_tools"}, "testing_tools"),
        # A name whose own package would be refused defaults to one that is accepted.
        ({"project_name": "Test App"}, "my_test_app"),
        ({"project_name": "Flask"}, "flask_app"),
        ({"project_name": "JSON"}, "json_app"),
        ({"project_name": "Shop Test"}, "shop_test_app"),
        ({"project_name": "日本のアプリ"}, "my_app"),
        ({"app_module": "db"}, "db"),  # the SQLAlchemy object is then called `database`
        ({"app_module": "match"}, "match"),  # a soft keyword is a valid module name
        ({"db_object": "Database"}, "my_flask_app"),
    ],
)
def test_good_answer_is_accepted(tmp_path: Path, answers: dict[str, str], package: str) -> None:
    project = render(tmp_path / "project", **answers)
    assert (project / package / "__init__.py").is_file()
    stored = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert stored["app_module"] == package
    assert {"python_keywords", "reserved_modules", "generated_names"}.isdisjoint(stored)


@pytest.mark.parametrize(
    ("app_module", "call"),
    [
        ("", "find_app()"),
        ("AppName", 'find_app("AppName")'),
        ("pkg.run", 'find_app("pkg.run")'),
        ("pkg.run:create_app('prod')", "find_app(\"pkg.run:create_app('prod')\")"),
        ("wsgi.py", 'find_app("wsgi.py")'),
    ],
)
def test_an_adopted_app_is_found_as_flask_app_finds_it(
    tmp_path: Path, app_module: str, call: str
) -> None:
    """env.py and manage.py find the app as `flask --app` does; an environment inside the
    package is written there, and manage.py names it."""
    project = render(
        tmp_path / "project", adopt=True, app_module=app_module, migrations_dir="pkg/migrations"
    )
    env_py = (project / "pkg" / "migrations" / "env.py").read_text()
    manage_py = (project / "manage.py").read_text()
    assert f"return {call}" in env_py and f"return {call}" in manage_py
    assert '"--directory", str(root / "pkg/migrations")' in manage_py
    assert not (project / "migrations").exists()
    ruff = [sys.executable, "-m", "ruff", "check", "--quiet", "--line-length", "100", "."]
    run(ruff, project, {})


def hidden_list(name: str) -> list[object]:
    """One of the lists copier.yml's validators consult (lists/names.yml)."""
    lists = yaml.safe_load((TEMPLATE / "lists" / "names.yml").read_text())
    return yaml.safe_load(lists[name]["default"])


def test_the_validators_lists_are_pythons_own() -> None:
    assert hidden_list("python_keywords") == keyword.kwlist
    assert hidden_list("python_builtins") == [n for n in dir(builtins) if not n.startswith("_")]
    stdlib = {name for name in sys.stdlib_module_names if not name.startswith("_")}
    assert stdlib <= set(hidden_list("reserved_modules"))


def test_no_package_a_project_installs_can_be_shadowed(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(database="postgresql", app_module="shop")
    deploy = [UV, "pip", "install", "--quiet", "-e", ".[dev,deploy]"]  # gunicorn too
    project.run(*map(str, deploy), VIRTUAL_ENV=".venv")
    listing = "import importlib.metadata as m; print(*m.packages_distributions())"
    installed = set(project.run("python", "-c", listing).stdout.split()) - {"shop"}
    public = {name for name in installed if not name.startswith("_")}
    assert public <= set(hidden_list("reserved_modules")) | {"tests"}, public


def test_marked_letters_stand_for_their_plain_letters() -> None:
    questions = yaml.safe_load((TEMPLATE / "lists" / "letters.yml").read_text())
    marked = questions["marked_letters"]["default"]
    plain = questions["plain_letters"]["default"]
    assert len(marked) == len(plain)
    # Letters whose decomposition has no base letter, and so are looked up by hand.
    by_hand = {"Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "Ð": "D", "ð": "d",
               "ı": "i", "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t", "ĸ": "k", "Ŋ": "N", "ŋ": "n"}  # fmt: skip
    for letter, ascii_letter in zip(marked, plain, strict=True):
        base = unicodedata.normalize("NFKD", letter)[0]
        assert by_hand.get(letter, base) == ascii_letter, letter
    # Every letter of Latin-1 and Latin Extended-A is covered (a few by two letters).
    two_letters = set("ßÆæŒœÞþĲĳŉ")
    latin = {chr(c) for c in range(0xC0, 0x180) if chr(c).isalpha()}
    assert latin - two_letters == set(marked)


@pytest.mark.parametrize(
    ("folder", "answers", "package", "distribution"),
    [
        ("with space/my proj", {"project_name": 'Tom\'s "Best" \\Shop'}, "tom_s_best_shop",
         "tom-s-best-shop"),
        ("cafe", {"project_name": "Ünïcode Café"}, "unicode_cafe", "unicode-cafe"),
        ("app", {"project_name": "日本のアプリ", "app_module": "nihon"}, "nihon", "nihon"),
        # Its own package name, test_app, would be a test file to pytest.
        ("test app", {"project_name": "Test App"}, "my_test_app", "test-app"),
    ],
)  # fmt: skip
def test_an_odd_name_gives_a_working_project(
    make_project: Callable[..., Project],
    folder: str,
    answers: dict[str, str],
    package: str,
    distribution: str,
) -> None:
    project = make_project(folder, **answers)
    pyproject = tomllib.loads((project.path / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == distribution
    assert pyproject["project"]["description"].startswith(answers["project_name"] + ": ")
    assert (project.path / package / "__init__.py").is_file()
    help_text = project.run("python", "manage.py", "--help").stdout
    assert f"The command line of {answers['project_name']}." in help_text
    project.run("ruff", "check", "--no-cache", ".")
    project.migrate("revision", "--autogenerate", "-m", "first", DATABASE_URL="sqlite://")
    project.run("pytest", "-q", "-p", "no:cacheprovider")
