"""Migration: stop `copier update` when the new release refuses one of the project's answers.

Copier runs it in the "before" stage of an update, from the project root, before any file
changes. Without it, Copier would drop a refused answer without a word and render the
question's default instead: a project whose SQLAlchemy object is called `engine` would
find `db` in the files the template owns, and break.

    python path/to/hooks/refuse_answer.py path/to/lists/names.yml QUESTION RESERVED_LIST...
    python path/to/hooks/refuse_answer.py path/to/lists/names.yml QUESTION --rule RULES.jinja

A rule is a Jinja file whose `problem(answer)` macro says why an answer is refused (empty
when it is not), rendered as copier.yml renders it, with the lists of names.yml.
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
    parser.add_argument("reserved", nargs="*", help="the hidden lists it must stay out of")
    parser.add_argument("--rule", type=Path, help="a Jinja file with a problem(answer) macro")
    options = parser.parse_args()
    answers = yaml.safe_load(ANSWERS_FILE.read_text())
    answer = answers.get(options.question)
    questions = yaml.safe_load(options.lists.read_text())
    lists = {name: yaml.safe_load(question["default"]) for name, question in questions.items()}
    refused = any(answer in lists[name] for name in options.reserved)
    # A rule is a new project's: an adopted project's answers (its app as `flask --app`
    # takes it) follow other rules, which Copier checks.
    if options.rule is not None and answer is not None and not answers.get("adopt"):
        refused = refused or bool(problem(options.rule, answer, lists))
    if refused:
        sys.exit(
            f'FAILED: {options.question} "{answer}" is a name the template now refuses:'
            f" rename it in your code and in {ANSWERS_FILE} ({options.question}: NEW_NAME),"
            " commit, then run the update again"
        )


def problem(rule: Path, answer: str, lists: dict[str, object]) -> str:
    """What the rule's `problem` macro says of the answer, with Copier's Jinja filters."""
    from jinja2 import Environment, FileSystemLoader  # Copier's own dependencies

    environment = Environment(
        loader=FileSystemLoader(rule.parent),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )
    macros = environment.get_template(rule.name).make_module(lists)
    return str(macros.problem(answer)).strip()


if __name__ == "__main__":
    main()
