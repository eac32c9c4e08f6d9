"""Listing pages refer to content-addressed rows (EndpointListingContent), shared between snapshots."""

import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models


def move_rows_to_content(apps, schema_editor):
    page_model = apps.get_model("endpoints", "EndpointListingPage")
    content_model = apps.get_model("endpoints", "EndpointListingContent")
    for page in page_model.objects.order_by("pk").iterator(chunk_size=100):
        text = json.dumps(page.rows, ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(text.encode()).hexdigest()
        content_model.objects.get_or_create(digest=digest, defaults={"rows": page.rows})
        page.content_id = digest
        page.save(update_fields=["content"])


def content_back_to_rows(apps, schema_editor):
    page_model = apps.get_model("endpoints", "EndpointListingPage")
    for page in page_model.objects.select_related("content").order_by("pk").iterator(chunk_size=100):
        page.rows = page.content.rows
        page.save(update_fields=["rows"])


class Migration(migrations.Migration):

    dependencies = [
        ("endpoints", "0003_snapshot_summary_and_listing_pages"),
    ]

    operations = [
        migrations.CreateModel(
            name="EndpointListingContent",
            fields=[
                ("digest", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("rows", models.JSONField(default=list)),
            ],
        ),
        migrations.AddField(
            model_name="endpointlistingpage",
            name="content",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="pages",
                to="endpoints.endpointlistingcontent",
            ),
        ),
        migrations.RunPython(move_rows_to_content, content_back_to_rows),
        migrations.RemoveField(model_name="endpointlistingpage", name="rows"),
        migrations.AlterField(
            model_name="endpointlistingpage",
            name="content",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="pages",
                to="endpoints.endpointlistingcontent",
            ),
        ),
    ]
