"""command.py: `python manage.py migrate ...` (and `flask migrate`, `flask db`): Alembic's
parser and commands with the library's own, friendlier defaults, a check of the installed
versions against the package's metadata, and one-line errors."""

import gc
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from alembic.config import CommandLine
from alembic.util import CommandError
from packaging.requirements import Requirement

from flask_alembic_runtime import command as migrate_command
from flask_alembic_runtime.command import (
    DEFAULT_ARGUMENTS,
    DISTRIBUTION,
    alembic_argv,
    oldest_supported,
    release,
    require_supported_versions,
)
from flask_alembic_runtime.config import TEMPLATES

from .conftest import Project

REPOSITORY = Path(__file__).resolve().parents[2]
OWN_COMMANDS = ("doctor", "squash", "rebase", "lint")


def alembic_commands() -> list[str]:
    return list(CommandLine().subparsers.choices)


def test_a_version_is_compared_by_its_release_numbers() -> None:
    assert release("1.20.1") == (1, 20, 1)
    assert release("3.1") == (3, 1)
    assert release("2.1.0rc1") == (2, 1, 0)
    assert release("1.20.1+local.7") == (1, 20, 1)
    assert release("3.1") < release("3.1.1") < release("3.10")


def test_the_oldest_supported_releases_are_the_packages_requirements() -> None:
    """What pyproject.toml requires (`name>=X`), as the installed metadata gives it."""
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    required = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        [lowest] = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        required[requirement.name.lower()] = lowest
    assert oldest_supported() == required


def test_this_environment_has_the_supported_versions() -> None:
    require_supported_versions()  # no exit


def test_an_outdated_or_missing_package_stops_every_command(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stand-ins for the installed versions: an Alembic older than 1.16 (without
    `[tool.alembic]`) and no Flask-SQLAlchemy."""
    oldest = oldest_supported()

    def installed(name: str) -> str:
        if name == "flask-sqlalchemy":
            raise PackageNotFoundError(name)
        return "1.15.2" if name == "alembic" else version(name)

    monkeypatch.setattr(migrate_command, "version", installed)
    assert project.failure("heads") == (
        f"FAILED: {DISTRIBUTION} needs alembic>={oldest['alembic']}, "
        f"flask-sqlalchemy>={oldest['flask-sqlalchemy']}; this environment has alembic 1.15.2, "
        "flask-sqlalchemy none: raise them in the project's dependencies, then reinstall "
        "(uv sync, or pip install -e .)"
    )


# Alembic's own spellings, which reach its parser as typed.
ALEMBIC_SPELLINGS = [
    ["upgrade", "abc123"], ["downgrade", "-1"], ["downgrade", "base"], ["-x", "a=b", "heads"],
    ["--sql", "-x", "bind=default", "upgrade", "head"], ["-c", "upgrade", "current", "-c"],
    ["revision", "--autogenerate", "-m", "add x"], ["stamp", "--purge", "a1", "b2"],
    ["merge", "-m", "merge", "a1", "b2"], ["init", "-t", "generic", "custom"],
    ["show", "a1"], ["edit", "a1"], ["history", "-r", "a1:", "-v", "-i"], ["heads", "-v"],
    ["current", "--check-heads"], ["check"], ["list_templates"], ["lint", "a1:head"],
    ["squash", "--to", "a1"], ["rebase", "a1", "--onto", "b2"], ["upgrade", "--", "-1"],
    ["--help"], [],
]  # fmt: skip


@pytest.mark.parametrize("argv", ALEMBIC_SPELLINGS)
def test_alembics_spellings_are_untouched(argv: list[str]) -> None:
    assert alembic_argv(argv) == argv


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # The positional argument Flask-Migrate fills in.
        (["upgrade"], ["upgrade", "head"]),
        (["upgrade", "--sql", "--tag", "v1"], ["upgrade", "--sql", "--tag", "v1", "head"]),
        (["downgrade"], ["downgrade", "-1"]),
        (["downgrade", "--sql"], ["downgrade", "--sql", "head:-1"]),
        (["show"], ["show", "head"]),
        (["edit"], ["edit", "head"]),
        (["stamp", "--purge"], ["stamp", "--purge", "head"]),
        (["merge", "-m", "merge", "--rev-id", "m1"], ["merge", "-m", "merge", "--rev-id", "m1", "heads"]),
        (["init"], ["init", "migrations"]),
        (["init", "--multidb", "--package"], ["init", "--multidb", "--package", "migrations"]),
        # -d and -x after the command, moved before it; init's -d is its folder.
        (["upgrade", "-x", "a=b", "--x-arg", "c=d"], ["-x", "a=b", "-x", "c=d", "upgrade", "head"]),
        (["migrate", "--x-arg=a=b", "-m", "add x"], ["-x", "a=b", "migrate", "-m", "add x"]),
        (["downgrade", "-d", "custom", "base"], ["--directory", "custom", "downgrade", "base"]),
        (["heads", "--directory=custom"], ["--directory", "custom", "heads"]),
        (["-d", "custom", "current", "-v"], ["--directory", "custom", "current", "-v"]),
        (["init", "-d", "custom"], ["--directory", "custom", "init", "custom"]),
        (["-d", "custom", "init", "-t", "generic"], ["--directory", "custom", "init", "-t", "generic", "custom"]),
        # Options that take a value: what follows is not the command's argument.
        (["-c", "upgrade", "-n", "upgrade", "upgrade"], ["-c", "upgrade", "-n", "upgrade", "upgrade", "head"]),
        (["downgrade", "--tag", "v1", "-x", "a=b"], ["-x", "a=b", "downgrade", "--tag", "v1", "-1"]),
        # Incomplete options stay where they are, for argparse's error.
        (["upgrade", "-x"], ["upgrade", "-x", "head"]),
        (["-x", "upgrade"], ["-x", "upgrade"]),
    ],
)  # fmt: skip
def test_flask_migrates_spellings_become_alembics(argv: list[str], expected: list[str]) -> None:
    assert alembic_argv(argv) == expected


def test_upgrade_alone_upgrades_to_the_head(project: Project) -> None:
    project.write_revision("a1", None)
    project.write_revision("a2", "a1")
    project.migrate("upgrade")
    assert project.versions_in() == ["a2"]


def test_migrate_is_revision_autogenerate(project: Project) -> None:
    """Flask-Migrate's `migrate`: a revision of what the models add, none when nothing."""
    project.migrate("migrate", "-m", "users and posts", "--rev-id", "r1")
    [revision] = project.versions.glob("r1_*.py")
    assert revision.name == "r1_users_and_posts.py"
    assert "op.create_table('users'," in revision.read_text()
    project.migrate("upgrade")
    project.migrate("migrate", "-m", "nothing new")
    assert [path.name for path in project.versions.glob("*.py")] == [revision.name]


def test_commands_without_a_revision_take_flask_migrates(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write_revision("a1", None)
    project.write_revision("a2", "a1")
    project.migrate("upgrade")
    project.migrate("downgrade")
    assert project.versions_in() == ["a1"]
    project.migrate("stamp")
    assert project.versions_in() == ["a2"]
    capsys.readouterr()
    project.migrate("show")
    assert "Rev: a2 (head)" in capsys.readouterr().out
    monkeypatch.setenv("EDITOR", "true")
    project.migrate("edit")
    project.write_revision("b1", "a1")
    project.migrate("merge", "-m", "both heads", "--rev-id", "m1")
    assert "Revises: a2, b1" in (project.versions / "m1_both_heads.py").read_text()


def test_list_templates_has_flask_migrates_name(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.migrate("list_templates")
    listing = capsys.readouterr().out
    project.migrate("list-templates")
    assert capsys.readouterr().out == listing


def test_init_without_a_directory_makes_migrations(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    project.migrate("init")
    made = tmp_path / "elsewhere" / "migrations"
    assert (made / "env.py").read_text() == (project.migrations / "env.py").read_text()
    project.migrate("init", "--multidb", "-d", "several")
    multidb = (TEMPLATES / "flask-multidb" / "env.py").read_text()
    assert (tmp_path / "elsewhere" / "several" / "env.py").read_text() == multidb


def test_directory_names_the_migration_environment(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Flask-Migrate's -d DIR, before the command or after it: DIR's revisions, and its
    alembic.ini where it has one."""
    monkeypatch.chdir(project.root)
    project.migrate("init", "-d", "custom")
    project.migrate("revision", "-m", "first", "--rev-id", "c1", "-d", "custom")
    assert [path.name for path in (project.root / "custom" / "versions").iterdir()] == [
        "c1_first.py"
    ]
    assert list(project.versions.iterdir()) == []
    project.migrate("--directory", "custom", "upgrade")
    assert project.versions_in() == ["c1"]
    (project.root / "custom" / "alembic.ini").unlink()  # as a bare folder: script_location
    capsys.readouterr()
    project.migrate("heads", "--directory=custom")
    assert capsys.readouterr().out == "c1 (head)\n"
    assert project.failure("heads", "-d", "nosuch").startswith("FAILED: ")


@pytest.mark.parametrize("argv", [["--help"], []])
def test_the_help_lists_alembics_commands_and_the_librarys(
    project: Project, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        project.migrate(*argv)
    assert exit_.value.code == 0
    overview = capsys.readouterr().out
    assert overview.startswith("usage: manage.py migrate [-h]")
    assert "{" + ",".join([*alembic_commands(), *OWN_COMMANDS]) + "}" in overview
    words = " ".join(overview.split())
    for name in OWN_COMMANDS:  # each with the start of its docstring
        summary = " ".join(getattr(migrate_command, name).__doc__.split()[:6])
        assert f" {name} {summary}" in words
    # Flask-Migrate's names, below the commands; its options, and its defaults.
    assert " migrate Autogenerate a new revision file: Flask-Migrate's name for" in words
    assert " list-templates List available templates: Flask-Migrate's name for" in words
    assert "-d DIR, --directory DIR the migration environment, e.g. migrations" in words
    assert "-d/--directory and -x/--x-arg after the command" in words
    assert ", ".join(f"{name} {value}" for name, value in DEFAULT_ARGUMENTS.items()) in words


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("squash", ["--to REV", "--dry-run"]),
        ("rebase", ["revision", "--onto HEAD"]),
        ("lint", ["[REV_RANGE]", "e.g. abc123:head (default: all)"]),
        ("upgrade", ["[revision]", "REVISION may be left out: head."]),
        ("downgrade", ["[revision]", "REVISION may be left out: -1; with --sql: head:-1."]),
        ("show", ["[rev]", "REV may be left out: head."]),
        ("edit", ["[rev]", "REV may be left out: head."]),
        ("stamp", ["[--purge] [revisions ...]", "REVISIONS may be left out: head."]),
        ("merge", ["[revisions ...]", "REVISIONS may be left out: heads."]),
        ("init", ["[--multidb] [directory]", "DIRECTORY may be left out: migrations."]),
        ("migrate", ["[-m MESSAGE]", "[--rev-id REV_ID]"]),
        ("list-templates", []),
    ],
)
def test_each_commands_usage_has_its_options(
    project: Project, capsys: pytest.CaptureFixture[str], name: str, fragments: list[str]
) -> None:
    with pytest.raises(SystemExit):
        project.migrate(name, "--help", prog="flask db")
    usage = capsys.readouterr().out
    assert usage.startswith(f"usage: flask db {name} [-h]")
    for fragment in fragments:
        assert fragment in " ".join(usage.split())


def test_options_without_a_command_name_the_fix(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        project.migrate("-x", "a=b")
    assert exit_.value.code == 2
    assert "error: name a command, e.g. `upgrade`; `--help` lists them" in capsys.readouterr().err


def test_an_alembic_error_is_one_line(project: Project) -> None:
    assert project.failure("downgrade", "nosuch") == (
        "FAILED: Can't locate revision identified by 'nosuch'"
    )


def test_raiseerr_gives_the_traceback(project: Project) -> None:
    with pytest.raises(CommandError, match="Can't locate revision identified by 'nosuch'"):
        project.migrate("--raiseerr", "downgrade", "nosuch")


def test_an_error_it_does_not_know_keeps_its_traceback(project: Project) -> None:
    project.write_revision("a1", None, 'raise ValueError("a bug in the revision")')
    with pytest.raises(ValueError, match="a bug in the revision"):
        project.migrate("upgrade")


def test_the_commands_messages_name_how_it_was_run(project: Project) -> None:
    """`prog` is what the user typed: a script is run with python."""
    hint = "lists the revisions: e.g. `{} lint <revision>:head`"
    assert hint.format("python manage.py migrate") in project.failure("lint", "nope:head")
    assert hint.format("flask db") in project.failure("lint", "nope:head", prog="flask db")


def test_list_templates_offers_the_librarys_templates_first(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.migrate("list_templates")
    listing = capsys.readouterr().out.splitlines()
    assert listing[:4] == [
        "This project's templates:",
        "",
        "flask - Flask-aware environment: the app's engines and models, one database or more.",
        (
            "flask-multidb - Flask-aware environment for several databases "
            "(Flask-SQLAlchemy binds): hand-written revisions get a function per database too."
        ),
    ]
    assert "generic - Generic single-database configuration." in listing
    assert "  python manage.py migrate init --template generic ./scripts" in listing


def test_init_makes_a_flask_environment_by_default(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    project.migrate("init", "custom")
    custom = project.root / "custom"
    assert sorted(path.name for path in custom.iterdir()) == [
        "README", "alembic.ini", "env.py", "script.py.mako", "versions",
    ]  # fmt: skip
    assert (custom / "env.py").read_text() == (project.migrations / "env.py").read_text()
    assert "script_location = " in (custom / "alembic.ini").read_text()
    project.migrate("init", "-t", "generic", "plain")
    assert "engine_from_config" in (project.root / "plain" / "env.py").read_text()


def test_history_reads_only_the_revision_files(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """With `revision_environment` set (as in a project with binds), `history` still runs
    no env.py, which would print it once per database; `history -i` needs it."""
    with (project.root / "pyproject.toml").open("a") as settings:
        settings.write("revision_environment = true\n")
    (project.migrations / "env.py").write_text('raise RuntimeError("env.py ran")\n')
    project.write_revision("a1", None)
    project.migrate("history")
    assert capsys.readouterr().out == "<base> -> a1 (head), Revision a1\n"
    with pytest.raises(RuntimeError, match="env.py ran"):
        project.migrate("history", "-i")


def test_a_command_leaves_the_heap_frozen_for_the_exit(project: Project) -> None:
    """The process ends with the command: what it built is not garbage-collected."""
    gc.unfreeze()
    try:
        migrate_command.run_alembic(
            ["heads"], "manage.py migrate", lambda: project.app, project.root
        )
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
