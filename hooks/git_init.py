"""Hook: put the new project under git with a first commit, so that `copier update` works.

Leaves alone a project generated inside an existing git work tree.
Run by hand from the project root: python path/to/hooks/git_init.py
"""

import subprocess
from pathlib import Path

from progress import run, skipped

# Used only when git has no identity configured; `git commit --amend --reset-author` fixes it.
FALLBACK_IDENTITY = ["-c", "user.name=flask-alembic-template", "-c", "user.email=noreply@localhost"]


def git_output(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def main() -> None:
    project = Path.cwd()
    if git_output("rev-parse", "--is-inside-work-tree") == "true":
        top = git_output("rev-parse", "--show-toplevel")
        skipped("git init", f"the project is inside the git work tree {top}: left as it is")
        return
    run("git init", ["git", "init", "--quiet"], project)
    run("git add", ["git", "add", "--all"], project)
    identity = [] if git_output("config", "user.email") else FALLBACK_IDENTITY
    message = "Initial commit from flask-alembic-template"
    run("First commit", ["git", *identity, "commit", "--quiet", "-m", message], project)
    if identity:
        skipped("Your git identity", "none configured: committed as flask-alembic-template")


if __name__ == "__main__":
    main()
