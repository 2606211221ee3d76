"""Hook: say what was created and verified, and which commands come next.

Run by hand from the project root: python path/to/hooks/summary.py
"""

from pathlib import Path


def main() -> None:
    project = Path.cwd()
    revisions = sorted((project / "migrations" / "versions").glob("*.py"))
    has_venv = (project / ".venv").is_dir()
    lines = [
        f"Your project is ready in {project}",
        f"  virtualenv:  {'.venv' if has_venv else 'none yet: python -m venv .venv && .venv/bin/pip install -e .[dev]'}",
        f"  migrations:  {len(revisions)} revision(s) in migrations/versions/",
        f"  git:         {'yes' if (project / '.git').exists() else 'not a repository of its own'}",
        "Next:",
        f"  cd {project.name}",
        "  . .venv/bin/activate",
        "  python manage.py migrate upgrade     # create the database schema",
        "  python manage.py run --debug         # http://127.0.0.1:5000",
        "  pytest                               # the app and its migrations, on a scratch database",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
