"""The answer sets the suite renders: each one a way users answer the questions."""

VARIANTS: dict[str, dict[str, object]] = {
    "defaults": {},
    "module_style": {"app_style": "module"},
    "db_object_database": {"db_object": "database"},
    "unusual_names": {
        "project_name": "Ünïcode Shop 2.0",
        "app_module": "shop_core2",
        "db_object": "DB",
        "revision_naming": "date",
    },
    "no_example_model": {"example_model": False},
    "postgresql": {"database": "postgresql"},
    "mysql": {"database": "mysql"},
    "binds": {"binds": ["analytics", "archive"], "database": "postgresql"},
    "binds_without_example_model": {"binds": ["archive"], "example_model": False},
    "adopt": {"adopt": True, "app_module": "shop.app:create_app"},
}


def app_module(answers: dict[str, object]) -> str:
    """The package the answers give (the template's default for the default name)."""
    return str(answers.get("app_module", "my_flask_app"))
