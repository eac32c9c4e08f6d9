"""Rename the two CRF fields that clashed with the CRF base: the lifecycle ``status`` (toripalimab infusion
status becomes ``infusion_status``) and the reason-for-change form field (axitinib ``change_reason`` becomes
``dose_change_reason``)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("treatment", "0001_sabr_dosing_crfs")]

    operations = [
        migrations.RenameField("axitinibperiod", "change_reason", "dose_change_reason"),
        migrations.RenameField("historicalaxitinibperiod", "change_reason", "dose_change_reason"),
        migrations.RenameField("toripalimabinfusion", "status", "infusion_status"),
        migrations.RenameField("historicaltoripalimabinfusion", "status", "infusion_status"),
    ]
