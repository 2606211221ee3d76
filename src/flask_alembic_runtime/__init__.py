"""flask-alembic-runtime: the migration machinery of Flask projects made with
flask-alembic-template.

A project's `migrations/env.py` calls `run_migrations(...)` with its settings (and an
adopted project's finds its app with `find_app(...)`, as `flask --app` does); its
`manage.py migrate` and `flask db` run `command.run_alembic`; doctor, squash, rebase and
lint are commands of that group. Each module is imported only by what uses it, so that
importing this package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# copier.yml reads this line (a Jinja include) for the release range a project asks for:
# Jinja's markers ("{" followed by "{", "%" or "#") must stay out of this file.
__version__ = "0.10.0"

__all__ = ["__version__", "find_app", "run_migrations"]

if TYPE_CHECKING:
    from .environment import find_app, run_migrations


def __getattr__(name: str) -> Any:
    """`run_migrations` and `find_app`, imported when first used (they load Flask and
    SQLAlchemy)."""
    if name in ("find_app", "run_migrations"):
        from . import environment

        return getattr(environment, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
