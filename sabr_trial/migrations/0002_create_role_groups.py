"""Create the four study role groups with the permissions of DESIGN.md's role table, and the sequences."""

from django.db import migrations


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from sabr_trial.roles import sync_role_groups

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    sync_role_groups(Group, Permission)
    NumberSequence = apps.get_model("sabr_trial", "NumberSequence")
    for name in ("screening", "study"):
        NumberSequence.objects.get_or_create(name=name)


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=["coordinator", "investigator", "data_manager", "monitor"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sabr_trial", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
