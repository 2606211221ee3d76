"""Run one Alembic command, as `python manage.py migrate ...`, `flask migrate ...` or
`flask db ...` (see cli.py): Alembic's own parser and commands with this project's
settings, Flask-Migrate's spellings of them too, a check of the installed versions, and
one-line errors.

Only what a command needs is imported: Flask and the app are loaded by env.py, for the
commands that run it, so that `--help`, `heads` or `history` stay as quick as Alembic's.
"""

import configparser
import difflib
import gc
import re
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argparse import Namespace

    from alembic.config import CommandLine, Config
    from flask import Flask

from .lagging import lagging_packages, release, sync_command
from .output import fail, warn

#: This package's name on PyPI: its metadata lists the releases it supports.
DISTRIBUTION = "flask-alembic-runtime"


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


def require_supported_versions(root: Path) -> None:
    """Stop with one line when a package is older than this package supports; the fix
    reinstalls the project at `root` with its own tool."""
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
        fail(
            f"{DISTRIBUTION} needs {wanted}; this environment has {found}: raise them in "
            f"the project's dependencies, then reinstall (`{sync_command(root)}`)"
        )


def repair(config: "Config", yes: bool = False, undo: bool = False) -> None:
    """Finish or undo a revision that MySQL or MariaDB applied part-way (killed, or failed
    after DDL that committed itself); shows what it would do unless given --yes."""
    from .repair import repair as repair_revisions

    with config.attributes["load_app"]().app_context():
        repair_revisions(config, yes=yes, undo=undo)


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


def lint(config: "Config", revision_range: str | None = None, compat: str | None = None) -> None:
    """Flag revisions that lose data or lock tables: renames written as drop and add,
    dropped tables and columns, NOT NULL without a default, narrowed types."""
    if compat is not None:  # `--compat [GIT_REF]` ("": the default one)
        from alembic.util import CommandError

        from .rolling import compat_check

        if revision_range is not None:
            raise CommandError(
                f"lint --compat takes a git ref, not REV_RANGE {revision_range}: it checks "
                "the revisions the ref lacks, e.g. `lint --compat origin/main`"
            )
        with config.attributes["load_app"]().app_context():
            compat_check(config, compat or None)
        return
    from .lint import lint as lint_revisions

    lint_revisions(config, revision_range)


def migrate(
    config: "Config",
    message: str | None = None,
    sql: bool = False,
    head: str = "head",
    splice: bool = False,
    branch_label: str | None = None,
    version_path: str | None = None,
    rev_id: str | None = None,
    depends_on: str | None = None,
) -> None:
    """Autogenerate a new revision file: Flask-Migrate's name for `revision --autogenerate`."""
    from alembic import command

    command.revision(
        config, message, autogenerate=True, sql=sql, head=head, splice=splice,
        branch_label=branch_label, version_path=version_path, rev_id=rev_id,
        depends_on=depends_on,
    )  # fmt: skip


#: The positional argument a command takes when none is given, as Flask-Migrate's `flask db`
#: fills it in where Alembic requires it: `migrate upgrade` is `upgrade head`.
DEFAULT_ARGUMENTS = {
    "init": "migrations",
    "upgrade": "head",
    "downgrade": "-1",
    "show": "head",
    "edit": "head",
    "stamp": "head",
    "merge": "heads",
}

#: The same with --sql, where Alembic needs a range to write the SQL of.
OFFLINE_ARGUMENTS = {"downgrade": "head:-1"}

#: Options of the whole command line that Flask-Migrate also takes after the command name:
#: each as this parser spells it, before the command.
MOVED_OPTIONS = {"-d": "--directory", "--directory": "--directory", "-x": "-x", "--x-arg": "-x"}

#: The other options that take a value, Alembic's and its commands': what follows them is
#: not a positional argument.
VALUE_OPTIONS = (
    "-c", "--config", "-n", "--name", "-m", "--message", "--tag", "--head", "--branch-label",
    "--version-path", "--rev-id", "--depends-on", "-r", "--rev-range", "-t", "--template",
    "--to", "--onto",
)  # fmt: skip


def is_option(argument: str) -> bool:
    """Whether argparse reads `argument` as an option: `-1` is a (relative) revision."""
    return argument.startswith("-") and not argument[1:].isdigit()


def tokens(argv: list[str]) -> Iterator[list[str]]:
    """`argv` in groups, as Flask-Migrate's parser (click) reads it: an option with its
    value, whatever the value looks like (`-r -1:current`, `-m "-fix"`), or one word."""
    index = 0
    while index < len(argv):
        takes_value = argv[index] in VALUE_OPTIONS or argv[index] in MOVED_OPTIONS
        size = 2 if takes_value and argv[index + 1 :] else 1
        yield argv[index : index + size]
        index += size


def attached(token: list[str]) -> list[str]:
    """An option and its value as argparse takes a value that looks like an option:
    `-r-1:current`, `--message=-fix` (argparse refuses `-r -1:current`)."""
    if len(token) == 2 and is_option(token[1]):
        option, value = token
        return [f"{option}={value}" if option.startswith("--") else option + value]
    return token


def alembic_argv(argv: list[str]) -> list[str]:
    """Alembic's argv for a command line typed as for Flask-Migrate or for Alembic: -d and
    -x (MOVED_OPTIONS) before the command, wherever they were typed, and the command's
    positional argument, where none is given, as DEFAULT_ARGUMENTS (init's: -d's folder).
    Nothing changes in an argv with `--`."""
    if "--" in argv:
        return argv
    options: list[str] = []  # the whole command line's, before the command
    words: list[str] = []  # the command, then its options and arguments
    positional: list[str] = []
    directory = DEFAULT_ARGUMENTS["init"]
    for token in tokens(argv):
        name, equals, value = token[0].partition("=")
        if name in MOVED_OPTIONS and (equals or len(token) == 2):
            token = [MOVED_OPTIONS[name], value if equals else token[1]]
            directory = token[1] if token[0] == "--directory" else directory
            options += attached(token)
        elif is_option(token[0]):
            (words if words else options).extend(attached(token))
        else:
            words.append(token[0])
            positional.append(token[0])
    command, *arguments = positional or [""]
    if command in DEFAULT_ARGUMENTS and not arguments:
        default = directory if command == "init" else DEFAULT_ARGUMENTS[command]
        words.append(OFFLINE_ARGUMENTS.get(command, default) if "--sql" in words else default)
    return options + words


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
    """Alembic's own parser, named after this command, with friendlier defaults, this
    project's own commands (doctor, squash, rebase, lint and repair) and Flask-Migrate's
    spellings."""
    from .compat import check
    from .compat import command_line as alembic_parser

    command_line = alembic_parser(prog)
    for own_command in (doctor, squash, rebase, lint, repair):
        command_line.register_command(own_command)
    commands = command_line.subparsers.choices
    commands["repair"].add_argument(
        "--yes", action="store_true", help="do it (without: show the steps and the plan only)"
    )
    commands["repair"].add_argument(
        "--undo",
        action="store_true",
        help="undo the steps that ran (drop the tables and columns they made) instead of "
        "finishing it; alembic_version stays where it is",
    )
    commands["repair"].epilog = (
        "Without --yes it lists each step of the half-applied revision (done, unknown, left) "
        "and the command that finishes or undoes it, and changes nothing. Where raw SQL "
        "leaves it unknown what ran and nothing can be undone, it lists the statements left "
        "and exits 1."
    )
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
    commands["lint"].add_argument(
        "--compat",
        nargs="?",
        const="",
        metavar="GIT_REF",
        help="instead, check that the release at GIT_REF keeps working against the schema "
        "after the revisions it lacks (rolling deploys; default: where this branch left "
        "the main branch)",
    )
    commands["init"].set_defaults(template="flask")
    commands["init"].add_argument(
        "--multidb",
        action="store_const",
        const="flask-multidb",
        dest="template",
        help="the flask-multidb template: a function per database in each revision",
    )
    commands["list_templates"].set_defaults(cmd=(list_templates, [], []))
    commands["check"].set_defaults(cmd=(check, [], []))  # its error lists the differences
    for name, default in DEFAULT_ARGUMENTS.items():
        # Its usage line shows the argument as optional (see alembic_argv).
        usage = commands[name].format_usage().removeprefix("usage: ").rstrip()
        last = re.search(r"\b(\w+)( \[\1 \.\.\.\])?$", usage)
        assert last is not None, usage
        commands[name].usage = usage[: last.start()] + f"[{last[1]}{' ...' if last[2] else ''}]"
        offline = f"; with --sql: {OFFLINE_ARGUMENTS[name]}" if name in OFFLINE_ARGUMENTS else ""
        commands[name].epilog = f"{last[1].upper()} may be left out: {default}{offline}."
    add_flask_migrate_spellings(command_line)
    return command_line


def add_flask_migrate_spellings(command_line: "CommandLine") -> None:
    """Flask-Migrate's names of commands, as commands of their own (listed by `--help`,
    below the commands of the usage line), and its -d/--directory option."""
    commands = command_line.subparsers.choices
    command_line.subparsers.metavar = "{" + ",".join(commands) + "}"
    command_line.register_command(migrate)
    # env.py reads it in cmd_opts, as from `revision --autogenerate`: no file for no change.
    commands["migrate"].set_defaults(autogenerate=True)
    templates = command_line.subparsers.add_parser(
        "list-templates", help="List available templates: Flask-Migrate's name for list_templates."
    )
    templates.set_defaults(cmd=(list_templates, [], []))
    command_line.parser.add_argument(
        "-d",
        "--directory",
        metavar="DIR",
        help="the migration environment, e.g. migrations: its alembic.ini is read where it "
        "has one (Flask-Migrate's option; default: script_location in pyproject.toml)",
    )
    command_line.parser.epilog = (
        "Flask-Migrate's spellings work too: migrate (revision --autogenerate), "
        "list-templates, init --multidb; -d/--directory and -x/--x-arg after the command; "
        "and the arguments it leaves out: "
        + ", ".join(f"{name} {default}" for name, default in DEFAULT_ARGUMENTS.items())
        + "."
    )


def refuse_missing_settings(config: "Config", options: "Namespace") -> None:
    """Refuse a `-c FILE` that does not exist, or an `-n SECTION` its ini file lacks:
    Alembic would go on with no settings, or the default ones."""
    from alembic.util import CommandError

    from .compat import config_files

    for path in config_files(options):
        if not Path(path).is_file():
            raise CommandError(f"-c {path}: no such file: name an alembic.ini or pyproject.toml")
    section = getattr(options, "name", None)
    if section in (None, "alembic"):
        return
    if config.config_file_name is None:
        raise CommandError(
            f"-n {section}: names a section of an alembic.ini, and this project's settings "
            "are in pyproject.toml: leave -n out"
        )
    # The file's own sections (on Alembic < 1.16, compat.py adds pyproject.toml's settings
    # to the chosen section of `file_config`).
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(config.config_file_name)
    sections = ini.sections()
    if section not in sections:
        raise CommandError(
            f"-n {section}: {config.config_file_name} has no [{section}] section; its "
            f"sections are {', '.join(sections)}"
        )


def refuse_rev_id(config: "Config", rev_id: str | None) -> None:
    """Refuse a `--rev-id` that is no plain id or is taken, before any file is written."""
    from alembic.util import CommandError

    from .revision_files import new_id_problem, version_locations

    if rev_id is not None and (problem := new_id_problem(rev_id, version_locations(config))):
        raise CommandError(problem)


def version_line(root: Path) -> str:
    """`migrate --version`: the library's and Alembic's versions, and the template commit
    the project is at (Copier's answers file) with where to read what came after it."""
    from . import __version__

    line = f"flask-alembic-runtime {__version__}, alembic {version('alembic')}"
    answers = root / ".copier-answers.yml"
    text = answers.read_text() if answers.is_file() else ""
    made = re.search(r"^_commit: (\S+)", text, re.MULTILINE)
    if made is None:
        return line
    return (
        f"{line}; this project is at the template's commit {made[1]} (.copier-answers.yml): "
        "`copier check-update` tells whether main has moved on, and the template's "
        "CHANGELOG.md what each version after it brings"
    )


def command_word(argv: list[str]) -> str | None:
    """The command `argv` names, as typed (`migrate` for Flask-Migrate's `revision`)."""
    words = [token[0] for token in tokens(argv) if len(token) == 1 and not is_option(token[0])]
    return words[0] if words else None


def run_flask(load_app: Callable[[], "Flask"], help: str) -> None:
    """Flask's own command line (`run`, `routes`, `shell`, the project's commands), with
    the app `load_app` makes: an error the library knows while the app is made (a
    DATABASE_URL it cannot use, say) is one line and exit 1; the others keep their
    traceback."""
    from flask.cli import FlaskGroup

    def app_or_one_line() -> "Flask":
        try:
            return load_app()
        except Exception as error:
            from .errors import error_line

            if (line := error_line(error)) is None:
                raise
            fail(line)

    FlaskGroup(create_app=app_or_one_line, help=help)()


def run_alembic(
    argv: list[str], prog: str, load_app: Callable[[], "Flask"], root: Path | None = None
) -> None:
    """Run one Alembic command, as the last thing the process does; an error prints one
    line and exits 1.

    `prog` is how the user called it, for the usage lines; `load_app` gives the app to
    the commands that need it outside env.py (`doctor`); `root` is the project's folder
    (default: the nearest one with a pyproject.toml, from the current folder up).
    """
    from .config import alembic_config, project_root
    from .environment import made_app

    root = root or project_root()
    require_supported_versions(root)
    if lagging := lagging_packages(root):
        warn(
            f"warning: this environment lags pyproject.toml ({'; '.join(lagging)}): run "
            f"`{sync_command(root)}`"
        )
    # Alembic warns of a down_revision that names no revision, then fails: the failure's
    # line names the file and the fix (errors.py), the warning would only repeat it. Two
    # files with one id, it only warns of, and goes on with one of them: that fails too.
    warnings.filterwarnings("ignore", r"Revision \S+ referenced from .* is not present")
    warnings.filterwarnings("error", r"Revision \S+ is present more than once")
    if argv == ["--version"]:
        print(version_line(root))
        return
    command_line = alembic_command_line(prog)
    command = f"python {prog}" if prog.split()[0].endswith(".py") else prog
    arguments = alembic_argv(argv)
    name = command_word(arguments)
    if name is not None and name not in command_line.subparsers.choices:
        close = difflib.get_close_matches(name, command_line.subparsers.choices, n=1)
        fix = f"did you mean `{command} {close[0]}`?" if close else "`--help` lists them"
        fail(f"no command {name!r}: {fix}", 2)
    options, extra = command_line.parser.parse_known_args(arguments or ["--help"])
    if not hasattr(options, "cmd"):
        command_line.parser.error("name a command, e.g. `upgrade`; `--help` lists them")
    if extra:
        asked = f"{command} {name or options.cmd[0].__name__}"
        fail(f"{asked} takes no {extra[0]!r}: `{asked} --help` lists what it takes", 2)
    raiseerr, options.raiseerr = options.raiseerr, True
    config = alembic_config(options, root)
    # The app as migrate makes it (its own create_all() skipped): for env.py and doctor.
    config.attributes["load_app"] = partial(made_app, load_app)
    config.command = command
    if options.cmd[0].__name__ == "history" and not options.indicate_current:
        # History reads only the revision files, even where `revision_environment` is set
        # (binds): env.py, which runs once per database, would print it once per database.
        config.set_main_option("revision_environment", "false")
    try:
        refuse_missing_settings(config, options)
        refuse_rev_id(config, getattr(options, "rev_id", None))
        command_line.run_cmd(config, options)
    except KeyboardInterrupt:
        # Ctrl-C outside a migration (one is stopped by cli.stopped_by_signals): the
        # commands that write files undo or finish their work on the way out.
        if raiseerr:
            raise
        fail("interrupted (Ctrl-C)", 130)
    except Exception as error:
        from .errors import error_line

        line = None if raiseerr else error_line(error, config.command, config)
        if line is None:  # asked for, or not an error we know: the traceback
            raise
        fail(line, getattr(error, "exit_status", 1))  # repair.HalfApplied's: 3
    finally:
        # The process ends with the command: freezing what it built spares Python's final
        # garbage collection over all of it (~0.1 s of every command); the OS frees it.
        gc.freeze()
