"""Fail when the migration history has more than one head: the pre-commit hook
`single-migration-head` (.pre-commit-config.yaml), or `python -m migration_tools.heads`.

Two branches that each added a revision leave two heads once merged, and `migrate upgrade`
then refuses to run. This module and config.py import only Alembic and the standard
library, so that pre-commit runs them in an environment of their own, without the
project's virtualenv or its app.
"""

from alembic.script import ScriptDirectory

from .config import alembic_config
from .output import fail


def main() -> None:
    heads = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
    if len(heads) > 1:
        fail(
            f"the migrations have {len(heads)} heads ({', '.join(heads)}): merge them "
            'with `python manage.py migrate merge heads -m "merge"`, then commit the new revision'
        )


if __name__ == "__main__":
    main()
