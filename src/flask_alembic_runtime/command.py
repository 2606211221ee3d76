"""Run one Alembic command, as `python manage.py migrate ...`, `flask migrate ...` or
`flask db ...` (see cli.py): Alembic's own parser and commands with this project's
settings, a check of the installed versions, and one-line errors.

Only what a command needs is imported: Flask and the app are loaded by env.py, for the
commands that run it, so that `--help`, `heads` or `history` stay as quick as Alembic's.
"""

import gc
import re
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import CommandLine, Config
    from flask import Flask

#: This package's name on PyPI: its metadata lists the releases it supports.
DISTRIBUTION = "flask-alembic-runtime"


def release(text: str) -> tuple[int, ...]:
    """A version's release numbers, e.g. (1, 20, 1) for "1.20.1"."""
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])


def oldest_supported() -> dict[str, str]:
    """The oldest release of each dependency this package supports, from its metadata
    (`name>=X` in its requirements), so that the check and the package never disagree."""
    oldest = {}
    for requirement in requires(DISTRIBUTION) or []:
        if ";" in requirement:  # an extra's, or another platform's
            continue
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)[^;]*?>=\s*([0-9][^,;\s]*)", requirement)
        if found:
            oldest[found[1].lower()] = found[2]
    return oldest


def require_supported_versions() -> None:
    """Stop with one line when a package is older than this package supports."""
    outdated = {}
    for name, oldest in oldest_supported().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "none"
        if installed == "none" or release(installed) < release(oldest):
            outdated[name] = (installed, oldest)
    if outdated:
        found = ", ".join(f"{name} {installed}" for name, (installed, _) in outdated.items())
        wanted = ", ".join(f"{name}>={oldest}" for name, (_, oldest) in outdated.items())
        sys.exit(
            f"FAILED: {DISTRIBUTION} needs {wanted}; this environment has {found}: raise "
            "them in the project's dependencies, then reinstall (uv sync, or pip install -e .)"
        )


def doctor(config: "Config") -> None:
    """Prove that the migrations describe the databases: each at a head, its history
    replayed on a scratch database giving its schema, and `check` clean."""
    from .doctor import doctor as examine_databases

    with config.attributes["load_app"]().app_context():
        examine_databases(config)


def squash(config: "Config", to: str | None = None, dry_run: bool = False) -> None:
    """Replace the revisions from base up to a revision with one baseline revision,
    proven on scratch databases to build the same schema."""
    from .squash import squash as squash_history

    with config.attributes["load_app"]().app_context():
        squash_history(config, to=to, dry_run=dry_run)


def rebase(config: "Config", revision: str, onto: str | None = None) -> None:
    """Move a branch of the history onto the other head, instead of a merge revision."""
    from .rebase import rebase as rebase_branch

    with config.attributes["load_app"]().app_context():
        rebase_branch(config, revision, onto=onto)


def lint(config: "Config", revision_range: str | None = None) -> None:
    """Flag revisions that lose data or lock tables: renames written as drop and add,
    dropped tables and columns, NOT NULL without a default, narrowed types."""
    from .lint import lint as lint_revisions

    lint_revisions(config, revision_range)


#: The revision a command takes when none is given: `migrate upgrade` is `upgrade head`.
DEFAULT_REVISIONS = {"upgrade": "head"}

#: The options, Alembic's and its commands', that take a value: what follows them is not
#: a command's positional argument.
VALUE_OPTIONS = ("-c", "--config", "-n", "--name", "-x", "--tag", "-m", "--message")


def with_default_revision(argv: list[str]) -> list[str]:
    """`argv` with DEFAULT_REVISIONS' revision added where the command has none."""
    positional: list[str] = []
    expects_value = False
    for argument in argv:
        if expects_value:
            expects_value = False
        elif argument in VALUE_OPTIONS:
            expects_value = True
        elif argument == "--":
            return argv
        elif not argument.startswith("-"):
            positional.append(argument)
    if len(positional) == 1 and positional[0] in DEFAULT_REVISIONS:
        return [*argv, DEFAULT_REVISIONS[positional[0]]]
    return argv


def list_templates(config: "Config") -> None:
    """List available templates: this package's (`flask`, `flask-multidb`), then Alembic's."""
    from alembic import command

    from .config import TEMPLATES

    config.print_stdout("This project's templates:\n")
    for template in sorted(TEMPLATES.iterdir()):
        synopsis = (template / "README").read_text().splitlines()[0]
        config.print_stdout(f"{template.name} - {synopsis}")
    config.print_stdout("")
    command.list_templates(config)


def alembic_command_line(prog: str) -> "CommandLine":
    """Alembic's own parser, named after this command, with friendlier defaults and this
    project's own commands: doctor, squash, rebase and lint."""
    from alembic.config import CommandLine

    command_line = CommandLine(prog=prog)
    for own_command in (doctor, squash, rebase, lint):
        command_line.register_command(own_command)
    commands = command_line.subparsers.choices
    commands["squash"].add_argument(
        "--to",
        metavar="REV",
        help="the newest revision to squash (default: the head, or the newest one every "
        "database has reached)",
    )
    commands["squash"].add_argument(
        "--dry-run", action="store_true", help="show the plan and the proof; write nothing"
    )
    commands["rebase"].add_argument(
        "--onto", metavar="HEAD", help="the head to move it onto (default: the other head)"
    )
    commands["lint"].add_argument(
        "revision_range",
        nargs="?",
        metavar="REV_RANGE",
        help="the revisions to lint, e.g. abc123:head (default: all)",
    )
    for name, revision in DEFAULT_REVISIONS.items():
        # Its usage line shows the revision as optional (see with_default_revision).
        usage = commands[name].format_usage().removeprefix("usage: ").rstrip()
        commands[name].usage = re.sub(r" revision$", " [revision]", usage)
        commands[name].epilog = f"REVISION may be left out: {revision}."
    commands["init"].set_defaults(template="flask")
    return command_line


def run_alembic(
    argv: list[str], prog: str, load_app: Callable[[], "Flask"], root: Path | None = None
) -> None:
    """Run one Alembic command, as the last thing the process does; an error prints one
    line and exits 1.

    `prog` is how the user called it, for the usage lines; `load_app` gives the app to
    the commands that need it outside env.py (`doctor`); `root` is the project's folder
    (default: the nearest one with a pyproject.toml, from the current folder up).
    """
    from .config import alembic_config

    require_supported_versions()
    command_line = alembic_command_line(prog)
    options = command_line.parser.parse_args(with_default_revision(argv) or ["--help"])
    if not hasattr(options, "cmd"):
        command_line.parser.error("name a command, e.g. `upgrade`; `--help` lists them")
    raiseerr, options.raiseerr = options.raiseerr, True
    if options.cmd[0].__name__ == "list_templates":
        options.cmd = (list_templates, [], [])
    config = alembic_config(options, root)
    config.attributes["load_app"] = load_app
    config.command = f"python {prog}" if prog.split()[0].endswith(".py") else prog
    if options.cmd[0].__name__ == "history" and not options.indicate_current:
        # History reads only the revision files, even where `revision_environment` is set
        # (binds): env.py, which runs once per database, would print it once per database.
        config.set_main_option("revision_environment", "false")
    try:
        command_line.run_cmd(config, options)
    except Exception as error:
        from .errors import error_line

        line = None if raiseerr else error_line(error, config.command)
        if line is None:  # asked for, or not an error we know: the traceback
            raise
        sys.exit(f"FAILED: {line}")
    finally:
        # The process ends with the command: freezing what it built spares Python's final
        # garbage collection over all of it (~0.1 s of every command); the OS frees it.
        gc.freeze()
