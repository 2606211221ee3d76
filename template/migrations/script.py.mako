## The template of every new revision file. It imports only what the revision
## uses, so that new files pass `ruff check` unchanged.
<% body = (upgrades or "") + (downgrades or "") %>\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

% if "sa." in body:
import sqlalchemy as sa
% endif
% if "op." in body:
from alembic import op
% endif
${imports if imports else ""}
# Revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade the schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade the schema."""
    ${downgrades if downgrades else "pass"}
