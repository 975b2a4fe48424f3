"""A send queued for a delivery worker is marked on its one-time-code row (the queue is
the rows themselves): whether it waits, the language of its text, and until when a
worker holds it. A partial index keeps only the waiting rows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_rooms_by_concern"),
    ]

    operations = [
        migrations.AddField(
            model_name="otpchallenge",
            name="queued",
            field=models.BooleanField(db_default=False, editable=False),
        ),
        migrations.AddField(
            model_name="otpchallenge",
            name="language",
            field=models.CharField(blank=True, db_default="", editable=False, max_length=16),
        ),
        migrations.AddField(
            model_name="otpchallenge",
            name="claimed_until",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="otpchallenge",
            index=models.Index(
                condition=models.Q(("queued", True)), fields=["sent_at"], name="otp_queue"
            ),
        ),
    ]
