"""The admin covers every model, and the append-only records stay append-only there."""

import pytest
from django.apps import apps
from django.contrib import admin

pytestmark = pytest.mark.django_db

PRODUCT_APPS = ["accounts", "devices", "refresh", "procurement", "disposals", "reports", "api"]


def test_every_product_model_is_in_the_admin():
    missing = [
        f"{model._meta.app_label}.{model.__name__}"
        for app in PRODUCT_APPS
        for model in apps.get_app_config(app).get_models()
        if not model.__name__.startswith("Historical") and model not in admin.site._registry
    ]
    assert missing == []


def test_import_runs_and_device_events_cannot_be_deleted_or_edited_in_the_admin(
    rf, django_user_model
):
    from devices.models import DeviceEvent, ImportRun

    request = rf.get("/admin/")
    request.user = django_user_model.objects.create_superuser("root", "root@example.invalid", "x")
    for model in (ImportRun, DeviceEvent):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_delete_permission(request)
    assert not admin.site._registry[DeviceEvent].has_change_permission(request)
    assert not admin.site._registry[ImportRun].has_add_permission(request)


def test_the_admin_pages_open_for_a_superuser(client, django_user_model):
    from tests.factories import DeviceFactory

    device = DeviceFactory()
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.invalid", "x")
    )
    for url in (
        "/admin/devices/device/",
        f"/admin/devices/device/{device.pk}/change/",
        "/admin/devices/importrun/",
    ):
        assert client.get(url).status_code == 200, url
