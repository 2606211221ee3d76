"""What `copier copy` writes: the files, the answers used in them, and clean code."""

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from helpers import TEMPLATE, render
from variants import VARIANTS, app_module

RUFF = Path(sys.executable).with_name("ruff")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every variant, rendered once for this module (read-only)."""
    root = tmp_path_factory.mktemp("rendered")
    return {name: render(root / name, **answers) for name, answers in VARIANTS.items()}


def files(project: Path) -> set[str]:
    return {str(path.relative_to(project)) for path in project.rglob("*") if path.is_file()}


def python_sources(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): p.read_text() for p in project.rglob("*.py")}


def test_default_tree(rendered: dict[str, Path]) -> None:
    assert files(rendered["defaults"]) == {
        ".copier-answers.yml",
        ".dockerignore",
        ".env.example",
        ".flaskenv",
        ".github/workflows/ci.yml",
        ".gitignore",
        ".python-version",
        ".pre-commit-config.yaml",
        "Dockerfile",
        "README.md",
        "compose.yaml",
        "manage.py",
        "pyproject.toml",
        "start.sh",
        "migrations/README",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/versions/.gitkeep",
        "my_flask_app/__init__.py",
        "my_flask_app/config.py",
        "my_flask_app/extensions.py",
        "my_flask_app/commands.py",
        "my_flask_app/health.py",
        "my_flask_app/models.py",
        "my_flask_app/views.py",
        "tests/conftest.py",
        "tests/factories.py",
        "tests/test_app.py",
        "tests/test_migrations.py",
    }
    for script in ("manage.py", "start.sh"):
        assert (rendered["defaults"] / script).stat().st_mode & 0o111, f"{script} is executable"


def test_adoption_writes_only_the_migration_environment(rendered: dict[str, Path]) -> None:
    assert files(rendered["adopt"]) == {
        ".copier-answers.yml",
        "manage.py",
        "migrations/README",
        "migrations/env.py",
        "migrations/script.py.mako",
    }
    for script in ("manage.py", "migrations/env.py"):
        assert 'find_app("shop.app:create_app")' in (rendered["adopt"] / script).read_text()


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_template_leftovers(rendered: dict[str, Path], variant: str) -> None:
    for name in files(rendered[variant]):
        text = (rendered[variant] / name).read_text()
        assert not re.search(r"\{\{|\{%|\.jinja", text), f"Jinja left in {name}"
        assert "\n\n\n\n" not in text, f"a run of blank lines in {name}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_ruff_check_passes(rendered: dict[str, Path], variant: str) -> None:
    # An adopted project's package is its own, absent here: tell ruff it is first-party.
    package = app_module(VARIANTS[variant])
    result = subprocess.run(
        [
            RUFF,
            "check",
            "--no-cache",
            "--config",
            f"lint.isort.known-first-party=['{package}']",
            ".",
        ],
        cwd=rendered[variant],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("variant", VARIANTS)
def test_ruff_format_leaves_every_file_as_generated(
    rendered: dict[str, Path], variant: str
) -> None:
    # An adopted project has no pyproject.toml of ours: format as a new project would.
    settings = ["--line-length", "100"] if VARIANTS[variant].get("adopt") else []
    result = subprocess.run(
        [RUFF, "format", "--check", "--diff", "--no-cache", *settings, "."],
        cwd=rendered[variant],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_answers_file_records_the_answers(rendered: dict[str, Path], variant: str) -> None:
    stored = yaml.safe_load((rendered[variant] / ".copier-answers.yml").read_text())
    assert stored["_commit"], "copier update needs the template commit"
    assert stored["app_module"] == app_module(VARIANTS[variant])
    for key, value in VARIANTS[variant].items():
        assert stored[key] == value


def test_db_object_name_is_used_everywhere(rendered: dict[str, Path]) -> None:
    sources = python_sources(rendered["db_object_database"])
    assert "database = SQLAlchemy(model_class=Base)" in sources["my_flask_app/extensions.py"]
    assert "class User(database.Model):" in sources["my_flask_app/models.py"]
    # The library takes the object from the app, whatever its name: env.py is the same file
    # for every name.
    shared = [name for name in sources if name.startswith("migrations/")]
    for name in shared:
        assert sources.pop(name) == (rendered["defaults"] / name).read_text(), name
    for name, text in sources.items():
        assert not re.search(r"(?<![.\w])(?<!flask )db\b", text), f"`db` left in {name}"


def test_module_style_has_a_module_level_app(rendered: dict[str, Path]) -> None:
    sources = python_sources(rendered["module_style"])
    assert "\napp = Flask(__name__)\n" in sources["my_flask_app/__init__.py"]
    assert "from my_flask_app import app\n" in sources["manage.py"]
    for name, text in sources.items():
        assert not re.search(r"def create_app|create_app\(\)|import create_app", text), name


def test_factory_style_has_create_app(rendered: dict[str, Path]) -> None:
    sources = python_sources(rendered["defaults"])
    assert "def create_app() -> Flask:" in sources["my_flask_app/__init__.py"]
    assert "\napp = Flask" not in sources["my_flask_app/__init__.py"]


def test_unusual_names(rendered: dict[str, Path]) -> None:
    project = rendered["unusual_names"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "unicode-shop-2-0"
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["shop_core2"]
    assert pyproject["tool"]["alembic"]["file_template"].startswith("%%(year)d_%%(month).2d")
    assert "DB = SQLAlchemy(" in (project / "shop_core2" / "extensions.py").read_text()


@pytest.mark.parametrize(
    ("variant", "driver", "default_url"),
    [
        ("defaults", None, "sqlite:///my_flask_app.db"),
        ("postgresql", "psycopg[binary]", "postgresql://postgres@localhost:5432/my_flask_app"),
        ("mysql", "pymysql", "mysql+pymysql://root@localhost:3306/my_flask_app"),
    ],
)
def test_database_choice(
    rendered: dict[str, Path], variant: str, driver: str | None, default_url: str
) -> None:
    project = rendered[variant]
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    drivers = [d for d in dependencies if d.startswith(("psycopg", "pymysql"))]
    assert [d.split(">=")[0] for d in drivers] == ([driver] if driver else [])
    assert f'"{default_url}"' in (project / "my_flask_app" / "config.py").read_text()
    assert f"DATABASE_URL={default_url}" in (project / ".env.example").read_text()


def test_without_example_model(rendered: dict[str, Path]) -> None:
    sources = python_sources(rendered["no_example_model"])
    assert "class " not in sources["my_flask_app/models.py"].replace("#     class", "")
    assert "/users" not in sources["my_flask_app/views.py"]
    assert "def test_users" not in sources["tests/test_app.py"]


def test_binds(rendered: dict[str, Path]) -> None:
    project = rendered["binds"]
    config = " ".join((project / "my_flask_app" / "config.py").read_text().split())
    assert (
        'os.environ.get( "DATABASE_URL_ANALYTICS", "sqlite:///my_flask_app-analytics.db"' in config
    )
    assert '"DATABASE_URL_ARCHIVE", "sqlite:///my_flask_app-archive.db"' in config
    models = (project / "my_flask_app" / "models.py").read_text()
    assert '__bind_key__ = "analytics"' in models
    assert "# DATABASE_URL_ARCHIVE=sqlite:///" in (project / ".env.example").read_text()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["alembic"]["revision_environment"] is True
    defaults = tomllib.loads((rendered["defaults"] / "pyproject.toml").read_text())
    assert "revision_environment" not in defaults["tool"]["alembic"]
    assert (
        "SQLALCHEMY_BINDS" not in (rendered["defaults"] / "my_flask_app" / "config.py").read_text()
    )

    bare = rendered["binds_without_example_model"] / "my_flask_app" / "models.py"
    assert '#         __bind_key__ = "archive"' in bare.read_text()
    # env.py does not depend on the binds: the app's engines say which databases there are.
    env_py = project / "migrations" / "env.py"
    assert env_py.read_text() == (rendered["postgresql"] / "migrations" / "env.py").read_text()


def names_beside_the_db_object(source: str, db_object: str) -> set[str]:
    """The names bound where `db_object` is used: at the top of a module that uses it, and
    inside each function that uses it. The object's name must not be one of them."""
    tree = ast.parse(source)

    def uses(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id == db_object for n in ast.walk(node))

    def bound(nodes: list[ast.AST]) -> set[str]:
        names = set()
        for node in nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
        return names

    if not uses(tree):
        return set()
    top = [n for statement in tree.body for n in ast.walk(statement)
           if not isinstance(statement, ast.FunctionDef | ast.ClassDef) or n is statement]  # fmt: skip
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and uses(n)]
    return bound(top) | {name for f in functions for name in bound(list(ast.walk(f)))}


def test_db_object_names_nothing_the_generated_code_binds(rendered: dict[str, Path]) -> None:
    """`generated_names` (lists/names.yml) covers every name a db_object could clash with."""
    generated_names = set(yaml.safe_load(
        yaml.safe_load((TEMPLATE / "lists" / "names.yml").read_text())["generated_names"]["default"]
    ))  # fmt: skip
    clashes = set()
    for variant in ("binds", "module_style"):
        for name, source in python_sources(rendered[variant]).items():
            if name.startswith("migrations/"):
                continue  # they never name the object (see above)
            clashes |= names_beside_the_db_object(source, "db") - {"db"}
    assert clashes <= generated_names, (
        f"add to generated_names: {sorted(clashes - generated_names)}"
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_env_py_is_a_settings_file(rendered: dict[str, Path], variant: str) -> None:
    """The machinery is the library's: env.py holds the settings and one call into it, and
    a revision template without binds carries no multi-database lines."""
    env_py = (rendered[variant] / "migrations" / "env.py").read_text()
    assert len(env_py.splitlines()) <= 60
    assert env_py.count("run_migrations(") == 1
    mako = (rendered[variant] / "migrations" / "script.py.mako").read_text()
    has_binds = bool(VARIANTS[variant].get("binds"))
    assert ("upgrade_${name}" in mako) == has_binds
    assert ("def upgrade() -> None:" in mako) != has_binds


def test_runtime_source_pypi_asks_for_the_librarys_release_range(tmp_path: Path) -> None:
    """Once the library is published: a version range instead of the git pin, the range
    of the library's own version (src/flask_alembic_runtime/__init__.py)."""
    import flask_alembic_runtime

    pinned = tomllib.loads((render(tmp_path / "pinned") / "pyproject.toml").read_text())
    [pin] = [line for line in pinned["project"]["dependencies"] if "runtime" in line]
    assert re.fullmatch(r"flask-alembic-runtime @ git\+file://localhost/\S+@[0-9a-f]{40}", pin)
    assert pinned["tool"]["hatch"]["metadata"]["allow-direct-references"] is True

    project = render(tmp_path / "published", runtime_source="pypi")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    major, minor = map(int, flask_alembic_runtime.__version__.split(".")[:2])
    assert (
        f"flask-alembic-runtime>={major}.{minor},<{major}.{minor + 1}"
        in (pyproject["project"]["dependencies"])
    )
    assert "metadata" not in pyproject["tool"]["hatch"]
