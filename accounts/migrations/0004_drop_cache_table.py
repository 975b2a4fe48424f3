from django.db import migrations


class Migration(migrations.Migration):
    """The database cache is gone (nothing but /healthz read it): drop its table, which
    the former migration 0002 made."""

    dependencies = [("accounts", "0003_sessions")]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS django_cache", migrations.RunSQL.noop),
    ]
