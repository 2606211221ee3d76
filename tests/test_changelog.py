"""CHANGELOG.md: each version names its date and commits of this repository, and the
newest library section is the library's version."""

import re
import subprocess

from flask_alembic_runtime import __version__
from helpers import TEMPLATE

HEADER = re.compile(r"^## (\d+\.\d+\.\d+) \((\d{4}-\d\d-\d\d), (.*)\)$", re.MULTILINE)


def test_each_version_names_its_date_and_commits_of_this_repository() -> None:
    text = (TEMPLATE / "CHANGELOG.md").read_text()
    headers = HEADER.findall(text)
    assert len(headers) == text.count("\n## "), "a section without a date and commit"
    for version, _, where in headers:
        commits = re.findall(r"\b[0-9a-f]{7,40}\b", where)
        assert commits, version
        for commit in commits:
            known = subprocess.run(
                ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=TEMPLATE, check=False
            )
            assert known.returncode == 0, f"{version}: {commit} is no commit of this repository"


def test_the_newest_library_section_is_the_librarys_version() -> None:
    text = (TEMPLATE / "CHANGELOG.md").read_text()
    newest = re.search(r"^### flask-alembic-runtime (\S+)$", text, re.MULTILINE)
    assert newest is not None and newest[1] == __version__
