"""The import pages: upload (asset managers only), the run page with its live
progress partial and summary, the error report download, the list of runs."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from devices.models import Device, ImportRun
from tests.devices.import_files import device_row, text_file
from tests.factories import BusinessUnitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE")


def upload(tmp_path, rows, name="estate.csv"):
    path = text_file(tmp_path / name, rows)
    return SimpleUploadedFile(name, path.read_bytes(), content_type="text/csv")


def test_asset_manager_upload_runs_the_import_and_lands_on_the_summary(
    client, tmp_path, unit, asset_manager, django_capture_on_commit_callbacks
):
    # Given an asset manager and a file with one good and one bad row
    client.force_login(asset_manager)
    rows = [device_row(serial_number="A"), device_row(serial_number="B", purchase_cost="12,34")]
    # When they upload it (the task is queued on commit and runs eagerly without Redis)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("devices:import_list"),
            {"file": upload(tmp_path, rows), "mode": "valid-rows", "mapping": "default"},
        )
    response = client.get(response["Location"])
    # Then the run page shows the finished summary with counts and the error
    run = ImportRun.objects.get()
    assert response.request["PATH_INFO"] == reverse("devices:import_detail", args=[run.pk])
    page = response.content.decode()
    assert 'data-test="import-summary"' in page
    assert 'data-count="created">1<' in page
    assert 'data-count="rejected">1<' in page
    assert "hx-trigger" not in page
    assert Device.objects.filter(serial_number="A").exists()
    assert run.created_by == asset_manager
    assert run.origin == ImportRun.Origin.WEB
    assert run.file.name.endswith(".csv")
    # A cost is withheld from an asset manager, who may not see commercial figures.
    assert "withheld (commercial)" in page and "12,34" not in page
    assert reverse("devices:import_errors", args=[run.pk]) in page


def test_dry_run_upload_writes_nothing(
    client, tmp_path, unit, asset_manager, django_capture_on_commit_callbacks
):
    client.force_login(asset_manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("devices:import_list"),
            {
                "file": upload(tmp_path, [device_row()]),
                "mode": "valid-rows",
                "mapping": "default",
                "dry_run": "on",
            },
        )
    assert not Device.objects.exists()
    assert ImportRun.objects.get().dry_run


def test_upload_without_a_file_shows_an_error_summary(client, asset_manager):
    client.force_login(asset_manager)
    response = client.post(
        reverse("devices:import_list"), {"mode": "valid-rows", "mapping": "default"}
    )
    assert response.status_code == 200
    assert "govuk-error-summary" in response.content.decode()
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize(
    "role", [Role.FINANCE, Role.UNIT_VIEWER, Role.INTEGRATION, Role.COMMERCIAL, None]
)
def test_other_roles_get_403_on_every_import_page(client, make_user, asset_manager, role):
    run = ImportRun.objects.create(created_by=asset_manager, file_name="x.csv", sha256="0" * 64)
    client.force_login(make_user(role))
    for name, args in [
        ("devices:import_list", []),
        ("devices:import_detail", [run.pk]),
        ("devices:import_progress", [run.pk]),
        ("devices:import_errors", [run.pk]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 403, name
    response = client.post(reverse("devices:import_list"), {"mode": "valid-rows"})
    assert response.status_code == 403


def test_progress_partial_polls_while_running_with_a_text_percentage(client, asset_manager):
    run = ImportRun.objects.create(
        created_by=asset_manager,
        file_name="x.csv",
        sha256="0" * 64,
        status=ImportRun.Status.RUNNING,
        rows_total=200,
        rows_processed=50,
    )
    client.force_login(asset_manager)
    response = client.get(reverse("devices:import_progress", args=[run.pk]))
    page = response.content.decode()
    assert 'hx-trigger="every 1s"' in page
    assert reverse("devices:import_progress", args=[run.pk]) in page
    assert "25%" in page and 'role="status"' in page
    assert 'value="25"' in page


def test_progress_partial_stops_polling_when_finished(client, asset_manager):
    run = ImportRun.objects.create(
        created_by=asset_manager,
        file_name="x.csv",
        sha256="0" * 64,
        status=ImportRun.Status.SUCCEEDED,
        rows_total=3,
        rows_processed=3,
        created_count=3,
    )
    client.force_login(asset_manager)
    page = client.get(reverse("devices:import_progress", args=[run.pk])).content.decode()
    assert "hx-trigger" not in page
    assert 'data-count="created">3<' in page


def test_error_report_download_is_marked_and_redacted_for_non_commercial_users(
    client, tmp_path, unit, asset_manager, django_capture_on_commit_callbacks
):
    client.force_login(asset_manager)
    rows = [
        device_row(serial_number="A", purchase_cost="12,34"),
        device_row(serial_number="B", business_unit="@SUM(1)"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("devices:import_list"),
            {"file": upload(tmp_path, rows), "mode": "valid-rows", "mapping": "default"},
        )
    run = ImportRun.objects.get()
    response = client.get(reverse("devices:import_errors", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["Classification: OFFICIAL"]
    assert lines[1] == ["row", "column", "value", "reason"]
    assert lines[2][:3] == ["2", "purchase_cost", "withheld (commercial)"]
    assert "12,34" not in response.content.decode("utf-8-sig")
    assert lines[3][:3] == ["3", "business_unit", "'@SUM(1)"]


def test_a_scoped_asset_manager_sees_only_their_own_runs(client, make_user, asset_manager):
    theirs = ImportRun.objects.create(created_by=asset_manager, file_name="a.csv", sha256="0" * 64)
    scoped = make_user(Role.ASSET_MANAGER, units=[BusinessUnitFactory()])
    mine = ImportRun.objects.create(created_by=scoped, file_name="mine.csv", sha256="0" * 64)
    client.force_login(scoped)
    assert client.get(reverse("devices:import_detail", args=[theirs.pk])).status_code == 404
    page = client.get(reverse("devices:import_list")).content.decode()
    assert "mine.csv" in page and "a.csv" not in page
    assert client.get(reverse("devices:import_detail", args=[mine.pk])).status_code == 200


def _runs(n, user):
    ImportRun.objects.bulk_create(
        ImportRun(
            created_by=user,
            file_name=f"f{i}.csv",
            sha256="0" * 64,
            status=ImportRun.Status.SUCCEEDED,
        )
        for i in range(n)
    )


def test_import_list_query_count_does_not_grow_with_runs(
    client, asset_manager, django_assert_num_queries
):
    client.force_login(asset_manager)
    client.get(reverse("devices:import_list"))  # warm the session
    # Queries: session, user, the user's groups (role check), the user's unit
    # scopes, the runs with their users (one join); navigation reuses the
    # cached roles.
    _runs(3, asset_manager)
    with django_assert_num_queries(5) as first:
        client.get(reverse("devices:import_list"))
    _runs(7, asset_manager)
    with django_assert_num_queries(len(first.captured_queries)):
        response = client.get(reverse("devices:import_list"))
    assert response.content.decode().count("f1.csv") >= 1


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (4.2, "4.2 seconds"),
        (1.0, "1.0 second"),
        (0.04, "0.0 seconds"),
        (125.3, "2 minutes 5.3 seconds"),
    ],
)
def test_the_summary_says_how_long_the_import_took_in_seconds(
    client, asset_manager, seconds, shown
):
    started = timezone.now() - dt.timedelta(minutes=10)
    run = ImportRun.objects.create(
        created_by=asset_manager,
        file_name="x.csv",
        sha256="0" * 64,
        status=ImportRun.Status.SUCCEEDED,
        rows_total=4,
        rows_processed=4,
        updated_count=2,
        field_changes={"location": 2, "purchase_cost": 1},
        started_at=started,
        finished_at=started + dt.timedelta(seconds=seconds),
    )
    client.force_login(asset_manager)

    page = client.get(reverse("devices:import_detail", args=[run.pk])).content.decode()

    assert f'data-test="import-took">{shown}<' in page
    # The per-field change counts stay.
    assert 'data-field="location">2 rows<' in page and 'data-field="purchase_cost">1 row<' in page


def test_the_upload_form_hint_states_the_limits(client, asset_manager, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024
    settings.IMPORT_MAX_ROWS = 1_000_000
    settings.IMPORT_MAX_XLSX_EXPANDED_BYTES = 100 * 1024 * 1024
    client.force_login(asset_manager)

    page = client.get(reverse("devices:import_list")).content.decode()

    assert "At most 256 MB and 1,000,000 rows; an XLSX may expand to at most 100 MB." in page
