"""Fail when the migration history has more than one head: the pre-commit hook
`single-migration-head` (.pre-commit-config.yaml), or `python -m migration_tools.heads`.

Two branches that each added a revision leave two heads once merged, and `migrate upgrade`
then refuses to run. This imports only Alembic and the standard library, so that pre-commit
runs it in an environment of its own, without the project's virtualenv or its app.
"""

import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[1]
# Read as `python manage.py migrate` reads them: `[tool.alembic]` in pyproject.toml, and the
# alembic.ini that a project adopted from Flask-Migrate keeps.
KEPT_INI = ROOT / "migrations" / "alembic.ini"


def main() -> None:
    config = Config(
        file_=KEPT_INI if KEPT_INI.exists() else None, toml_file=ROOT / "pyproject.toml"
    )
    heads = sorted(ScriptDirectory.from_config(config).get_heads())
    if len(heads) > 1:
        sys.exit(
            f"FAILED: the migrations have {len(heads)} heads ({', '.join(heads)}): merge them "
            'with `python manage.py migrate merge heads -m "merge"`, then commit the new revision'
        )


if __name__ == "__main__":
    main()
