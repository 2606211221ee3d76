"""`python manage.py migrate rebase REV [--onto HEAD]`: make the history linear again.

After a git merge of two branches that each added revisions, the history has two heads.
Instead of a merge revision, `rebase` moves one branch onto the other head: REV, the first
revision of that branch, now revises the other head, and its descendants follow it. Only
two lines of REV's file change: `down_revision` and the docstring's `Revises:`.

It refuses, changing nothing, when a database of the app (the default one or a bind) has
applied a revision it would move, or when both branches touch the same table of the same
database: then their order matters, and a merge revision is the honest answer. The file
changes in one swap (history_swap.py): killed at any moment, the folder holds the old
history or the new one.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError, to_tuple

from .config import command_of
from .databases import current_databases, database_name
from .history_swap import recovered_script, swap_history
from .output import shown
from .schema import version_of
from .sql_calls import RUNS_SQL, called_name, runs_sql


def rebase(config: Config, revision: str, onto: str | None = None) -> None:
    """Re-parent `revision` and its descendants onto the other head; print what changed."""
    script = recovered_script(config)
    merge = f'{command_of(config)} merge heads -m "merge"'
    heads = set(script.get_heads())
    if len(heads) < 2:
        raise CommandError(
            f"the history has one head ({', '.join(heads) or 'none'}): there is nothing to "
            "rebase; it is for two heads after a git merge"
        )
    first = find(script, revision, "REV")
    moved = descendants(script, first)
    own_heads = heads & {revision.revision for revision in moved}
    check_movable(first, own_heads, merge)
    target = choose_onto(script, first, heads - own_heads, onto)
    shared = ancestors(script, target.revision)
    if first.down_revision is not None and first.down_revision not in shared:
        raise CommandError(
            f"{first.revision} is not the first revision of its branch: rebase "
            f"{fork_point(script, first, shared)} instead, the first one after the fork"
        )
    # The other branch: the revisions that lead to the target since the fork.
    other = [script.get_revision(name) for name in shared - ancestors(script, first.down_revision)]
    for labelled in [*moved, *other]:
        # The labels its file declares: Alembic lends them to the revisions around it too.
        labels = to_tuple(getattr(labelled.module, "branch_labels", None), default=())
        if labels:
            raise CommandError(
                f"{labelled.revision} carries the branch label(s) {', '.join(labels)}: a "
                f"labelled branch is kept apart on purpose; write a merge revision instead: "
                f"`{merge}`"
            )
    check_tables(script, moved, other, merge)
    path = Path(first.path)
    text = reparented(path.read_text(encoding="utf-8"), target.revision)
    check_databases(config, first, moved, merge)
    # Every check passed. (The new folder has no bytecode: Python cannot reuse the old.)
    what = f"{shown(path)} revises {target.revision}"
    swap_history(Path(script.dir), "rebase", {path: text.encode("utf-8")}, what)
    new_heads = ScriptDirectory.from_config(config).get_heads()
    config.print_stdout(
        f"rebased {len(moved)} revision(s) onto {target.revision}: {shown(path)} now revises "
        f"{target.revision}"
    )
    config.print_stdout(
        f"{'the new head' if len(new_heads) == 1 else 'heads'}: {', '.join(new_heads)}"
    )


def find(script: ScriptDirectory, name: str, what: str) -> Script:
    """The one revision `name` means, else one line naming the heads to choose from."""
    heads = ", ".join(sorted(script.get_heads()))
    try:
        found = script.get_revisions(name)
    except CommandError:
        found = ()
    if len(found) != 1 or found[0] is None:
        raise CommandError(
            f"{what} {name!r} is not one revision of the history: name a revision id "
            f"(the heads are {heads}; `history` lists them all)"
        )
    return found[0]


def descendants(script: ScriptDirectory, first: Script) -> list[Script]:
    """`first` and every revision after it, in order."""
    names = {first.revision}
    for revision in reversed(list(script.walk_revisions())):  # from base to the heads
        if names & set(to_tuple(revision.down_revision, default=())):
            names.add(revision.revision)
    return [script.get_revision(name) for name in sorted(names)]


def ancestors(script: ScriptDirectory, name: str | None) -> set[str]:
    """A revision and every revision before it; nothing for None (base)."""
    found: set[str] = set()
    waiting = [name] if name else []
    while waiting:
        revision = script.get_revision(waiting.pop())
        if revision.revision not in found:
            found.add(revision.revision)
            waiting.extend(to_tuple(revision.down_revision, default=()))
    return found


def fork_point(script: ScriptDirectory, revision: Script, shared: set[str]) -> str:
    """The first revision of `revision`'s branch: its oldest ancestor not in `shared`."""
    while revision.down_revision not in shared and isinstance(revision.down_revision, str):
        revision = script.get_revision(revision.down_revision)
    return revision.revision


def check_movable(first: Script, own_heads: set[str], merge: str) -> None:
    """Refuse a revision whose branch a rebase cannot move."""
    if len(own_heads) > 1:
        raise CommandError(
            f"{first.revision} is before the heads {', '.join(sorted(own_heads))}: name the "
            "first revision of one branch, after the fork (`history` shows it)"
        )
    if isinstance(first.down_revision, tuple):
        raise CommandError(
            f"{first.revision} is a merge revision: rebase the first revision of one of the "
            "branches it merges, or keep the merge"
        )
    if first.dependencies:
        raise CommandError(
            f"{first.revision} has depends_on {first.dependencies!r}: rebase cannot keep that "
            f"order for you; write a merge revision instead: `{merge}`"
        )


def choose_onto(
    script: ScriptDirectory, first: Script, other_heads: set[str], onto: str | None
) -> Script:
    """The head to move onto: --onto, else the other head."""
    if onto is None:
        if len(other_heads) != 1:
            raise CommandError(
                f"the history has {len(other_heads) + 1} heads: name the one to move "
                f"{first.revision} onto with --onto ({', '.join(sorted(other_heads))})"
            )
        return script.get_revision(other_heads.pop())
    target = find(script, onto, "--onto")
    if target.revision not in other_heads:
        own = target.revision in {revision.revision for revision in descendants(script, first)}
        problem = f"on the branch of {first.revision}, the one to move" if own else "not a head"
        raise CommandError(
            f"--onto {onto}: {target.revision} is {problem}: name the other head "
            f"({', '.join(sorted(other_heads))})"
        )
    return target


@dataclass
class Touch:
    """A table one call in a revision touches; None until read from the call's code."""

    database: str
    table: str | None
    where: str  # e.g. migrations/versions/abc_add_tags.py:12
    code: str = ""  # the call, when its table is not a literal: SQL, or a variable
    sql: bool = False  # whether the call runs SQL of its own (its tables are in its code)


# Alembic operations that name their table(s): the positions and keywords to read them at.
TABLE_ARGUMENTS: dict[str, tuple[tuple[int, str], ...]] = {
    "create_table": ((0, "table_name"),),
    "drop_table": ((0, "table_name"),),
    "rename_table": ((0, "old_table_name"), (1, "new_table_name")),
    "add_column": ((0, "table_name"),),
    "drop_column": ((0, "table_name"),),
    "alter_column": ((0, "table_name"),),
    "batch_alter_table": ((0, "table_name"),),
    "create_index": ((1, "table_name"),),
    "drop_index": ((1, "table_name"),),
    "create_primary_key": ((1, "table_name"),),
    "create_unique_constraint": ((1, "table_name"),),
    "create_check_constraint": ((1, "table_name"),),
    "create_exclude_constraint": ((1, "table_name"),),
    "drop_constraint": ((1, "table_name"),),
    "create_foreign_key": ((1, "source_table"), (2, "referent_table")),
    "create_table_comment": ((0, "table_name"),),
    "drop_table_comment": ((0, "table_name"),),
}
# Operations of `op` that touch no table.
HARMLESS = {"f", "get_bind", "get_context", "inline_literal"}


def touches(revision: Script) -> list[Touch]:
    """What each database's upgrade and downgrade touch, read from the file's code:
    `upgrade()` is the default database's, `upgrade_<database>()` that database's."""
    path = Path(revision.path)
    source = path.read_text()
    found = []
    for function in ast.parse(source).body:
        match = re.fullmatch(r"(?:up|down)grade(?:_(\w+))?", getattr(function, "name", ""))
        if not isinstance(function, ast.FunctionDef) or not match:
            continue
        database = database_name(match.group(1))
        for call in ast.walk(function):
            if isinstance(call, ast.Call):
                where = f"{shown(path)}:{call.lineno}"
                for table in tables_of(call):
                    code = "" if table else ast.get_source_segment(source, call) or ""
                    found.append(Touch(database, table, where, code, runs_sql(call)))
    return found


def tables_of(call: ast.Call) -> list[str | None]:
    """The tables one call names; None for one whose table is not a literal (SQL, say)."""
    function = call.func
    name = called_name(call)
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}
    if name in ("table", "Table"):  # sa.table("users", ...): a table for SQL or bulk_insert
        return [literal(call.args[0] if call.args else keywords.get("name"))]
    if name in RUNS_SQL:  # its tables are read from its code
        return [None]
    on_op = isinstance(function, ast.Attribute) and getattr(function.value, "id", "") == "op"
    if not on_op or name in HARMLESS:
        return []
    if name not in TABLE_ARGUMENTS:
        return [None]  # an operation this does not know: its code is read for tables
    schema = literal(keywords.get("schema"))
    tables = []
    for position, keyword in TABLE_ARGUMENTS[name]:
        node = call.args[position] if position < len(call.args) else keywords.get(keyword)
        if node is not None:  # drop_index may name its index alone
            table = literal(node)
            tables.append(f"{schema}.{table}" if schema and table else table)
    return tables


def literal(node: ast.expr | None) -> str | None:
    """The string a node writes, or None for anything else."""
    is_string = isinstance(node, ast.Constant) and isinstance(node.value, str)
    return node.value if is_string else None  # type: ignore[union-attr]


def check_tables(
    script: ScriptDirectory, moved: list[Script], other: list[Script], merge: str
) -> None:
    """Refuse when both branches touch a table of the same database.

    SQL (`op.execute`, `bulk_insert`, a connection's `execute`) touches the tables the
    history's operations name that its code names as words; an operation whose table is
    not a literal and names no such table is refused, as it cannot be told apart.
    """
    touched = {revision.revision: touches(revision) for revision in script.walk_revisions()}
    known = {
        (touch.database, touch.table)
        for found in touched.values()
        for touch in found
        if touch.table
    }
    sides: list[set[tuple[str, str]]] = [set(), set()]
    where: dict[tuple[int, str, str], str] = {}
    for side, revisions in enumerate((moved, other)):
        for touch in [touch for revision in revisions for touch in touched[revision.revision]]:
            if touch.table:
                tables = {touch.table}
            else:
                words = set(re.findall(r"\w+(?:\.\w+)?", touch.code))
                tables = {table for database, table in known if database == touch.database} & words
                if not tables and not touch.sql:
                    raise CommandError(
                        f"{touch.where}: cannot tell which table this operation touches: "
                        f"check both branches by hand, and write a merge revision: `{merge}`"
                    )
            for table in tables:
                sides[side].add((touch.database, table))
                where.setdefault((side, touch.database, table), touch.where)
    clashes = sorted(sides[0] & sides[1])
    if clashes:
        described = "; ".join(
            f"{table}{'' if database == 'default' else f' ({database} database)'} "
            f"({where[0, database, table]} and {where[1, database, table]})"
            for database, table in clashes
        )
        raise CommandError(
            f"both branches change the same table, so their order matters: {described}; "
            f"write a merge revision instead: `{merge}`"
        )


def check_databases(config: Config, first: Script, moved: list[Script], merge: str) -> None:
    """Refuse when a database of the app has applied a revision that would move; say
    which databases were checked."""
    names = {revision.revision for revision in moved}
    checked = []
    for name, engine in current_databases().items():  # the default database first
        current, state = version_of(engine)
        if current & names:
            raise CommandError(
                f"the {name} database has applied {', '.join(sorted(current & names))}, a "
                f"revision this would move: downgrade it first (`{command_of(config)} downgrade "
                f"{first.revision}@{first.down_revision or 'base'}`), or write a merge "
                f"revision: `{merge}`"
            )
        checked.append(f"{name} ({state})")
    config.print_stdout(f"databases checked: {', '.join(checked)}")


def reparented(text: str, parent: str) -> str:
    """A revision file's text with `down_revision` and the docstring's `Revises:` line
    naming `parent`; every other byte kept."""
    module = ast.parse(text)
    lines = text.splitlines(keepends=True)
    assignments = [
        statement
        for statement in module.body
        if isinstance(statement, ast.Assign | ast.AnnAssign)
        and "down_revision" in [getattr(target, "id", "") for target in assignments_of(statement)]
    ]
    value = assignments[0].value if len(assignments) == 1 else None
    if value is None or value.lineno != value.end_lineno:
        raise CommandError(
            "the revision's down_revision is not one assignment on one line: write it as "
            '`down_revision = "<parent>"` and run rebase again'
        )
    line = lines[value.lineno - 1].encode()  # the offsets count bytes
    new_line = line[: value.col_offset] + f'"{parent}"'.encode() + line[value.end_col_offset :]
    lines[value.lineno - 1] = new_line.decode()
    docstring = module.body[0]
    if isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant):
        for number in range(docstring.lineno - 1, docstring.end_lineno or docstring.lineno):
            if lines[number].startswith("Revises:"):
                lines[number] = re.sub(r"Revises:.*", f"Revises: {parent}", lines[number])
                break
    return "".join(lines)


def assignments_of(statement: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    """The names a statement assigns to."""
    return statement.targets if isinstance(statement, ast.Assign) else [statement.target]
