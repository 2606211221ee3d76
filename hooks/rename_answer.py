"""Migration: rename a question in the project's answers file.

Copier runs it as a `_migrations` task in the "before" stage of `copier update`, from the
project root, when a release renames a question; Copier reads the answers file again
afterwards, so the old answer carries over under its new name.

    python path/to/hooks/rename_answer.py OLD_NAME NEW_NAME
"""

import argparse
import re
from pathlib import Path

from progress import say, skipped

ANSWERS_FILE = Path(".copier-answers.yml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    options = parser.parse_args()
    text = ANSWERS_FILE.read_text()
    if re.search(rf"^{re.escape(options.new)}:", text, flags=re.MULTILINE):
        skipped(f"Rename {options.old} to {options.new}", f"{options.new} is already answered")
        return
    renamed, count = re.subn(
        rf"^{re.escape(options.old)}:", f"{options.new}:", text, flags=re.MULTILINE
    )
    if count:
        ANSWERS_FILE.write_text(renamed)
        say(f"Renamed the answer {options.old} to {options.new} in {ANSWERS_FILE}")


if __name__ == "__main__":
    main()
