"""Hook: make a new project ready, in one process: install it (setup_env.py), prove its
migrations (verify.py), commit it (git_init.py), then say what comes next (summary.py),
each step as the answers ask.

Run by hand from the project root, with the answers that matter here as JSON:
    python path/to/hooks/new_project.py '{"setup_env": true, "verify": true,
      "git_init": true, "database": "sqlite", "example_model": true, "binds": [],
      "app_module": "my_flask_app"}'
"""

import json
import sys
from pathlib import Path

import git_init
import setup_env
import summary
import verify

# The template's files, which name what the first commit takes.
TEMPLATE = Path(__file__).resolve().parent.parent / "template"


def main() -> None:
    answers = json.loads(sys.argv[1])
    if answers["setup_env"]:
        setup_env.main()
        if answers["verify"]:
            proven = ("database", "example_model", "binds")
            verify.main([json.dumps({name: answers[name] for name in proven})])
    if answers["git_init"]:
        git_init.main([str(TEMPLATE), f"--app-module={answers['app_module']}"])
    summary.main([f"--database={answers['database']}"])


if __name__ == "__main__":
    main()
