"""Flag the revisions that lose data or lock tables, at the line that does it:
`python manage.py migrate lint [REV_RANGE]`, the CI step and the pre-commit hook that run it,
and the warnings after `migrate revision` (pyproject.toml's post_write_hooks).

The rules, each a finding `FILE:LINE: RULE: what happens; what to write instead`:
- drop-add-rename: a drop_column and an add_column of the same type on one table, which is
  how autogenerate writes a renamed column: the column's data is lost.
- drop-table, drop-column: the rows, or the column's values, are deleted.
- not-null-without-default: add_column(..., nullable=False) with no server_default on a table
  that exists: the upgrade fails as soon as the table has rows.
- narrowed-type: alter_column(..., type_=...) to a shorter String, a smaller Integer, a lesser
  Numeric precision... (existing_type gives the old type): long values fail or are cut.
- squawk:RULE, in PostgreSQL projects: what squawk finds in the revision's SQL (squawk.py),
  e.g. an index built without CONCURRENTLY, which blocks writes to the table as it builds.

Accept a finding on purpose with a comment `# lint: allow RULE` (or `RULE, RULE`) at the end
of the flagged line, or on a comment line right above it.

Only the upgrade functions are read (`upgrade()`, or `upgrade_<database>()` with several
databases), with Python's ast: revisions are not imported and the app is not loaded
(squawk.py's SQL excepted: env.py writes it).

`migrate lint --compat [GIT_REF]` asks another question, whether the release running keeps
working against the schema after the new revisions (rolling deploys): see rolling.py.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from .output import shown
from .revision_files import (
    RevisionFile,
    history_problem,
    read_history,
    revision_map,
    version_locations,
)

if TYPE_CHECKING:  # Alembic is imported by the command only: the post-write hook (`main`)
    # checks one file, and starts faster without it.
    from alembic.config import Config
    from alembic.script.revision import Revision

# `# lint: allow drop-column` or `# lint: allow drop-table, squawk:ban-drop-table`.
ALLOW = re.compile(r"#\s*lint:\s*allow\s+([\w:, -]+)")

# The generic type each type name stands for: autogenerate writes the model's type in the
# upgrade (String) and the database's in the downgrade (VARCHAR).
FAMILIES = {
    **dict.fromkeys(["String", "VARCHAR", "NVARCHAR", "Unicode", "CHAR", "NCHAR"], "String"),
    **dict.fromkeys(["Text", "TEXT", "UnicodeText", "CLOB"], "Text"),
    **dict.fromkeys(["SmallInteger", "SMALLINT"], "SmallInteger"),
    **dict.fromkeys(["Integer", "INTEGER", "INT"], "Integer"),
    **dict.fromkeys(["BigInteger", "BIGINT"], "BigInteger"),
    **dict.fromkeys(["Numeric", "NUMERIC", "DECIMAL"], "Numeric"),
    **dict.fromkeys(["Float", "FLOAT", "REAL"], "Float"),
    **dict.fromkeys(["Double", "DOUBLE", "DOUBLE_PRECISION"], "Double"),
    **dict.fromkeys(["DateTime", "DATETIME", "TIMESTAMP"], "DateTime"),
    **dict.fromkeys(["Boolean", "BOOLEAN"], "Boolean"),
}
# The names of a type's positional arguments, e.g. String(100) is String(length=100).
PARAMETERS = {"String": ["length"], "Text": ["length"], "Numeric": ["precision", "scale"]}
INTEGER_BYTES = {"SmallInteger": 2, "Integer": 4, "BigInteger": 8}

Type = tuple[str, dict[str, object]]  # a generic type name and its arguments


@dataclass
class Finding:
    """One problem: where, which rule, and what to do."""

    path: Path
    line: int
    rule: str
    message: str
    allowed: bool = False

    def __str__(self) -> str:
        return f"{shown(self.path)}:{self.line}: {self.rule}: {self.message}"


@dataclass
class Operation:
    """One `op.NAME(...)` call, or `batch_op.NAME(...)` in `with op.batch_alter_table(...)`."""

    name: str
    table: str | None
    args: list[ast.expr]  # the arguments after the table's name
    keywords: dict[str, ast.expr]
    line: int
    owner: str  # "op", or the batch's variable: how to write the fix
    first: ast.expr | None = None  # the call's first argument, as written

    def unnamed(self) -> bool:
        """Whether it creates a constraint with None for its name."""
        return isinstance(self.first, ast.Constant) and self.first.value is None


def text(node: ast.AST | None) -> str | None:
    """A string constant's value (also inside `op.f("name")`), else None."""
    if isinstance(node, ast.Call) and len(node.args) == 1:
        node = node.args[0]
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def operations(function: ast.FunctionDef) -> list[Operation]:
    """The operations a function calls, in the order they are written."""
    batches: dict[str, str | None] = {}
    found = []
    for node in ast.walk(function):  # breadth first: a `with` before the calls inside it
        if isinstance(node, ast.With):
            for item in node.items:
                call, name = item.context_expr, item.optional_vars
                if isinstance(call, ast.Call) and isinstance(name, ast.Name) and call.args:
                    batches[name.id] = text(call.args[0])
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        ):
            continue
        owner = node.func.value.id
        keywords = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
        if owner == "op" and node.args:
            table, args = text(node.args[0]), node.args[1:]
        elif owner in batches:
            table, args = batches[owner], node.args
        else:
            continue
        first = node.args[0] if node.args else None
        found.append(Operation(node.func.attr, table, args, keywords, node.lineno, owner, first))
    return sorted(found, key=lambda operation: operation.line)


def type_of(node: ast.AST | None) -> Type | None:
    """`sa.String(length=100)` as ("String", {"length": 100}); None for no type."""
    call = node if isinstance(node, ast.Call) else None
    name_node = call.func if call else node
    name = getattr(name_node, "attr", None) or getattr(name_node, "id", None)
    if name is None:
        return None
    family = FAMILIES.get(name, name)
    arguments: dict[str, object] = {}
    if call:
        for parameter, value in zip(PARAMETERS.get(family, []), call.args, strict=False):
            arguments[parameter] = getattr(value, "value", None)
        for keyword in call.keywords:
            if keyword.arg and isinstance(keyword.value, ast.Constant):
                arguments[keyword.arg] = keyword.value.value
    return family, {key: value for key, value in arguments.items() if value is not None}


def shown_type(type_: Type) -> str:
    family, arguments = type_
    return f"{family}({', '.join(f'{key}={value!r}' for key, value in arguments.items())})"


def column(operation: Operation) -> tuple[str | None, Type | None, dict[str, ast.expr]]:
    """The name, type and keywords of add_column's `sa.Column(...)`."""
    node = operation.args[0] if operation.args else None
    if not isinstance(node, ast.Call):
        return None, None, {}
    keywords = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
    name = text(node.args[0]) if node.args else text(keywords.get("name"))
    return name, type_of(node.args[1] if len(node.args) > 1 else keywords.get("type_")), keywords


def narrows(old: Type, new: Type) -> bool:
    """Whether values of the old type may not fit the new one."""
    (old_family, old_arguments), (new_family, new_arguments) = old, new

    def less(key: str) -> bool:  # a limit set lower, or set where there was none
        before, after = old_arguments.get(key), new_arguments.get(key)
        return isinstance(after, int) and (
            before is None or (isinstance(before, int) and after < before)
        )

    if old_family in ("String", "Text") and new_family == "String":
        return less("length") or (old_family == "Text" and "length" in new_arguments)
    if old_family in INTEGER_BYTES and new_family in INTEGER_BYTES:
        return INTEGER_BYTES[new_family] < INTEGER_BYTES[old_family]
    if old_family == new_family == "Numeric":
        return less("precision") or less("scale")
    return (old_family, new_family) == ("Double", "Float") or (
        old_family in ("Numeric", "Float", "Double") and new_family in INTEGER_BYTES
    )


def rename_fix(drop: Operation, new_name: str | None) -> str:
    """The alter_column that renames a column, as the revision would write it."""
    table = f'"{drop.table}", ' if drop.owner == "op" else ""  # a batch knows its table
    return f'{drop.owner}.alter_column({table}"{text(drop.args[0])}", new_column_name="{new_name}")'


#: The operations that create a constraint under the name given first, by what they make.
NAMED_CONSTRAINTS = {
    "create_unique_constraint": "unique constraint",
    "create_foreign_key": "foreign key",
    "create_check_constraint": "check constraint",
}


def check_function(
    path: Path, upgrade: ast.FunctionDef, downgrade: ast.FunctionDef | None
) -> list[Finding]:
    """The findings in one upgrade function; its downgrade tells the dropped columns' types."""
    done = operations(upgrade)
    created = {operation.table for operation in done if operation.name == "create_table"}
    old_types = {}  # (table, column): type, from the downgrade's add_column that restores it
    for operation in operations(downgrade) if downgrade else []:
        if operation.name == "add_column":
            name, type_, _ = column(operation)
            old_types[operation.table, name] = type_
    added = [operation for operation in done if operation.name == "add_column"]
    renames = {}  # a drop_column (by id): the add_column of the same type, its new name
    for drop in (operation for operation in done if operation.name == "drop_column"):
        old_type = old_types.get((drop.table, text(drop.args[0]) if drop.args else None))
        same = (add for add in added if add.table == drop.table and column(add)[1] == old_type)
        if old_type and (twin := next(same, None)):
            added.remove(twin)
            renames[id(drop)] = twin
    renamed = {id(add) for add in renames.values()}  # their alter_column replaces them
    findings = []
    for operation in done:
        table, name = operation.table, text(operation.args[0]) if operation.args else None
        if operation.name == "drop_column":
            if twin := renames.get(id(operation)):
                new_name, old_type = column(twin)[:2]
                assert old_type is not None  # a twin has the dropped column's type
                rule = "drop-add-rename"
                message = (
                    f"{table}.{name} is dropped and {table}.{new_name} added, both "
                    f"{shown_type(old_type)}: a rename written this way loses the column's "
                    f"data; write instead: {rename_fix(operation, new_name)}"
                )
            else:
                rule, message = "drop-column", f"{table}.{name} is dropped with its data"
        elif operation.name == "drop_table":
            rule, message = "drop-table", f"{table} is dropped with its rows"
        elif (
            operation.name == "add_column" and table not in created and id(operation) not in renamed
        ):
            name, _, keywords = column(operation)
            not_null = getattr(keywords.get("nullable"), "value", True) is False
            default = keywords.get("server_default")
            if not not_null or not (default is None or getattr(default, "value", 0) is None):
                continue
            rule = "not-null-without-default"
            message = (
                f"{table}.{name} is added NOT NULL without a server_default: the upgrade "
                "fails on a table with rows; give it server_default=..., or add it nullable, "
                "fill it, then alter_column(..., nullable=False)"
            )
        elif operation.name == "alter_column" and "type_" in operation.keywords:
            old = type_of(operation.keywords.get("existing_type"))
            new = type_of(operation.keywords["type_"])
            if not (old and new and narrows(old, new)):
                continue
            rule = "narrowed-type"
            message = (
                f"{table}.{name} narrows from {shown_type(old)} to {shown_type(new)}: "
                "values that do not fit fail or are cut"
            )
        elif operation.name in NAMED_CONSTRAINTS and operation.unnamed():
            on = operation.table or text(operation.args[0] if operation.args else None)
            rule = "unnamed-constraint"
            message = (
                f"a {NAMED_CONSTRAINTS[operation.name]} on {on} is created with no name: the "
                "database picks one, which drop_constraint(None) cannot name; name it, or give "
                "the models' MetaData a naming_convention"
            )
        else:
            continue
        if rule != "drop-add-rename":
            message += f"; if that is meant, accept it with `# lint: allow {rule}`"
        findings.append(Finding(path, operation.line, rule, message))
    return findings


def upgrade_functions(tree: ast.Module) -> list[tuple[ast.FunctionDef, ast.FunctionDef | None]]:
    """Each upgrade function of a revision, with its downgrade."""
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    return [
        (function, functions.get(f"down{name.removeprefix('up')}"))
        for name, function in functions.items()
        if name == "upgrade" or name.startswith("upgrade_")
    ]


def mark_allowed(path: Path, findings: list[Finding]) -> list[Finding]:
    """Mark the findings that a `# lint: allow RULE` comment accepts: at the end of the
    flagged line, or on a comment line right above it."""
    lines = path.read_text().splitlines()
    for finding in findings:
        comments = [lines[finding.line - 1]]
        if finding.line > 1 and lines[finding.line - 2].lstrip().startswith("#"):
            comments.append(lines[finding.line - 2])
        rules = {
            rule
            for comment in comments
            for match in ALLOW.finditer(comment)
            for rule in re.split(r"[,\s]+", match[1])
        }
        finding.allowed = finding.rule in rules
    return findings


def check_file(path: Path) -> list[Finding]:
    """The findings in one revision file, the accepted ones marked."""
    tree = ast.parse(path.read_text(), filename=str(path))
    findings = [
        finding
        for upgrade, downgrade in upgrade_functions(tree)
        for finding in check_function(path, upgrade, downgrade)
    ]
    return mark_allowed(path, findings)


def revisions(config: Config, revision_range: str | None, command_: str) -> list[RevisionFile]:
    """The revision files to lint, oldest first: all; FROM:TO, the ones `upgrade FROM:TO`
    runs (after FROM, up to TO; either may be left out); or REV alone. The history is read
    from the files with `ast` (revision_files.py): no revision is imported."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    locations = version_locations(config)
    files = read_history(locations)
    if files is None:  # a file computes its ids, or the history is broken: Alembic reads it
        if problem := history_problem(locations):
            raise CommandError(problem)
        script = ScriptDirectory.from_config(config)
        history = script.revision_map
        files = {
            each.revision: RevisionFile(Path(each.path), each.revision, (), (), ())
            for each in script.walk_revisions()
        }
    else:
        history = revision_map(files)
    start, colon, end = (revision_range or ":").partition(":")
    try:
        found: list[Revision | None]
        if not colon:
            found = [history.get_revision(start)]
        else:
            walked = list(history.iterate_revisions(end or "heads", start or "base"))[::-1]
            first = history.get_revision(start) if start not in ("", "base") else None
            found = [revision for revision in walked if revision is not first]
    except (CommandError, RevisionError) as error:
        raise CommandError(
            f"REV_RANGE {revision_range}: {error}; `{command_} history` lists the "
            f"revisions: e.g. `{command_} lint <revision>:head`"
        ) from None
    if None in found:
        raise CommandError(
            f"REV_RANGE {revision_range} names no revision: e.g. `{command_} lint head`"
        )
    return [files[revision.revision] for revision in found if revision is not None]


def sql_findings(
    config: Config, scripts: list[RevisionFile], revision_range: str | None
) -> list[Finding]:
    """squawk's findings in the revisions' SQL, in a PostgreSQL project (one whose
    dependencies include alembic-postgresql-enum, as the template writes them)."""
    if find_spec("alembic_postgresql_enum") is None:
        return []
    from .squawk import squawk_findings

    start, _, end = (revision_range or "").rpartition(":")
    target = f"{start}:{end or 'heads'}" if start else end or "heads"
    return squawk_findings(config, scripts, target)


#: The setting (`[tool.alembic]` or alembic.ini) naming the revision an adoption found at
#: the head: `lint` without a range checks only the revisions written after it.
BASELINE = "lint_after"


def lint(config: Config, revision_range: str | None = None) -> None:
    """`migrate lint [REV_RANGE]`: print each finding not accepted, and fail if any.

    Without REV_RANGE: every revision, or those after the baseline an adoption recorded
    (BASELINE; `lint base:heads` then lints the whole history)."""
    from alembic.util import CommandError

    from .compat import alembic_option
    from .config import command_of

    command_ = command_of(config)
    baseline = alembic_option(config, BASELINE) if revision_range is None else None
    if baseline:
        revision_range = f"{baseline}:heads"
        config.print_stdout(
            f"Linting the revisions after {baseline}, where the project was adopted "
            f"({BASELINE}); `{command_} lint base:heads` lints them all"
        )
    scripts = revisions(config, revision_range, command_)
    findings = [finding for script in scripts for finding in check_file(script.path)]
    findings += sql_findings(config, scripts, revision_range)
    order = {script.path: index for index, script in enumerate(scripts)}
    findings.sort(key=lambda finding: (order[finding.path], finding.line))
    refused = [finding for finding in findings if not finding.allowed]
    for finding in refused:  # shown under `-q` too: they are what the command is for
        print(finding, file=config.stdout)
    linted = f"{len(scripts)} revision{'s' if len(scripts) != 1 else ''}"
    accepted = len(findings) - len(refused)
    note = f" ({accepted} accepted by `# lint: allow`)" if accepted else ""
    if refused:
        raise CommandError(
            f"{len(refused)} finding{'s' if len(refused) != 1 else ''} in {linted}{note}: "
            "fix each, or accept it on purpose with `# lint: allow RULE` on its line"
        )
    config.print_stdout(f"{linted} linted, no findings{note}")


def main(arguments: list[str]) -> None:
    """`python -m flask_alembic_runtime.lint [--warn] FILE...`: lint revision files (not the SQL),
    for pre-commit; with --warn, as warnings that never fail (after `migrate revision`)."""
    warn = "--warn" in arguments
    findings = [
        finding for name in arguments if name != "--warn" for finding in check_file(Path(name))
    ]
    refused = [finding for finding in findings if not finding.allowed]
    for finding in refused:
        print(f"warning: {finding}" if warn else finding)
    if refused and not warn:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
