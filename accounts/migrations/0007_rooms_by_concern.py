"""The code moved into rooms by concern: queued background work names its task's new
path, and django-graphql-jwt's own refresh-token app (never used: accounts.RefreshToken
has its own table) is gone with its empty table."""

from django.db import migrations

TASKS = {
    "accounts.tasks.deliver_code": "accounts.codes.tasks.deliver_code",
    "accounts.webhook_delivery.deliver": "accounts.outbound.webhook_delivery.deliver",
}
LIBRARY_TABLE = "refresh_token_refreshtoken"


def rename_tasks(apps, schema_editor, *, forward=True):
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    for old, new in TASKS.items():
        source, target = (old, new) if forward else (new, old)
        DBTaskResult.objects.filter(task_path=source).update(task_path=target)


def drop_library_table(apps, schema_editor):
    connection = schema_editor.connection
    if LIBRARY_TABLE in connection.introspection.table_names():
        schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(LIBRARY_TABLE)}")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = %s", ["refresh_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_outbox_and_audit_trail"),
        ("django_tasks_database", "0019_rename_django_task_new_ordering_idx_tasks_db_new_ordering_idx_and_more"),
    ]

    operations = [
        migrations.RunPython(
            rename_tasks,
            lambda apps, schema_editor: rename_tasks(apps, schema_editor, forward=False),
        ),
        # The library's table held nothing; going back does not bring it again.
        migrations.RunPython(drop_library_table, migrations.RunPython.noop),
    ]
