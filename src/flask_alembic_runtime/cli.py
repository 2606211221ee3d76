"""`flask migrate ...` and `flask db ...`: the `migrate` command in Flask's own command
line (this package registers both as Flask CLI plugins); a project's manage.py runs the
same command. This module imports only click, so that `flask --help` stays quick."""

from __future__ import annotations

from importlib.util import find_spec

import click


def run_in_flask(ctx: click.Context, argv: tuple[str, ...]) -> None:
    """Run `migrate ARGV` with the app Flask's command line found (`--app`, FLASK_APP).

    A project with no settings naming its migration environment (an adopted one, with
    requirements.txt and its environment where Flask-Migrate's `Migrate(app, db,
    directory=...)` puts it) gets the directory the app gives Flask-Migrate."""
    from flask.cli import ScriptInfo

    from .command import run_alembic
    from .config import has_settings, project_root

    load_app = ctx.ensure_object(ScriptInfo).load_app
    if not has_settings(project_root()):
        directory = getattr(load_app().extensions.get("migrate"), "directory", None)
        argv = argv if directory is None else ("--directory", str(directory), *argv)
    run_alembic(list(argv), prog=ctx.command_path, load_app=load_app)


SETTINGS = {"ignore_unknown_options": True, "help_option_names": []}


@click.command(context_settings=SETTINGS, add_help_option=False)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def migrate(ctx: click.Context, argv: tuple[str, ...]) -> None:
    """Run an Alembic command (`--help` lists them all)."""
    run_in_flask(ctx, argv)


@click.command(context_settings=SETTINGS, add_help_option=False)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def db(ctx: click.Context, argv: tuple[str, ...]) -> None:
    """Run an Alembic command, as `migrate` (Flask-Migrate's `db` where the app uses it)."""
    if find_spec("flask_migrate") is not None:
        from flask.cli import ScriptInfo

        app = ctx.ensure_object(ScriptInfo).load_app()
        if "migrate" in app.extensions:  # Migrate(app, db): its own commands, as before
            from flask_migrate.cli import db as flask_migrate_db  # type: ignore[import-untyped]

            # Its group, parsed from here as `flask db ...` (with its own --help).
            group = flask_migrate_db.make_context(
                ctx.info_name, list(argv), parent=ctx.parent, help_option_names=["--help"]
            )
            with group:
                flask_migrate_db.invoke(group)
            return
    run_in_flask(ctx, argv)
