"""This project's Alembic settings: `[tool.alembic]` in pyproject.toml, and the
`migrations/alembic.ini` a project adopted from Flask-Migrate keeps."""

import tempfile
from argparse import Namespace
from pathlib import Path
from shutil import copy, copytree

from alembic.config import Config

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "migrations"
KEPT_INI = MIGRATIONS / "alembic.ini"

# `migrate init DIR` writes this as DIR/alembic.ini, so that the new environment
# runs on its own: `python manage.py migrate -c DIR/alembic.ini upgrade`.
INIT_CONFIG = """\
# The settings of this migration environment: python manage.py migrate -c <this file> ...
[alembic]
script_location = ${script_location}
prepend_sys_path = .
"""

# The two templates `migrate init` adds to Alembic's, both copies of migrations/: its env.py
# migrates every database the app has. "flask-multidb" also runs env.py for hand-written
# revisions, so that they too get an upgrade and a downgrade function per database.
FLASK_TEMPLATES = {
    "flask": ("Flask-aware environment: the app's engines and models, one database or more.", ""),
    "flask-multidb": (
        "Flask-aware environment for several databases (Flask-SQLAlchemy binds).",
        "revision_environment = true\n",
    ),
}


class MigrateConfig(Config):
    """Alembic's Config, offering this project's own environment as `flask` and
    `flask-multidb`, and speaking of the command line it was run from."""

    #: How users run the commands, e.g. "python manage.py migrate" or "flask db".
    command = "python manage.py migrate"

    def get_template_directory(self) -> str:
        """Alembic's templates, plus FLASK_TEMPLATES: fresh copies of migrations/."""
        self._templates = tempfile.TemporaryDirectory(prefix="alembic-templates-")
        templates = Path(self._templates.name)
        copytree(super().get_template_directory(), templates, dirs_exist_ok=True)
        readme = (MIGRATIONS / "README").read_text().split("\n", 1)[1]
        for name, (synopsis, settings) in FLASK_TEMPLATES.items():
            template = templates / name
            template.mkdir()
            copy(MIGRATIONS / "env.py", template / "env.py")
            copy(MIGRATIONS / "script.py.mako", template / "script.py.mako")
            (template / "README").write_text(f"{synopsis}\n{readme}")
            (template / "alembic.ini.mako").write_text(INIT_CONFIG + settings)
        return str(templates)

    def print_stdout(self, text: str, *arg: object) -> None:
        """Print Alembic's messages, with its usage hints in this command's words."""
        super().print_stdout(text.replace("alembic init", f"{self.command} init"), *arg)


def alembic_config(options: Namespace | None = None) -> MigrateConfig:
    """This project's Alembic config: `[tool.alembic]` in pyproject.toml and KEPT_INI, or
    what -c names."""
    toml_file, ini_file = ROOT / "pyproject.toml", KEPT_INI if KEPT_INI.exists() else None
    for path in getattr(options, "config", None) or []:
        if Path(path).name == "pyproject.toml":
            toml_file = Path(path)
        else:
            ini_file = path
    if options is not None and options.cmd[0].__name__ == "init":
        # A new environment gets an alembic.ini of its own, as with Flask-Migrate.
        ini_file = Path(options.directory) / "alembic.ini"
    section = getattr(options, "name", None) or "alembic"  # -n: the ini file's section
    return MigrateConfig(file_=ini_file, toml_file=toml_file, ini_section=section, cmd_opts=options)


def shown(path: Path) -> Path:
    """A path as the user knows it: from the project's root."""
    path = path.resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
