"""config.py: which settings a command reads (pyproject.toml's `[tool.alembic]`, a kept
`alembic.ini` at the root or in migrations/, or what -c and -n name), the `flask` templates `init` offers,
and paths as the user knows them."""

import sys
from argparse import Namespace
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from flask_alembic_runtime import config as config_module
from flask_alembic_runtime.compat import (
    READS_TOML,
    alembic_option,
    command_line,
    copy_config,
    run_module,
)
from flask_alembic_runtime.config import (
    TEMPLATES,
    MigrateConfig,
    alembic_config,
    has_settings,
    project_root,
)

from .conftest import Project


def options(*argv: str) -> Namespace:
    """What Alembic's own parser makes of a command line."""
    return command_line("manage.py migrate").parser.parse_args(list(argv))


def test_the_project_root_is_the_nearest_folder_with_a_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / "project" / "src" / "package"
    deep.mkdir(parents=True)
    (tmp_path / "project" / "pyproject.toml").write_text("")
    assert project_root(deep) == tmp_path / "project"
    monkeypatch.chdir(deep)
    assert project_root() == tmp_path / "project"


def test_without_a_pyproject_the_root_is_where_the_search_began(tmp_path: Path) -> None:
    assert not any((folder / "pyproject.toml").exists() for folder in tmp_path.parents)
    assert project_root(tmp_path) == tmp_path


def test_the_settings_are_the_pyproject_of_the_project_found(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.root / "src").mkdir()
    monkeypatch.chdir(project.root / "src")
    config = alembic_config(options("heads"))
    assert Path(config.toml_file_name) == project.root / "pyproject.toml"
    assert config.config_file_name is None
    assert alembic_option(config, "script_location") == str(project.migrations)


def test_a_kept_alembic_ini_is_read_beside_the_pyproject(project: Project) -> None:
    """A project adopted from Flask-Migrate keeps migrations/alembic.ini."""
    (project.migrations / "alembic.ini").write_text("[alembic]\nsqlalchemy.url = kept\n")
    config = alembic_config(options("heads"), project.root)
    assert Path(config.config_file_name) == project.migrations / "alembic.ini"
    assert config.get_main_option("sqlalchemy.url") == "kept"
    assert alembic_option(config, "script_location") == str(project.migrations)


def test_a_root_alembic_ini_names_the_environment_where_alembic_init_put_it(
    project: Project,
) -> None:
    """A project adopted from plain Alembic keeps the alembic.ini `alembic init` wrote at
    its root, whose script_location names its environment; `flask migrate` then needs no
    directory from the app."""
    (project.root / "pyproject.toml").write_text("[project]\nname = 'blog'\n")
    (project.root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/alembic\n")
    assert has_settings(project.root)
    config = alembic_config(options("heads"), project.root)
    assert Path(config.config_file_name) == project.root / "alembic.ini"
    assert alembic_option(config, "script_location") == str(project.root / "alembic")


def test_c_names_an_ini_file_or_a_pyproject_and_n_a_section(project: Project) -> None:
    other = project.root / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[tool.alembic]\nscript_location = "%(here)s/else"\n')
    (project.root / "two.ini").write_text(
        "[alembic]\nscript_location = first\n\n[second]\nscript_location = second\n"
    )
    toml = alembic_config(options("-c", str(other / "pyproject.toml"), "heads"), project.root)
    assert alembic_option(toml, "script_location") == str(other / "else")
    ini = alembic_config(options("-c", str(project.root / "two.ini"), "heads"), project.root)
    assert alembic_option(ini, "script_location") == "first"
    named = alembic_config(
        options("-c", str(project.root / "two.ini"), "-n", "second", "heads"), project.root
    )
    assert alembic_option(named, "script_location") == "second"


def test_init_writes_the_new_environments_own_alembic_ini(project: Project) -> None:
    config = alembic_config(options("init", "custom"), project.root)
    assert Path(config.config_file_name) == Path("custom") / "alembic.ini"


def test_code_gets_the_projects_settings_without_options(project: Project) -> None:
    config = alembic_config(root=project.root)
    assert config.cmd_opts is None
    assert alembic_option(config, "script_location") == str(project.migrations)


@pytest.mark.parametrize(
    ("template", "ours"), [("flask", True), ("flask-multidb", True), ("generic", False)]
)
def test_init_offers_the_librarys_templates_beside_alembics(template: str, ours: bool) -> None:
    config = MigrateConfig(cmd_opts=options("init", "-t", template, "somewhere"))
    folder = Path(config.get_template_directory())
    assert (folder == TEMPLATES) is ours
    assert (folder / template / "env.py").is_file()
    assert Path(MigrateConfig().get_template_directory()) != TEMPLATES


def test_messages_name_the_command_the_user_ran(capsys: pytest.CaptureFixture[str]) -> None:
    config = MigrateConfig()
    config.command = "flask db"
    config.print_stdout("run alembic init %s first", "migrations")
    assert capsys.readouterr().out == "run flask db init migrations first\n"


#: Every setting of `[tool.alembic]` that Alembic < 1.16 gets from the library.
TOOL_ALEMBIC = """\
[tool.alembic]
script_location = "%(here)s/migrations"
prepend_sys_path = ["%(here)s/src dir"]
version_locations = ["%(here)s/migrations/versions", "%(here)s/more, versions"]
file_template = "%%(rev)s_x_%%(slug)s"
truncate_slug_length = 8
revision_environment = true
lint_after = "a1"

[[tool.alembic.post_write_hooks]]
name = "compile"
type = "module"
module = "compileall"
options = "-q REVISION_SCRIPT_FILENAME"
"""


@pytest.mark.parametrize("reads_toml", sorted({READS_TOML, False}))
def test_tool_alembic_is_read_on_every_alembic(
    project: Project, monkeypatch: pytest.MonkeyPatch, reads_toml: bool
) -> None:
    """Alembic < 1.16 reads no pyproject.toml: MigrateConfig gives it `[tool.alembic]` as
    Alembic 1.16 reads it (here also on a newer Alembic, told it is older)."""
    monkeypatch.setattr(config_module, "READS_TOML", reads_toml)
    (project.root / "pyproject.toml").write_text(TOOL_ALEMBIC)
    (project.root / "more, versions").mkdir()
    config = project.config()
    assert alembic_option(config, "lint_after") == "a1"
    assert alembic_option(copy_config(config, Namespace()), "lint_after") == "a1"
    script = ScriptDirectory.from_config(config)
    assert Path(script.dir) == project.migrations
    assert script.version_locations == [
        f"{project.versions}",
        f"{project.root}/more, versions",
    ]
    assert script.file_template == "%(rev)s_x_%(slug)s"
    assert script.truncate_slug_length == 8
    assert str(project.root / "src dir") in sys.path
    project.migrate(
        "revision",
        "-m",
        "first revision",
        "--rev-id",
        "r1",
        "--version-path",
        str(project.versions),
    )
    assert [path.name for path in project.versions.glob("*.py")] == [
        "r1_x_first_.py"
    ]  # slug cut at 8
    assert list(project.versions.glob("__pycache__/r1_x_first_.*.pyc"))  # the hook ran


@pytest.mark.parametrize("reads_toml", sorted({READS_TOML, False}))
def test_what_the_ini_file_gives_wins_over_tool_alembic(
    project: Project, monkeypatch: pytest.MonkeyPatch, reads_toml: bool
) -> None:
    """As from Alembic 1.16: the ini file first, then `[tool.alembic]`, on every Alembic;
    the ini's post-write hooks replace pyproject.toml's."""
    monkeypatch.setattr(config_module, "READS_TOML", reads_toml)
    (project.root / "pyproject.toml").write_text(TOOL_ALEMBIC)
    (project.migrations / "alembic.ini").write_text(
        "[alembic]\nlint_after = b2\n\n[post_write_hooks]\nhooks =\n"
    )
    config = alembic_config(root=project.root)
    assert alembic_option(config, "lint_after") == "b2"
    assert alembic_option(config, "script_location") == str(project.migrations)
    project.migrate(
        "revision", "-m", "first", "--rev-id", "r1", "--version-path", str(project.versions)
    )
    assert not list(project.versions.glob("__pycache__/*.pyc"))  # no hook ran


def test_without_a_pyproject_the_ini_file_gives_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project adopted on an older Alembic: settings in the ini file only."""
    monkeypatch.setattr(config_module, "READS_TOML", False)
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/m\n")
    config = MigrateConfig(str(tmp_path / "alembic.ini"), tmp_path / "pyproject.toml")
    assert alembic_option(config, "script_location") == f"{tmp_path}/m"
    assert alembic_option(Config(str(tmp_path / "alembic.ini")), "lint_after") is None


def test_the_module_hook_runs_a_module_on_the_new_revision(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Alembic 1.16's `module` post-write hook, which the library adds to older Alembic:
    `python -m MODULE OPTIONS`, with the revision's file first unless OPTIONS names it."""
    revision = tmp_path / "a revision.py"
    revision.write_text("x = 1\n")
    run_module(str(revision), {"module": "compileall", "options": "-q", "cwd": str(tmp_path)})
    assert list(tmp_path.glob("__pycache__/a revision.*.pyc"))
    run_module(str(revision), {"module": "tokenize", "options": "-e REVISION_SCRIPT_FILENAME"})
    assert "NUMBER" in capfd.readouterr().out
    run_module(str(revision), {"module": "tokenize"}, ignore_output=True)
    assert capfd.readouterr().out == ""
