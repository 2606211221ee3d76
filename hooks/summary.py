"""Hook: say what was created and verified, and which commands come next.

Run by hand from the project root: python path/to/hooks/summary.py --database sqlite
"""

import argparse
import os
import shlex
from pathlib import Path


def shown(path: Path) -> str:
    """`path` as the user can paste it: relative to where they ran copier, quoted."""
    here = Path(os.environ.get("PWD", os.getcwd()))
    return shlex.quote(str(path.relative_to(here) if path.is_relative_to(here) else path))


def main(argv: list[str] | None = None) -> None:
    """Print the summary, with `argv` (default: this process's) as the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite", help="the database answered")
    options = parser.parse_args(argv)
    project = Path.cwd()
    revisions = sorted((project / "migrations" / "versions").glob("*.py"))
    has_venv = (project / ".venv").is_dir()
    install = "python -m venv .venv && .venv/bin/pip install -e '.[dev]'"
    lines = [
        f"Your project is ready in {shown(project)}",
        f"  virtualenv:  {'.venv' if has_venv else 'none yet: ' + install}",
        f"  migrations:  {len(revisions)} revision(s) in migrations/versions/",
        f"  git:         {'yes' if (project / '.git').exists() else 'not a repository of its own'}",
        "Next:",
        f"  cd {shown(project)}",
        "  . .venv/bin/activate",
    ]
    if not revisions:
        if options.database != "sqlite":
            lines.append(
                "  export DATABASE_URL=...              # your database, as .env.example shows"
            )
        lines.append('  python manage.py migrate revision --autogenerate -m "create the tables"')
    lines += [
        "  python manage.py migrate upgrade     # create the database schema",
        "  python manage.py run --debug         # http://127.0.0.1:5000",
        "  pytest                               # the app and its migrations, on a scratch database",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
