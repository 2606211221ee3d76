"""config.py: which settings a command reads (pyproject.toml's `[tool.alembic]`, a kept
`migrations/alembic.ini`, or what -c and -n name), the `flask` templates `init` offers,
and paths as the user knows them."""

from argparse import Namespace
from pathlib import Path

import pytest
from alembic.config import CommandLine

from flask_alembic_runtime.config import (
    TEMPLATES,
    MigrateConfig,
    alembic_config,
    project_root,
    shown,
)

from .conftest import Project


def options(*argv: str) -> Namespace:
    """What Alembic's own parser makes of a command line."""
    return CommandLine(prog="manage.py migrate").parser.parse_args(list(argv))


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
    assert config.get_alembic_option("script_location") == str(project.migrations)


def test_a_kept_alembic_ini_is_read_beside_the_pyproject(project: Project) -> None:
    """A project adopted from Flask-Migrate keeps migrations/alembic.ini."""
    (project.migrations / "alembic.ini").write_text("[alembic]\nsqlalchemy.url = kept\n")
    config = alembic_config(options("heads"), project.root)
    assert Path(config.config_file_name) == project.migrations / "alembic.ini"
    assert config.get_main_option("sqlalchemy.url") == "kept"
    assert config.get_alembic_option("script_location") == str(project.migrations)


def test_c_names_an_ini_file_or_a_pyproject_and_n_a_section(project: Project) -> None:
    other = project.root / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[tool.alembic]\nscript_location = "%(here)s/else"\n')
    (project.root / "two.ini").write_text(
        "[alembic]\nscript_location = first\n\n[second]\nscript_location = second\n"
    )
    toml = alembic_config(options("-c", str(other / "pyproject.toml"), "heads"), project.root)
    assert toml.get_alembic_option("script_location") == str(other / "else")
    ini = alembic_config(options("-c", str(project.root / "two.ini"), "heads"), project.root)
    assert ini.get_alembic_option("script_location") == "first"
    named = alembic_config(
        options("-c", str(project.root / "two.ini"), "-n", "second", "heads"), project.root
    )
    assert named.get_alembic_option("script_location") == "second"


def test_init_writes_the_new_environments_own_alembic_ini(project: Project) -> None:
    config = alembic_config(options("init", "custom"), project.root)
    assert Path(config.config_file_name) == Path("custom") / "alembic.ini"


def test_code_gets_the_projects_settings_without_options(project: Project) -> None:
    config = alembic_config(root=project.root)
    assert config.cmd_opts is None
    assert config.get_alembic_option("script_location") == str(project.migrations)


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


def test_a_path_is_shown_from_the_current_folder_where_it_lies_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "inside").mkdir()
    monkeypatch.chdir(tmp_path / "inside")
    assert shown(tmp_path / "inside" / "migrations" / "env.py") == Path("migrations/env.py")
    assert shown("env.py") == Path("env.py")
    assert shown(tmp_path / "outside.py") == tmp_path / "outside.py"
