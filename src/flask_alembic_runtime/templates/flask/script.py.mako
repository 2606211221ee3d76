## The template of every new revision file. Each imports Alembic's `op` and SQLAlchemy as
## `sa`, used or not, so that a step written by hand needs no import (tell ruff so: F401 in
## `per-file-ignores` for versions/). env.py passes the app's databases: with
## several (binds), a revision has an upgrade and a downgrade function for each.
<%
    def operations(rendered):
        """Autogenerate's code for one function, or "" when it found nothing to do."""
        lines = [line.strip() for line in (rendered or "").splitlines()]
        if all(not line or line == "pass" or line.startswith("# ###") for line in lines):
            return ""
        return rendered

    databases = context.get("databases") or ["default"]
    upgrades = {name: operations(context.get(name + "_upgrades")) for name in databases}
    downgrades = {name: operations(context.get(name + "_downgrades")) for name in databases}
    body = "".join(upgrades.values()) + "".join(downgrades.values())
%>\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
% if imports:
${imports}
% endif

% if not body:
# Write the changes with Alembic's operations, for example:
#     op.add_column("users", sa.Column("age", sa.Integer()))

% endif
# Revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}
% if len(databases) == 1:


def upgrade() -> None:
    """Upgrade the schema."""
% if upgrades["default"]:
    ${upgrades["default"]}
% endif


def downgrade() -> None:
    """Downgrade the schema."""
% if downgrades["default"]:
    ${downgrades["default"]}
% endif
% else:

# One upgrade and one downgrade per database: env.py runs upgrade_<database>() on each.
% for name in databases:


def upgrade_${name}() -> None:
    """Upgrade the ${name} database."""
% if upgrades[name]:
    ${upgrades[name]}
% endif


def downgrade_${name}() -> None:
    """Downgrade the ${name} database."""
% if downgrades[name]:
    ${downgrades[name]}
% endif
% endfor
% endif
