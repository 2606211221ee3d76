"""`check` and autogenerate report real schema changes only: a Float column an older
revision created is what a SQLAlchemy 2.1 `Mapped[float]` (Double) model means, on every
database, while a changed length, width, kind, nullability or default is still reported."""

from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Project

# A revision as SQLAlchemy 2.0 wrote it: Mapped[float] was Float then.
OLD_REVISION = '''\
"""measures"""

import sqlalchemy as sa
from alembic import op

revision = "0001measures"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "measures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reading", sa.Float(), nullable=False),
        sa.Column("precise", sa.Float(precision=53), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("note", sa.String(20), nullable=True),
        sa.Column("status", sa.String(10), server_default="new", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("measures")
'''

MODELS = '''\
"""The models."""

from decimal import Decimal

from sqlalchemy import BigInteger, Float, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db


class Measure(db.Model):
    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    reading: Mapped[float]
    precise: Mapped[float]
    name: Mapped[str] = mapped_column(String({name_length}))
    count: Mapped[int] = mapped_column({count_type})
    price: Mapped[{price_python}] = mapped_column({price_type})
    note: Mapped[{note_python}] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), server_default="{status}")
'''

# The model as the revision made it, but with SQLAlchemy 2.1's floats.
UNCHANGED = {
    "name_length": 50,
    "count_type": "Integer",
    "price_python": "float",
    "price_type": "Float",
    "note_python": "str | None",
    "status": "new",
}
# Each of these is a real change, and `check` must name it.
CHANGED = {
    "name_length": 80,
    "count_type": "BigInteger",
    "price_python": "Decimal",
    "price_type": "Numeric(10, 2)",
    "note_python": "str",
    "status": "open",
}
REAL_CHANGES = [
    "modify_type measures.name",
    "modify_type measures.count",
    "modify_type measures.price",
    "modify_nullable measures.note",
    "modify_default measures.status",
]


@pytest.mark.parametrize(
    "database",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.server),
     pytest.param("mysql", marks=pytest.mark.server)],
)  # fmt: skip
def test_float_and_double_are_one_type_and_real_changes_are_reported(
    make_project: Callable[..., Project],
    server_database: Callable[[str], str],
    tmp_path: Path,
    database: str,
) -> None:
    project = make_project(example_model=False, database=database)
    project.env["DATABASE_URL"] = (
        f"sqlite:///{tmp_path / 'app.db'}" if database == "sqlite" else server_database(database)
    )
    (project.path / "migrations" / "versions" / "0001_measures.py").write_text(OLD_REVISION)
    models = project.path / "my_flask_app" / "models.py"
    models.write_text(MODELS.format(**UNCHANGED))
    project.migrate("upgrade")

    assert "No new upgrade operations detected." in project.migrate("check").stdout
    autogenerate = project.migrate("revision", "--autogenerate", "-m", "nothing")
    assert "No changes in schema detected." in autogenerate.stdout
    assert len(list((project.path / "migrations" / "versions").glob("*.py"))) == 1

    models.write_text(MODELS.format(**CHANGED))
    failure = project.migrate("check", ok=False).stderr.strip().splitlines()[-1]
    reported = failure.split("(", 1)[1].split(")", 1)[0].split(", ")
    assert sorted(reported) == sorted(REAL_CHANGES), failure
