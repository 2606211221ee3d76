"""type_comparison.py: a column an older revision created as `sa.Float()` matches a
model's `Mapped[float]`, which SQLAlchemy 2.1 maps to Double (2.0: Float); other changes of
type are still found."""

from collections.abc import Callable

import pytest
import sqlalchemy
from alembic.migration import MigrationContext
from packaging.version import Version
from sqlalchemy.types import TypeEngine

if Version(sqlalchemy.__version__) < Version("2.0"):
    pytest.skip(
        "SQLAlchemy 1.4 maps no annotation to Float or Double: nothing to compare",
        allow_module_level=True,
    )

from sqlalchemy import Double, Float, Integer, Numeric, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from flask_alembic_runtime.type_comparison import compare_type

from .conftest import Project

# The type SQLAlchemy maps `Mapped[float]` to: Double from 2.1 on, Float in 2.0.
MAPPED_FLOAT = Double if Version(sqlalchemy.__version__).release >= (2, 1) else Float

# A revision that created scores.value as sa.Float(), as SQLAlchemy 2.0's autogenerate did.
FLOAT_COLUMN = (
    'op.create_table("scores", sa.Column("id", sa.Integer, primary_key=True),'
    ' sa.Column("value", sa.Float(), nullable=False))'
)


def compared(dialect: str, inspected: TypeEngine, declared: TypeEngine) -> bool | None:
    context = MigrationContext.configure(dialect_name=dialect)
    return compare_type(context, None, None, inspected, declared)


@pytest.mark.parametrize(
    ("dialect", "inspected", "declared", "changed"),
    [
        ("sqlite", Float(), Double(), False),
        ("sqlite", Double(), Float(precision=10), False),
        ("mysql", mysql.FLOAT(), Double(), False),
        ("mariadb", mysql.FLOAT(), Float(), False),
        # A declared precision, or a DOUBLE in the database: Alembic compares.
        ("mysql", mysql.FLOAT(), Float(precision=10), None),
        ("mysql", mysql.DOUBLE(), Double(), None),
        ("postgresql", Float(), Double(), None),
        # Not floats: Alembic compares.
        ("sqlite", String(10), String(20), None),
        ("mysql", Integer(), Float(), None),
        ("sqlite", Numeric(10, 2), Float(), None),
    ],
)
def test_float_and_double_are_the_same_column_where_the_database_says_so(
    dialect: str, inspected: TypeEngine, declared: TypeEngine, changed: bool | None
) -> None:
    assert compared(dialect, inspected, declared) is changed


def test_check_passes_for_a_float_column_the_models_declare_as_mapped_float(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert type(scores(project)) is MAPPED_FLOAT
    project.migrate("upgrade")
    project.migrate("check")
    assert "No new upgrade operations detected." in capsys.readouterr().out


@pytest.mark.server
def test_check_passes_for_a_float_column_on_mariadb(
    server_database: Callable[..., str], project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.make_app(default=server_database("mysql"))
    assert type(scores(project)) is MAPPED_FLOAT
    project.migrate("upgrade")
    project.migrate("check")
    assert "No new upgrade operations detected." in capsys.readouterr().out


def scores(project: Project) -> TypeEngine[float]:
    """A revision with scores.value as sa.Float(), and a model with Mapped[float]: the users
    and posts tables too, so that only the float column could differ. The model's type of
    scores.value."""
    project.migrate("revision", "--autogenerate", "-m", "users and posts")
    [first] = project.versions.glob("*.py")
    project.write_revision("scores", first.name.split("_")[0], FLOAT_COLUMN)
    app = project.app
    db = app.extensions["sqlalchemy"]

    class Score(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "scores"
        id: Mapped[int] = mapped_column(primary_key=True)
        value: Mapped[float]

    return Score.__table__.c.value.type
