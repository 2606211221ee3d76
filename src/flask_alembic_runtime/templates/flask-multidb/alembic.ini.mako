# The settings of this migration environment: python manage.py migrate -c <this file> ...
[alembic]
script_location = ${script_location}
prepend_sys_path = .
revision_environment = true
