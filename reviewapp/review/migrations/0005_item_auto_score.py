from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_auto_scores(apps, schema_editor):
    """Items built before this migration take their response's current auto_score (the
    closest thing to the value at build time that is left)."""
    QueueItem = apps.get_model("review", "QueueItem")
    Response = apps.get_model("responses", "Response")
    QueueItem.objects.update(
        auto_score=Subquery(
            Response.objects.filter(pk=OuterRef("response_id")).values("auto_score")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0004_claim_indexes"),
        ("responses", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="queueitem",
            name="auto_score",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.RunPython(copy_auto_scores, migrations.RunPython.noop, elidable=True),
    ]
