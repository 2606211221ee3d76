"""The app's databases, by the names the migrations use: "default" for the main one
(`SQLALCHEMY_DATABASE_URI`), and each Flask-SQLAlchemy bind by its key.

Flask-SQLAlchemy 3 keeps an engine and a MetaData per bind (`db.engines`, `db.metadatas`);
2.5 makes engines on request (`db.get_engine(bind=KEY)`) and keeps one MetaData whose
tables carry their bind key (`table.info["bind_key"]`): both are read here, and nowhere
else."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Engine

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
        state = app.extensions["sqlalchemy"]
    except KeyError:
        raise CommandError(
            f"the app {app.name} has no Flask-SQLAlchemy object: call db.init_app(app) "
            "where the app is made"
        ) from None
    db: SQLAlchemy = getattr(state, "db", state)  # 2.5 keeps a state holding the object
    return db


def app_databases(db: SQLAlchemy) -> dict[str, Engine]:
    """The app's engines by database name: "default" first, then each bind."""
    if hasattr(db, "engines"):
        engines = {database_name(key): engine for key, engine in db.engines.items()}
    else:  # Flask-SQLAlchemy 2.5
        from flask import current_app

        binds = current_app.config.get("SQLALCHEMY_BINDS") or {}
        engines = {database_name(key): db.get_engine(bind=key) for key in [None, *binds]}
    return {DEFAULT: engines.pop(DEFAULT), **engines}


def current_databases() -> dict[str, Engine]:
    """The databases of the app whose context is active, by name ("default" first)."""
    from flask import current_app

    return app_databases(sqlalchemy_object(current_app))


def target_metadata(db: SQLAlchemy, name: str) -> MetaData:
    """The tables the models put in database `name` (an empty MetaData while none do)."""
    from sqlalchemy import MetaData

    if hasattr(db, "metadatas"):
        return db.metadatas.get(bind_key(name), MetaData())
    # Flask-SQLAlchemy 2.5: one MetaData for every bind, each table marked with its own.
    every = db.metadata
    key = bind_key(name)
    if all(table.info.get("bind_key") == key for table in every.tables.values()):
        return every
    chosen = MetaData(naming_convention=every.naming_convention)
    for table in every.tables.values():
        if table.info.get("bind_key") == key:
            table.to_metadata(chosen)
    return chosen
