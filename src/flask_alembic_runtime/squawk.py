"""squawk's findings for `migrate lint` in a PostgreSQL project: the SQL each revision runs
(as `migrate upgrade --sql` writes it) read by squawk (the squawk-cli package), a linter of
PostgreSQL migrations, for what takes locks: an index built without CONCURRENTLY, a column
type change that rewrites the table, a constraint validated at once. Each finding is
placed at the line of the operation that wrote the statement."""

import ast
import io
import json
import re
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError

from .compat import copy_config
from .databases import DEFAULT
from .leftovers import temporary_folder
from .lint import Finding, mark_allowed, operations, text, upgrade_functions
from .revision_files import RevisionFile

# squawk's rules left out: those lint.py reports at the revision's own line (drops, NOT NULL
# without a default), renames (the safe form this lint recommends), the lock and statement
# timeouts (a session's settings, not a revision's), and advice on the models' column types
# (bigint over int, text over varchar, identity columns), which takes no lock.
SQUAWK_EXCLUDED = [
    "ban-drop-column",
    "ban-drop-table",
    "adding-required-field",
    "renaming-column",
    "renaming-table",
    "require-lock-timeout",
    "require-statement-timeout",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "prefer-robust-stmts",
]


def offline_sql(config: Config, target: str) -> str:
    """The SQL that `upgrade --sql TARGET` writes (env.py loads the app for it), quietly."""
    buffer = io.StringIO()
    options = Namespace(**{**vars(config.cmd_opts or Namespace()), "quiet": True})
    quiet = copy_config(config, options, output_buffer=buffer, attributes=config.attributes)
    command.upgrade(quiet, target, sql=True)
    return buffer.getvalue()


def revision_sql(sql: str) -> dict[tuple[str, str], list[str]]:
    """The SQL of each revision, by database and revision, each in its own transaction as
    Alembic runs it: the lines after its `-- Running upgrade ... -> REV`."""
    parts: dict[tuple[str, str], list[str]] = {}
    database, lines = DEFAULT, None
    for line in sql.splitlines():
        if match := re.fullmatch(r"-- Database: (\w+)", line):
            database, lines = match[1], None
        elif match := re.fullmatch(r"-- Running upgrade .*-> (\w+)", line):
            lines = parts[database, match[1]] = ["BEGIN;"]
        elif lines is not None:
            lines.append(line)
    for lines in parts.values():  # the next revision's BEGIN
        while lines[-1] in ("", "BEGIN;"):
            lines.pop()
    return parts


def statement_at(lines: list[str], index: int) -> str:
    """The whole statement that line `index` is part of (statements end with ";")."""
    start = index
    while start > 0 and lines[start - 1].strip() and not lines[start - 1].endswith(";"):
        start -= 1
    end = index
    while end < len(lines) - 1 and not lines[end].rstrip().endswith(";"):
        end += 1
    return " ".join(lines[start : end + 1])


def line_of(function: ast.FunctionDef, statement: str) -> int:
    """The line of the operation that wrote a SQL statement: the call whose names (tables,
    columns, indexes) all appear in it; the function's own line when none does."""
    words = set(re.findall(r"\w+", statement))
    best, line = 0, function.lineno
    for operation in operations(function):
        arguments = [*operation.args, *operation.keywords.values()]
        strings = [text(node) for argument in arguments for node in ast.walk(argument)]
        names = {word for string in strings if string for word in re.findall(r"\w+", string)}
        names |= {operation.table} if operation.table else set()
        if names and names <= words and len(names) > best:
            best, line = len(names), operation.line
    return line


def squawk_findings(config: Config, scripts: list[RevisionFile], target: str) -> list[Finding]:
    """What squawk finds in the SQL of these revisions (one file each, as each runs in its
    own transaction), at the line of the operation that wrote it."""
    squawk = shutil.which("squawk", path=Path(sys.executable).parent) or shutil.which("squawk")
    if squawk is None:
        config.print_stdout(
            "squawk is not installed, so the SQL was not linted: pip install -e '.[dev]' "
            "(or pip install squawk-cli)"
        )
        return []
    wanted = {script.revision: script for script in scripts}
    parts = {
        key: lines
        for key, lines in revision_sql(offline_sql(config, target)).items()
        if key[1] in wanted
    }
    if not parts:
        return []
    with temporary_folder("squawk") as folder:
        files = {}
        for (database, revision), lines in parts.items():
            file = folder / f"{database}.{revision}.sql"
            file.write_text("\n".join(lines) + "\n")
            files[str(file)] = database, revision
        result = subprocess.run(
            [squawk, "--reporter", "json", f"--exclude={','.join(SQUAWK_EXCLUDED)}", *files],
            capture_output=True,
            text=True,
            check=False,
        )
    try:
        reported = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise CommandError(f"squawk failed: {(result.stderr or result.stdout).strip()}") from None
    functions_in: dict[Path, dict[str, ast.FunctionDef]] = {}  # each file read once
    found: dict[Path, list[Finding]] = {}
    for problem in reported:
        database, revision = files[problem["file"]]
        path = Path(wanted[revision].path)
        if path not in functions_in:
            tree = ast.parse(path.read_text())
            functions_in[path] = {
                function.name: function for function, _ in upgrade_functions(tree)
            }
        functions = functions_in[path]
        function = functions.get(f"upgrade_{database}") or functions["upgrade"]
        statement = statement_at(parts[database, revision], problem["line"])
        help_ = f" ({problem['help'].rstrip('.')})" if problem.get("help") else ""
        in_database = f" in the {database} database" if database != DEFAULT else ""
        finding = Finding(
            path,
            line_of(function, statement),
            f"squawk:{problem['rule_name']}",
            f"{problem['message'].rstrip('.')}{help_}{in_database}: {statement}",
        )
        found.setdefault(path, []).append(finding)
    return [finding for path, group in found.items() for finding in mark_allowed(path, group)]
