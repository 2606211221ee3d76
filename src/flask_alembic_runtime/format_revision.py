"""Alembic's post-write hook (`[[tool.alembic.post_write_hooks]]` in pyproject.toml): each
new revision file gets `ruff check --fix`, then `ruff format`, with the project's ruff
settings. Without ruff installed (the dev extra has it), the file stays as written."""

import subprocess
import sys
from importlib.util import find_spec


def main(path: str) -> None:
    if find_spec("ruff") is None:
        return
    for command in (["check", "--fix", "--quiet"], ["format", "--quiet"]):
        subprocess.run([sys.executable, "-m", "ruff", *command, path], check=False)


if __name__ == "__main__":
    main(sys.argv[1])
