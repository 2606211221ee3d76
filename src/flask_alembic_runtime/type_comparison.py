"""How `check` and autogenerate compare a column's type across SQLAlchemy releases."""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import Float
from sqlalchemy.types import TypeEngine

#: SQLAlchemy 2.0's Double; SQLAlchemy 1.4 has none (its models map no type to it).
Double: Any = getattr(sqlalchemy, "Double", ())


def compare_type(
    context: Any,
    inspected: Any,
    declared: Any,
    inspected_type: TypeEngine[Any],
    declared_type: TypeEngine[Any],
) -> bool | None:
    """Tell `check` and autogenerate that a column's type changed: False where it did not,
    None to let Alembic compare.

    SQLAlchemy 2.1 maps `Mapped[float]` to Double where 2.0 mapped it to Float, so a column
    that an older revision created with `sa.Float()` still holds what the model means.
    SQLite stores every float alike; on MySQL and MariaDB that column reflects as FLOAT.
    (PostgreSQL's FLOAT is DOUBLE PRECISION: Alembic already sees them as equal.)
    """
    if not (isinstance(inspected_type, Float) and isinstance(declared_type, Float)):
        return None
    dialect = context.dialect.name
    if dialect == "sqlite":
        return False
    renamed = isinstance(declared_type, Double) or declared_type.precision is None
    if dialect in ("mysql", "mariadb") and not isinstance(inspected_type, Double) and renamed:
        return False
    return None
