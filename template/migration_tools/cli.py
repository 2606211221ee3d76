"""`flask migrate ...` and `flask db ...`: the project's `migrate` command in Flask's own
command line (pyproject.toml registers both names as Flask CLI plugins); manage.py runs
the same command. This module imports only click, so that `flask --help` stays quick."""

from importlib.util import find_spec

import click


@click.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def migrate(ctx: click.Context, argv: tuple[str, ...]) -> None:
    """Run an Alembic command (`--help` lists them all)."""
    from flask.cli import ScriptInfo

    from .command import run_alembic

    load_app = ctx.ensure_object(ScriptInfo).load_app
    run_alembic(list(argv), prog=ctx.command_path, load_app=load_app)


def __getattr__(name: str) -> click.Command:
    """`db`, the name Flask-Migrate made familiar: this `migrate` command, except while
    Flask-Migrate is installed; then `flask db` stays Flask-Migrate's (both run the same
    migrations/env.py) and `flask migrate` is this one."""
    if name != "db":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if find_spec("flask_migrate") is None:
        return migrate
    from flask_migrate.cli import db

    return db
