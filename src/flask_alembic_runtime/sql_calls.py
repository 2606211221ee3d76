"""Which calls in a revision's code run SQL of their own: `op.execute(...)`,
`op.bulk_insert(...)`, a connection's `execute(...)` or `exec_driver_sql(...)`. Read
from the file with Python's ast: the revision is never imported. squash notes them (their
effect on rows is beyond its proof) and rebase reads their SQL for the tables."""

from __future__ import annotations

import ast

#: The names of the calls that run SQL, on `op` or on a connection.
RUNS_SQL = frozenset({"execute", "exec_driver_sql", "bulk_insert"})


def called_name(call: ast.Call) -> str:
    """The name a call calls: `execute` for `op.execute(...)`, `table` for `table(...)`."""
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def runs_sql(node: ast.AST) -> bool:
    """Whether `node`, or a call inside it, runs SQL of its own."""
    return any(
        isinstance(inner, ast.Call) and called_name(inner) in RUNS_SQL for inner in ast.walk(node)
    )


def sql_calls(tree: ast.AST) -> list[ast.Call]:
    """Every call in `tree` that runs SQL, in the order of the source."""
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and called_name(node) in RUNS_SQL
    ]
    return sorted(calls, key=lambda call: (call.lineno, call.col_offset))
