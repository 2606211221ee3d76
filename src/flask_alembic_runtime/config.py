"""A project's Alembic settings: `[tool.alembic]` in its pyproject.toml, and the
`migrations/alembic.ini` a project adopted from Flask-Migrate keeps; and the `flask` and
`flask-multidb` templates that `migrate init` offers beside Alembic's."""

from __future__ import annotations

import os
from argparse import Namespace
from pathlib import Path
from typing import Any

from alembic.config import Config

from .compat import READS_TOML, config_files, read_tool_alembic

#: How a generated project runs the commands: the words of the fixes messages give, unless
#: the command that ran says otherwise (`MigrateConfig.command`).
DEFAULT_COMMAND = "python manage.py migrate"

#: The templates of this package's migration environments (`migrate init -t NAME`).
TEMPLATES = Path(__file__).with_name("templates")


def project_root(start: Path | None = None) -> Path:
    """The project a command runs in: the nearest folder, from `start` (default: the
    current one) upwards, with a pyproject.toml; else `start` itself."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


#: The settings files an adopted project keeps: plain Alembic's `alembic.ini` at its root
#: (`alembic init`), else the `migrations/alembic.ini` Flask-Migrate writes.
KEPT_INIS = (Path("alembic.ini"), Path("migrations", "alembic.ini"))


def kept_ini(root: Path) -> Path | None:
    """The settings file the project at `root` kept (see KEPT_INIS), if any."""
    return next((root / name for name in KEPT_INIS if (root / name).is_file()), None)


def has_settings(root: Path) -> bool:
    """Whether the project at `root` names its migration environment itself: `[tool.alembic]`
    in pyproject.toml, or a kept alembic.ini (see KEPT_INIS)."""
    pyproject = root / "pyproject.toml"
    in_toml = pyproject.is_file() and "[tool.alembic]" in pyproject.read_text()
    return in_toml or kept_ini(root) is not None


class MigrateConfig(Config):
    """Alembic's Config, offering this package's environments as `flask` and
    `flask-multidb`, and speaking of the command line it was run from.

    It takes `toml_file` (a pyproject.toml) on every Alembic the library supports. Alembic
    1.16 and newer read its `[tool.alembic]` themselves; on 1.13 to 1.15 this class reads
    it, as they would (compat.read_tool_alembic): what the ini file (e.g. a kept
    `migrations/alembic.ini`) gives wins, as from 1.16. So an adopted project pinned to an
    older Alembic may keep its settings in either file.
    """

    #: How users run the commands, e.g. "python manage.py migrate" or "flask db".
    command = DEFAULT_COMMAND

    def __init__(
        self,
        file_: str | os.PathLike[str] | None = None,
        toml_file: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        """Alembic's Config of these files; `options` are its other keyword arguments."""
        if READS_TOML:
            super().__init__(file_, toml_file=toml_file, **options)
            return
        super().__init__(file_, **options)
        self.toml_file_name = os.fspath(toml_file) if toml_file else None
        if toml_file:
            read_tool_alembic(self, Path(toml_file))

    def get_template_directory(self) -> str:
        """This package's templates for `init -t flask` or `-t flask-multidb`, else Alembic's."""
        template = getattr(self.cmd_opts, "template", None)
        if template is not None and (TEMPLATES / template).is_dir():
            return str(TEMPLATES)
        return super().get_template_directory()

    def print_stdout(self, text: str, *arg: Any) -> None:
        """Print Alembic's messages, with its usage hints in this command's words."""
        super().print_stdout(text.replace("alembic init", f"{self.command} init"), *arg)


def command_of(config: Config) -> str:
    """How the user runs the commands, for the fixes a message gives: `MigrateConfig.command`,
    or plain "alembic" for a Config that Alembic's own command line made."""
    return config.command if isinstance(config, MigrateConfig) else "alembic"


def alembic_config(options: Namespace | None = None, root: Path | None = None) -> MigrateConfig:
    """The project's Alembic config: `[tool.alembic]` in pyproject.toml and a kept
    alembic.ini (see KEPT_INIS) of the project at `root` (default: found from the current
    folder), or what -c names; or the environment -d names (Flask-Migrate's option), with
    its alembic.ini where it has one."""
    root = root or project_root()
    toml_file: Path | str = root / "pyproject.toml"
    ini_file: Path | str | None = kept_ini(root)
    for path in config_files(options):
        if Path(path).name == "pyproject.toml":
            toml_file = path
        else:
            ini_file = path
    directory = getattr(options, "directory", None)  # init's, or -d's
    init = options is not None and options.cmd[0].__name__ == "init"
    if directory is not None and (init or (Path(directory) / "alembic.ini").exists()):
        # A new environment gets an alembic.ini of its own, as with Flask-Migrate.
        ini_file = Path(directory) / "alembic.ini"
    section = getattr(options, "name", None) or "alembic"  # -n: the ini file's section
    config = MigrateConfig(
        file_=ini_file, toml_file=toml_file, ini_section=section, cmd_opts=options
    )
    if directory is not None and not init:
        config.set_main_option("script_location", directory.replace("%", "%%"))
    return config
