"""The one detector of SQL a revision runs itself, which squash and rebase share."""

import ast

import pytest

from flask_alembic_runtime.sql_calls import called_name, runs_sql, sql_calls

REVISION = '''\
"""Backfill the tags."""

import sqlalchemy as sa
from alembic import op

# op.execute("in a comment") is no call


def upgrade() -> None:
    op.add_column("users", sa.Column("tag", sa.String(20)))
    op.execute(
        "UPDATE users SET tag = 'new'"
    )
    op.get_bind().exec_driver_sql("UPDATE users SET tag = 'x' WHERE id = 1")
    op.bulk_insert(sa.table("tags", sa.column("name")), [{"name": "new"}])


def downgrade() -> None:
    op.drop_column("users", "tag")
'''


def test_every_call_that_runs_sql_is_found_in_source_order() -> None:
    calls = sql_calls(ast.parse(REVISION))
    assert [(called_name(call), call.lineno) for call in calls] == [
        ("execute", 11),
        ("exec_driver_sql", 14),
        ("bulk_insert", 15),
    ]


def test_a_revision_of_operations_only_runs_no_sql() -> None:
    tree = ast.parse(
        REVISION.split("def upgrade")[0] + "def downgrade():\n    op.drop_table('t')\n"
    )
    assert sql_calls(tree) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("op.execute('DELETE FROM t')", True),
        ("connection.exec_driver_sql('SELECT 1')", True),
        ("op.alter_column('t', 'c', server_default=op.execute('x'))", True),  # inside
        ("op.drop_table('t')", False),
        ("execute_later('t')", False),
    ],
)
def test_runs_sql_looks_inside_a_call(code: str, expected: bool) -> None:
    assert runs_sql(ast.parse(code).body[0]) is expected


def test_called_name_of_a_call_on_a_call_result() -> None:
    call = ast.parse("op.get_bind().execute(q)").body[0].value
    assert isinstance(call, ast.Call)
    assert called_name(call) == "execute"
    assert called_name(ast.parse("(lambda: 1)()").body[0].value) == ""
