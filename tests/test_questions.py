"""Each validator in copier.yml rejects bad answers with its message, and accepts good ones."""

from pathlib import Path

import pytest
import yaml

from conftest import COPIER, TEMPLATE, render, run


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": "123 !!"}, "project_name needs at least one letter"),
        ({"app_module": "My App"}, 'app_module "My App" is not a lower-case Python identifier'),
        ({"app_module": "MyApp"}, "is not a lower-case Python identifier"),
        ({"app_module": "2fast"}, "is not a lower-case Python identifier"),
        ({"app_module": "my-app"}, "is not a lower-case Python identifier"),
        ({"app_module": "class"}, 'app_module "class" is a Python keyword'),
        ({"app_module": "json"}, 'app_module "json" would shadow the standard library'),
        ({"app_module": "flask"}, "would shadow the standard library, a dependency"),
        ({"app_module": "alembic"}, "would shadow"),
        ({"app_module": "sqlalchemy"}, "would shadow"),
        ({"app_module": "copier"}, "would shadow"),
        ({"app_module": "tests"}, "would shadow"),
        ({"app_module": "migrations"}, "would shadow"),
        ({"app_module": "manage"}, "would shadow"),
        ({"db_object": "my db"}, 'db_object "my db" is not a Python identifier'),
        ({"db_object": "import"}, 'db_object "import" is a Python keyword'),
        ({"db_object": "app"}, 'db_object "app" clashes with a name the project already uses'),
        ({"db_object": "create_app"}, "clashes with a name"),
        ({"db_object": "models"}, "clashes with a name"),
        ({"app_module": "shop", "db_object": "shop"}, 'db_object "shop" clashes'),
        ({"app_style": "singleton"}, "'singleton' is not in ['factory', 'module']"),
        ({"database": "oracle"}, "'oracle' is not in ['sqlite', 'postgresql', 'mysql']"),
        ({"binds": "analytics"}, "binds must be a YAML list of names, e.g. [analytics] or []"),
        ({"binds": {"analytics": 1}}, "binds must be a YAML list of names"),
        ({"binds": ["Analytics"]}, 'bind "Analytics" is not a lower-case identifier'),
        ({"binds": ["my-db"]}, 'bind "my-db" is not a lower-case identifier'),
        ({"binds": [1]}, 'bind "1" is not a lower-case identifier'),
        ({"binds": ["default"]}, 'bind "default" names the main database (DATABASE_URL)'),
        ({"binds": ["a", "b", "a"]}, 'bind "a" is listed twice: list each database once'),
        ({"db_object": "Event"}, 'db_object "Event" clashes'),
    ],
)
def test_bad_answer_is_rejected_with_its_message(
    tmp_path: Path, answers: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match="^(Validation error|Invalid choice)") as error:
        render(tmp_path / "project", **answers)
    assert message in str(error.value)
    assert not (tmp_path / "project" / "manage.py").exists()


def test_cli_names_the_problem_and_the_fix(tmp_path: Path) -> None:
    result = run(
        [
            COPIER,
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "app_module=json",
            TEMPLATE,
            tmp_path / "project",
        ],
        tmp_path,
        {},
        check=False,
    )
    assert result.returncode != 0
    assert (
        'app_module "json" would shadow the standard library, a dependency or a generated file:'
        ' pick another name, e.g. "json_app"' in result.stderr
    )


@pytest.mark.parametrize(
    ("answers", "package"),
    [
        ({}, "my_flask_app"),
        ({"project_name": "Shop 2.0"}, "shop_2_0"),
        ({"project_name": "42 Things"}, "things"),
        ({"app_module": "_private_shop9"}, "_private_shop9"),
        ({"app_module": "match"}, "match"),  # a soft keyword is a valid module name
        ({"db_object": "Database"}, "my_flask_app"),
    ],
)
def test_good_answer_is_accepted(tmp_path: Path, answers: dict[str, str], package: str) -> None:
    project = render(tmp_path / "project", **answers)
    assert (project / package / "__init__.py").is_file()
    stored = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert stored["app_module"] == package
    assert {"python_keywords", "reserved_modules", "generated_names"}.isdisjoint(stored)
