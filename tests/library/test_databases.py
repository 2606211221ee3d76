"""databases.py: the app's databases by the names migrations use, "default" and each
bind's key, with the tables the models put in each."""

import pytest
from alembic.util import CommandError
from flask import Flask

from flask_alembic_runtime.databases import (
    DEFAULT,
    app_databases,
    bind_key,
    database_name,
    sqlalchemy_object,
    target_metadata,
)

from .conftest import Project


def test_the_main_database_is_named_default_and_a_bind_by_its_key() -> None:
    assert database_name(None) == DEFAULT == "default"
    assert database_name("analytics") == "analytics"
    assert bind_key("default") is None
    assert bind_key("analytics") == "analytics"


def test_an_app_without_flask_sqlalchemy_is_told_to_call_init_app() -> None:
    with pytest.raises(CommandError) as error:
        sqlalchemy_object(Flask("bare_app"))
    assert str(error.value) == (
        "the app bare_app has no Flask-SQLAlchemy object: call db.init_app(app) where the "
        "app is made"
    )


def test_each_database_is_named_default_first_with_its_models_tables(project: Project) -> None:
    app = project.make_app(binds=["analytics", "archive"])
    with app.app_context():
        db = sqlalchemy_object(app)
        databases = app_databases(db)
        assert list(databases) == ["default", "analytics", "archive"]
        assert databases["default"].url.database == str(project.root / "default.db")
        assert databases["analytics"].url.database == str(project.root / "analytics.db")
        assert set(target_metadata(db, "default").tables) == {"users", "posts"}
        assert set(target_metadata(db, "analytics").tables) == {"events"}
        assert target_metadata(db, "archive").tables == {}
