"""The app's databases, by the names the migrations use: "default" for the main one
(`SQLALCHEMY_DATABASE_URI`), and each Flask-SQLAlchemy bind by its key."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import Engine, MetaData

#: The name of the app's main database, as revisions (`upgrade_default()`), `-x bind=`
#: and every report spell it.
DEFAULT = "default"


def database_name(bind_key: str | None) -> str:
    """The name of the database behind a Flask-SQLAlchemy bind key (None: the main one)."""
    return bind_key or DEFAULT


def bind_key(name: str) -> str | None:
    """The Flask-SQLAlchemy bind key of the database called `name`."""
    return None if name == DEFAULT else name


def sqlalchemy_object(app: Flask) -> SQLAlchemy:
    """The app's Flask-SQLAlchemy object, the one its models use, whatever the project
    calls it and wherever it lives."""
    from alembic.util import CommandError

    try:
        db: SQLAlchemy = app.extensions["sqlalchemy"]
    except KeyError:
        raise CommandError(
            f"the app {app.name} has no Flask-SQLAlchemy object: call db.init_app(app) "
            "where the app is made"
        ) from None
    return db


def app_databases(db: SQLAlchemy) -> dict[str, Engine]:
    """The app's engines by database name: "default" first, then each bind."""
    engines = {database_name(key): engine for key, engine in db.engines.items()}
    return {DEFAULT: engines.pop(DEFAULT), **engines}


def current_databases() -> dict[str, Engine]:
    """The databases of the app whose context is active, by name ("default" first)."""
    from flask import current_app

    return app_databases(sqlalchemy_object(current_app))


def target_metadata(db: SQLAlchemy, name: str) -> MetaData:
    """The tables the models put in database `name` (an empty MetaData while none do)."""
    from sqlalchemy import MetaData

    return db.metadatas.get(bind_key(name), MetaData())
