"""Migration: stop `copier update` when the new release refuses one of the project's answers.

Copier runs it in the "before" stage of an update, from the project root, before any file
changes. Without it, Copier would drop a refused answer without a word and render the
question's default instead: a project whose SQLAlchemy object is called `engine` would
find `db` in the files the template owns, and break.

    python path/to/hooks/refuse_answer.py path/to/lists/names.yml QUESTION RESERVED_LIST...
"""

import argparse
import sys
from pathlib import Path

import yaml  # Copier's own interpreter runs the hooks, and Copier depends on PyYAML

ANSWERS_FILE = Path(".copier-answers.yml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lists", type=Path, help="the new release's lists/names.yml")
    parser.add_argument("question", help="the answer to check, e.g. db_object")
    parser.add_argument("reserved", nargs="+", help="the hidden lists it must stay out of")
    options = parser.parse_args()
    answer = yaml.safe_load(ANSWERS_FILE.read_text()).get(options.question)
    questions = yaml.safe_load(options.lists.read_text())
    reserved = [yaml.safe_load(questions[name]["default"]) for name in options.reserved]
    if any(answer in names for names in reserved):
        sys.exit(
            f'FAILED: {options.question} "{answer}" is a name the template now refuses:'
            f" rename it in your code and in {ANSWERS_FILE} ({options.question}: NEW_NAME),"
            " commit, then run the update again"
        )


if __name__ == "__main__":
    main()
