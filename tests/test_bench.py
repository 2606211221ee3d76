"""bench/run.py --quick: it runs to the end and writes the report in its documented shape
(header, a row per measurement with numeric medians, ratios and targets). The timings
themselves are not checked: they depend on the machine."""

import re
import subprocess
import sys
from pathlib import Path

from helpers import TEMPLATE

NUMBER = re.compile(r"^\d+\.\d+$")
# "ours / alembic ≤ 1.10", "ours ≤ 5 s", or two ratios separated by a comma.
TARGET = re.compile(r"ours( / [^,]+)? ≤ \d+(\.\d+)?( s)?(, ours / .+ ≤ \d+\.\d+)?")
HEADER = ["Date", "Machine", "Python", "Packages", "Template", "Command", "Runs"]
PACKAGES = ["flask", "flask-sqlalchemy", "sqlalchemy", "alembic", "flask-migrate", "copier"]
# The migration commands measured against every contender, and their targets.
STARTUP_COMMANDS = [
    "--help",
    "upgrade --help",
    "heads",
    "history",
    "show head",
    "branches",
    "list_templates",
]
DATABASE_COMMANDS = ["current", "check", "upgrade (nothing to do)"]
HISTORY = "upgrade 20 revisions, empty SQLite"
SERVER_ROWS = [
    "upgrade 20 revisions, new PostgreSQL database",
    "upgrade 20 revisions, new MariaDB database",
    "copier copy, hooks with uv, PostgreSQL",
]


def table_rows(text: str) -> dict[str, list[str]]:
    """The Markdown tables' rows by their first cell: the other cells."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            name, *cells = (cell.strip() for cell in line.strip().strip("|").split("|"))
            rows[name] = cells
    return rows


def assert_verdict(name: str, cells: list[str]) -> None:
    """The last two cells: a target (ours / peer ≤ limit) and whether it is met."""
    target, met = cells[-2:]
    assert TARGET.fullmatch(target), (name, target)
    assert met == "yes" or met.startswith("no ("), (name, met)


def test_quick_benchmark_writes_the_report(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    command = [sys.executable, TEMPLATE / "bench" / "run.py", "--quick", "--output", output]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    text = output.read_text()
    assert text in result.stdout  # printed as well as written

    for field in HEADER:
        assert re.search(rf"(?m)^- {field}: \S", text), field
    packages = re.search(r"(?m)^- Packages: (.*)$", text)[1]
    for package in PACKAGES:
        assert re.search(rf"(^|, ){package} \d+\.\d+", packages), package
    assert re.search(r"(?m)^- Runs: 2 paired rounds", text)

    rows = table_rows(text)
    for name in [*STARTUP_COMMANDS, *DATABASE_COMMANDS, HISTORY]:
        # ours, ours via flask, flask db, alembic; ours / flask db, ours / alembic
        cells = rows[name]
        assert all(NUMBER.match(cell) for cell in cells[:6]), (name, cells)
        assert_verdict(name, cells)
    for name in DATABASE_COMMANDS:
        assert "flask db ≤ 0.95" in rows[name][6] and "alembic ≤ 1.20" in rows[name][6]
    for name in SERVER_ROWS:
        assert rows[name][-1].startswith("skipped"), rows[name]

    # ours, peer, peer's seconds, ratio
    copy = rows["copier copy --skip-tasks"]
    assert NUMBER.match(copy[0]) and copy[1].startswith("trivial template"), copy
    assert NUMBER.match(copy[2]) and NUMBER.match(copy[3]), copy
    assert_verdict("copier copy --skip-tasks", copy)
    hooks = rows["copier copy, hooks with uv"]
    assert NUMBER.match(hooks[0]) and hooks[-2] == "ours ≤ 4 s", hooks
    assert_verdict("copier copy, hooks with uv", hooks)
    for name in [
        "copier update (v1 to v2)",
        "hooks/verify.py (one process)",
        "binds: upgrade + downgrade base, 3 databases",
    ]:
        assert NUMBER.match(rows[name][0]) and rows[name][-1] == "info", rows[name]
    # The copy row's profile: each phase for both templates, and the difference.
    assert "## Where `copier copy` spends its time" in text
    for phase in ["reading copier.yml", "questions: defaults, validators", "total"]:
        ours, trivial, difference = rows[phase]
        assert ours.isdigit() and trivial.isdigit(), rows[phase]
        assert abs(int(difference) - (int(ours) - int(trivial))) <= 1, rows[phase]  # rounding
