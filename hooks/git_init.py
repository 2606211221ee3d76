"""Hook: put the new project under git with a first commit, so that `copier update` works.

The commit holds the generated files only (the first revision and uv.lock included), not
files that were in the folder before. Leaves alone a project generated inside an existing
git work tree.
Run by hand from the project root:
    python path/to/hooks/git_init.py path/to/template --app-module my_flask_app
"""

import argparse
import re
import subprocess
from pathlib import Path

from progress import run, skipped

# Used only when git has no identity configured; `git commit --amend --reset-author` fixes it.
FALLBACK_IDENTITY = ["-c", "user.name=flask-alembic-template", "-c", "user.email=noreply@localhost"]


def git_output(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def generated_paths(template: Path, app_module: str) -> list[str]:
    """The paths the template renders, named as in the project (that exist there)."""
    names = {
        "{{ app_module }}": app_module,
        "{{ migrations_dir }}": "migrations",  # a new project's
        "{{ _copier_conf.answers_file }}": ".copier-answers.yml",
    }
    paths = []
    for source in template.rglob("*"):
        if source.is_file():
            path = str(source.relative_to(template)).removesuffix(".jinja")
            for placeholder, name in names.items():
                path = path.replace(placeholder, name)
            # A file rendered only for some answers (`{% if example_model %}x.py{% endif %}`):
            # its name, kept below when the answers rendered it.
            paths.append(re.sub(r"\{%\s*if [^%]*%\}(.*?)\{%\s*endif\s*%\}", r"\1", path))
    return [path for path in sorted(paths) if Path(path).exists()]


def main(argv: list[str] | None = None) -> None:
    """Commit the new project, with `argv` (default: this process's) as the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path, help="the template's template/ folder")
    parser.add_argument("--app-module", required=True)
    options = parser.parse_args(argv)
    project = Path.cwd()
    if git_output("rev-parse", "--is-inside-work-tree") == "true":
        top = git_output("rev-parse", "--show-toplevel")
        skipped("git init", f"the project is inside the git work tree {top}: left as it is")
        return
    run("git init", ["git", "init", "--quiet"], project)
    generated = [*generated_paths(options.template, options.app_module), "migrations/versions"]
    if Path("uv.lock").exists():  # written by setup_env.py with uv
        generated.append("uv.lock")
    run("git add", ["git", "add", "--", *generated], project)
    identity = [] if git_output("config", "user.email") else FALLBACK_IDENTITY
    message = "Initial commit from flask-alembic-template"
    run("First commit", ["git", *identity, "commit", "--quiet", "-m", message], project)
    if identity:
        skipped("Your git identity", "none configured: committed as flask-alembic-template")


if __name__ == "__main__":
    main()
