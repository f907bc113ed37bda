"""The estate importer against a corpus of good and bad files made here:
formats, encodings, line ends, delimiters, XLSX cells, mappings, values,
file-level errors (exit 2), row errors (exit 1), modes, re-runs, dry runs,
the error report and the import record."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from devices.importing import services as import_services
from devices.models import Device, DeviceEvent, ImportRun
from tests.devices.import_files import EXCEL_DATE, device_row, text_file, xlsx_file
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory, PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE", name="Central East")


def run_import(path, *args):
    """Run the command; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("import_estate", str(path), *args, stdout=out, stderr=err)
    return exited.value.code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------ encodings and text layout


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8", ","),
        ("utf-8-sig", ","),
        ("utf-16", "\t"),  # Excel "Unicode text": UTF-16 with BOM, tab separated
        ("cp1252", ","),
        ("utf-8", ";"),
        ("utf-8", "\t"),
    ],
)
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_every_supported_encoding_delimiter_and_line_end_imports_the_same(
    tmp_path, unit, encoding, delimiter, newline
):
    # Given a file with a pound sign and an accent in it
    path = text_file(
        tmp_path / "estate.csv",
        [device_row(location="Café £ store"), device_row(serial_number="0002", purchase_cost="99")],
        encoding=encoding,
        delimiter=delimiter,
        newline=newline,
    )
    # When it is imported
    status, out, _ = run_import(path)
    # Then both rows land, text intact, and the command says so
    assert status == 0, out
    assert "created 2" in out
    first = Device.objects.get(serial_number="SN-0001")
    assert first.location == "Café £ store"
    assert first.purchase_cost == Decimal("1234.56")
    assert Device.objects.get(serial_number="0002").purchase_cost == Decimal("99.00")


def test_headers_are_case_and_space_insensitive(tmp_path, unit):
    header = ["Serial Number", " MANUFACTURER ", "Model", "Category", "Business-Unit"]
    values = ["SN-0001", "Dell", "Latitude", "laptop", "CE"]
    path = text_file(tmp_path / "h.csv", [dict(zip(header, values, strict=True))], header=header)
    status, out, _ = run_import(path)
    assert status == 0
    assert Device.objects.filter(serial_number="SN-0001").exists()


def test_unknown_columns_are_reported_not_silently_dropped(tmp_path, unit):
    rows = [{**device_row(), "Colour": "red", "Notes": "x"}]
    path = text_file(tmp_path / "u.csv", rows)
    status, out, _ = run_import(path)
    assert status == 0
    assert "Colour" in out and "Notes" in out
    run = ImportRun.objects.get()
    assert any("Colour" in w and "Notes" in w for w in run.warnings)


# ------------------------------------------------------------------ file-level errors


def test_missing_required_column_exits_2_naming_it(tmp_path, unit):
    rows = [{k: v for k, v in device_row().items() if k != "business_unit"}]
    path = text_file(tmp_path / "m.csv", rows)
    status, _, err = run_import(path)
    assert status == 2
    assert "business_unit" in err
    assert not Device.objects.exists()
    assert ImportRun.objects.get().file_unreadable


@pytest.mark.parametrize(
    "content",
    [b"", b"   \r\n\r\n", b"serial_number,manufacturer,model,category,business_unit\r\n"],
    ids=["zero-bytes", "blank-lines", "header-only"],
)
def test_empty_file_exits_2(tmp_path, unit, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    status, _, err = run_import(path)
    assert status == 2
    assert "empty" in err.lower() or "no data rows" in err


def test_undecodable_bytes_exit_2_with_the_reason(tmp_path, unit):
    # 0x81 is undefined in Windows-1252 and invalid in UTF-8.
    path = tmp_path / "bad.csv"
    path.write_bytes(
        b"serial_number,manufacturer,model,category,business_unit\r\nA\x81,Dell,X,laptop,CE\r\n"
    )
    status, _, err = run_import(path)
    assert status == 2
    assert "UTF-8" in err
    assert not Device.objects.exists()


def test_a_file_without_recognisable_columns_exits_2(tmp_path, unit):
    path = tmp_path / "prose.csv"
    path.write_text("This is not an export\nat all\n")
    status, _, err = run_import(path)
    assert status == 2
    assert "columns" in err.lower()


def test_old_xls_workbook_is_refused_with_advice(tmp_path, unit):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    status, _, err = run_import(path)
    assert status == 2
    assert ".xlsx" in err


# ---------------------------------------------------------------------------- XLSX


def test_xlsx_date_cells_numbers_and_text_serials(tmp_path, unit):
    header = [
        "Serial Number",
        "Manufacturer",
        "Model",
        "Category",
        "Business Unit",
        "Purchase Date",
        "Warranty Expires",
        "Purchase Cost",
        "Last Seen",
    ]
    rows = [
        # A text serial with leading zeros, real date cells, a numeric cost.
        [
            "000123",
            "Dell",
            "Latitude",
            "Laptop",
            "CE",
            EXCEL_DATE,
            dt.date(2027, 1, 13),
            1234.5,
            dt.datetime(2024, 5, 1, 10, 0),
        ],
        # A whole-number serial cell is its digits; a bare number in a date
        # column is an Excel serial date (45304 = 2024-01-13).
        [987654, "Dell", "Latitude", "Laptop", "CE", 45304, None, 10, None],
    ]
    path = xlsx_file(tmp_path / "estate.xlsx", rows, header=header)
    status, out, _ = run_import(path)
    assert status == 0, out
    first = Device.objects.get(serial_number="000123")
    assert first.purchase_date == dt.date(2024, 1, 13)
    assert first.warranty_expires == dt.date(2027, 1, 13)
    assert first.purchase_cost == Decimal("1234.50")
    assert first.last_seen == dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)  # BST
    second = Device.objects.get(serial_number="987654")
    assert second.purchase_date == dt.date(2024, 1, 13)


def test_xlsx_numeric_serials_that_lost_digits_are_rejected(tmp_path, unit):
    header = ["serial_number", "manufacturer", "model", "category", "business_unit", "asset_tag"]
    rows = [
        [6377020000000000, "Dell", "X", "laptop", "CE", "T1"],  # >15 digits: Excel rounded it
        [1234, "Dell", "X", "laptop", "CE", "T2"],  # shown as 00001234 by the format
        ["ABC", "Dell", "X", "laptop", "CE", 12.5],  # a fraction is no asset tag
    ]
    path = xlsx_file(
        tmp_path / "bad.xlsx", rows, header=header, formats={"serial_number": "00000000"}
    )
    status, out, _ = run_import(path)
    assert status == 1
    run = ImportRun.objects.get()
    reasons = {(e["row"], e["column"]): e["reason"] for e in run.error_sample}
    assert "scientific notation" in reasons[(2, "serial_number")]
    assert "leading zeros" in reasons[(3, "serial_number")]
    assert (4, "asset_tag") in reasons
    assert not Device.objects.exists()


def test_xlsx_scientific_format_serial_is_rejected(tmp_path, unit):
    header = ["serial_number", "manufacturer", "model", "category", "business_unit"]
    path = xlsx_file(
        tmp_path / "sci.xlsx",
        [[637702, "Dell", "X", "laptop", "CE"]],
        header=header,
        formats={"serial_number": "0.00E+00"},
    )
    status, _, _ = run_import(path)
    assert status == 1
    assert "scientific" in ImportRun.objects.get().error_sample[0]["reason"]


# ---------------------------------------------------------------------- Snipe-IT


def test_snipe_it_asset_export_maps_its_headers(tmp_path, unit):
    person = PersonFactory(business_unit=unit, staff_number="S1234567")
    header = [
        "ID",
        "Company",
        "Asset Name",
        "Asset Tag",
        "Model",
        "Model No.",
        "Category",
        "Manufacturer",
        "Serial",
        "Purchase Date",
        "Purchase Cost",
        "Order Number",
        "Supplier",
        "Checked Out To",
        "Employee Number",
        "Location",
        "Status",
        "Warranty Expires",
        "Notes",
    ]
    rows = [
        {
            "ID": "1",
            "Company": "Central East",
            "Asset Name": "LT-1",
            "Asset Tag": "MPS0001",
            "Model": "Latitude 5440",
            "Model No.": "P1",
            "Category": "Laptops",
            "Manufacturer": "Dell",
            "Serial": "ABC123",
            "Purchase Date": "2024-01-13",
            "Purchase Cost": "1,234.56",
            "Order Number": "PO1",
            "Supplier": "X",
            "Checked Out To": "Jane Smith",
            "Employee Number": "S1234567",
            "Location": "Lambeth",
            "Status": "Deployed",
            "Warranty Expires": "2027-01-13",
            "Notes": "",
        },
        {
            "ID": "2",
            "Company": "CE",
            "Asset Name": "",
            "Asset Tag": "MPS0002",
            "Model": "Galaxy S24",
            "Model No.": "",
            "Category": "Mobile Phones",
            "Manufacturer": "Samsung",
            "Serial": "R58",
            "Purchase Date": "",
            "Purchase Cost": "",
            "Order Number": "",
            "Supplier": "",
            "Checked Out To": "",
            "Employee Number": "",
            "Location": "",
            "Status": "Ready to Deploy",
            "Warranty Expires": "",
            "Notes": "",
        },
    ]
    path = text_file(tmp_path / "snipe.csv", rows, header=header)
    status, out, _ = run_import(path, "--mapping", "snipe-it")
    assert status == 0, out
    laptop = Device.objects.get(serial_number="ABC123")
    assert laptop.asset_tag == "MPS0001"
    assert laptop.status == Device.Status.DEPLOYED
    assert laptop.assigned_to == person
    assert laptop.business_unit == unit  # Company matched by the unit's name
    assert laptop.device_model.category == "laptop"
    phone = Device.objects.get(serial_number="R58")
    assert phone.device_model.category == "smartphone"
    assert phone.status == Device.Status.IN_STOCK
    warnings = " ".join(ImportRun.objects.get().warnings)
    assert "Asset Name" in warnings and "Supplier" in warnings
    assert "Checked Out To" in warnings  # shadowed by Employee Number, said so


# ------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("column", "value", "stored"),
    [
        ("purchase_date", "2024-01-13", dt.date(2024, 1, 13)),
        ("purchase_date", "13/01/2024", dt.date(2024, 1, 13)),
        ("purchase_date", "3/1/2024", dt.date(2024, 1, 3)),
        ("purchase_cost", "1234.56", Decimal("1234.56")),
        ("purchase_cost", "1,234.56", Decimal("1234.56")),
        ("purchase_cost", "£1,234.56", Decimal("1234.56")),
        ("purchase_cost", "£12", Decimal("12.00")),
        ("serial_number", "000123", "000123"),
        ("serial_number", "ab-01 ", "ab-01"),
    ],
)
def test_values_accepted(tmp_path, unit, column, value, stored):
    path = text_file(tmp_path / "v.csv", [device_row(**{column: value})])
    status, out, _ = run_import(path)
    assert status == 0, out
    assert getattr(Device.objects.get(), column) == stored


@pytest.mark.parametrize(
    ("column", "value", "reason_part"),
    [
        ("purchase_date", "01/13/2024", "US"),
        ("purchase_date", "31/02/2024", "not a real"),
        ("purchase_date", "13-01-24", "not a date"),
        ("purchase_cost", "1.234,56", "unambiguous"),
        ("purchase_cost", "12,34", "unambiguous"),
        ("purchase_cost", "-5.00", "negative"),
        ("purchase_cost", "12.345", "unambiguous"),
        ("purchase_cost", "$12", "unambiguous"),
        ("serial_number", "6.37702E+15", "scientific notation"),
        ("status", "borrowed", "not a known status"),
        ("category", "printer", "not a known category"),
        ("last_seen", "yesterday", "not a date-time"),
    ],
)
def test_values_rejected_with_row_column_and_reason(tmp_path, unit, column, value, reason_part):
    bad = device_row(serial_number="BAD")
    bad[column] = value
    path = text_file(tmp_path / "v.csv", [device_row(serial_number="OK1"), bad])
    status, _, _ = run_import(path)
    assert status == 1
    run = ImportRun.objects.get()
    assert run.created_count == 1 and run.rejected_count == 1
    [error] = [e for e in run.error_sample if e["column"] == column]
    assert error["row"] == 3  # the header is row 1
    assert error["value"] == value
    assert reason_part in error["reason"]


# ------------------------------------------------------------------------ row errors


def test_duplicates_in_the_file_are_errors_on_every_copy(tmp_path, unit):
    rows = [
        device_row(serial_number="A"),
        device_row(serial_number="B", asset_tag="T1"),
        device_row(serial_number="A", manufacturer="DELL"),
        device_row(serial_number="C", asset_tag="T1"),
        device_row(serial_number="D"),
    ]
    status, _, _ = run_import(text_file(tmp_path / "d.csv", rows))
    assert status == 1
    run = ImportRun.objects.get()
    errors = {(e["row"], e["column"]) for e in run.error_sample}
    assert errors == {
        (2, "serial_number"),
        (4, "serial_number"),
        (3, "asset_tag"),
        (5, "asset_tag"),
    }
    assert list(Device.objects.values_list("serial_number", flat=True)) == ["D"]


@pytest.mark.parametrize("shape", ["csv-without-tags", "csv-tags-first", "xlsx"])
def test_duplicates_are_found_whatever_the_file_shape(tmp_path, unit, shape):
    # Given the same duplicated serial in a file without an asset tag column,
    # one whose columns come in another order, and a workbook
    header = ["serial_number", "manufacturer", "model", "category", "business_unit"]
    values = [["A", "Dell"], ["B", "Dell"], [" A ", "dell"], ["C", "HP"]]
    if shape == "csv-without-tags":
        rows = [device_row(serial_number=s, manufacturer=m) for s, m in values]
        path = text_file(tmp_path / "d.csv", rows, header=header)
    elif shape == "csv-tags-first":
        header = ["asset_tag", *reversed(header)]
        rows = [
            device_row(serial_number=s, manufacturer=m, asset_tag=f"T{i}")
            for i, (s, m) in enumerate(values)
        ]
        rows[3]["asset_tag"] = "T1"
        path = text_file(tmp_path / "d.csv", rows, header=header)
    else:
        path = xlsx_file(
            tmp_path / "d.xlsx",
            [[s, m, "Latitude 5440", "laptop", "CE"] for s, m in values],
            header=header,
        )
    status, _, _ = run_import(path)
    # Then both copies of the serial are errors (and, with tags, both copies of T1)
    assert status == 1
    errors = {(e["row"], e["column"]) for e in ImportRun.objects.get().error_sample}
    expected = {(2, "serial_number"), (4, "serial_number")}
    if shape == "csv-tags-first":
        expected |= {(3, "asset_tag"), (5, "asset_tag")}
    assert errors == expected


def test_unknown_unit_and_staff_number_are_row_errors(tmp_path, unit):
    rows = [
        device_row(serial_number="A", business_unit="NOPE"),
        device_row(serial_number="B", assigned_to="S0000000", status="deployed"),
    ]
    status, _, _ = run_import(text_file(tmp_path / "r.csv", rows))
    assert status == 1
    reasons = {e["column"]: e["reason"] for e in ImportRun.objects.get().error_sample}
    assert "NOPE" in reasons["business_unit"]
    assert "S0000000" in reasons["assigned_to"]


def test_forbidden_status_transition_is_a_row_error_and_nothing_changes(tmp_path, unit):
    device = DeviceFactory(
        serial_number="A",
        business_unit=unit,
        status=Device.Status.DISPOSED,
        device_model=DeviceModelFactory(name="Latitude 5440"),
    )
    status, _, _ = run_import(
        text_file(
            tmp_path / "t.csv", [device_row(serial_number="A", status="deployed", assigned_to="")]
        )
    )
    assert status == 1
    [error] = ImportRun.objects.get().error_sample
    assert error["column"] == "status"
    assert "Disposed" in error["reason"] and "Deployed" in error["reason"]
    device.refresh_from_db()
    assert device.status == Device.Status.DISPOSED and device.version == 1


# --------------------------------------------------------------- modes and re-runs


def test_valid_rows_mode_lands_the_good_rows(tmp_path, unit):
    rows = [device_row(serial_number="A"), device_row(serial_number="B", business_unit="X")]
    status, out, _ = run_import(text_file(tmp_path / "m.csv", rows), "--mode", "valid-rows")
    assert status == 1
    assert "created 1" in out and "rejected 1" in out
    assert Device.objects.filter(serial_number="A").exists()
    assert ImportRun.objects.get().applied


def test_all_or_nothing_changes_nothing_when_any_row_fails(tmp_path, unit, monkeypatch):
    # Given an existing device, and a file whose error is in its last batch
    monkeypatch.setattr(import_services, "BATCH_SIZE", 2)
    existing = DeviceFactory(
        serial_number="A",
        business_unit=unit,
        location="Old",
        device_model=DeviceModelFactory(name="Latitude 5440"),
    )
    rows = [
        device_row(serial_number="A", location="New"),
        device_row(serial_number="B"),
        device_row(serial_number="C"),
        device_row(serial_number="D", business_unit="X"),
    ]
    status, out, _ = run_import(text_file(tmp_path / "a.csv", rows), "--mode", "all-or-nothing")
    # Then the run reports the error and nothing was written, not even earlier batches
    assert status == 1
    assert "Nothing was changed" in out
    existing.refresh_from_db()
    assert existing.location == "Old" and existing.version == 1
    assert Device.objects.count() == 1
    assert not DeviceEvent.objects.exists()
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.SUCCEEDED and not run.applied
    assert run.rejected_count == 1


def test_all_or_nothing_applies_a_clean_file(tmp_path, unit):
    rows = [device_row(serial_number="A"), device_row(serial_number="B")]
    status, _, _ = run_import(text_file(tmp_path / "c.csv", rows), "--mode", "all-or-nothing")
    assert status == 0
    assert Device.objects.count() == 2


def test_rerunning_the_same_file_is_a_no_op_with_zero_new_events(tmp_path, unit, monkeypatch):
    monkeypatch.setattr(import_services, "BATCH_SIZE", 2)
    person = PersonFactory(business_unit=unit)
    rows = [device_row(serial_number=f"S{i}", last_seen="2024-05-01 10:00") for i in range(5)]
    rows.append(device_row(serial_number="P", status="deployed", assigned_to=person.staff_number))
    path = text_file(tmp_path / "r.csv", rows)
    assert run_import(path)[0] == 0
    events = DeviceEvent.objects.count()
    versions = list(Device.objects.order_by("pk").values_list("version", flat=True))
    status, out, _ = run_import(path)
    assert status == 0
    assert "unchanged 6" in out
    assert DeviceEvent.objects.count() == events
    assert list(Device.objects.order_by("pk").values_list("version", flat=True)) == versions


def test_a_changed_row_updates_the_device_and_names_the_import(tmp_path, unit):
    device = DeviceFactory(
        serial_number="A",
        business_unit=unit,
        location="Old",
        device_model=DeviceModelFactory(name="Latitude 5440"),
    )
    run_import(text_file(tmp_path / "c.csv", [device_row(serial_number="A", location="New")]))
    run = ImportRun.objects.get()
    device.refresh_from_db()
    assert device.location == "New" and device.version == 2
    event = DeviceEvent.objects.get(device=device)
    assert event.kind == DeviceEvent.Kind.UPDATED
    assert event.source == f"import:{run.pk}"
    assert event.details["changed"]["location"] == ["Old", "New"]
    assert event.details["row"] == 2


def test_dry_run_writes_nothing_but_is_recorded(tmp_path, unit):
    status, out, _ = run_import(text_file(tmp_path / "d.csv", [device_row()]), "--dry-run")
    assert status == 0
    assert "dry run" in out and "created 1" in out
    assert not Device.objects.exists() and not DeviceEvent.objects.exists()
    run = ImportRun.objects.get()
    assert run.dry_run and not run.applied and run.created_count == 1


def test_a_crash_mid_way_keeps_whole_batches_and_marks_the_run_failed(tmp_path, unit, monkeypatch):
    monkeypatch.setattr(import_services, "BATCH_SIZE", 2)
    real = import_services.apply_batch
    calls = []

    def crashing(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(**kwargs)

    monkeypatch.setattr(import_services, "apply_batch", crashing)
    rows = [device_row(serial_number=f"S{i}") for i in range(4)]
    status, _, err = run_import(text_file(tmp_path / "c.csv", rows))
    assert status == 1
    assert "disk on fire" in err
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.FAILED
    assert "disk on fire" in run.failure_message
    # The first batch is whole (2 devices, 2 events); the second wrote nothing.
    assert Device.objects.count() == 2 and DeviceEvent.objects.count() == 2


# ------------------------------------------------------- error report and the record


def test_error_report_lists_row_column_value_reason_and_neutralises_cells(tmp_path, unit):
    rows = [
        device_row(serial_number="A", business_unit="=HYPERLINK(1)"),
        device_row(serial_number="B", purchase_cost="12,34"),
    ]
    out_path = tmp_path / "errors.csv"
    status, out, _ = run_import(
        text_file(tmp_path / "e.csv", rows), "--error-report", str(out_path)
    )
    assert status == 1
    lines = list(csv.reader(io.StringIO(out_path.read_bytes().decode("utf-8-sig"))))
    # A cost is quoted, so the report is marked commercial.
    assert lines[0] == ["Classification: OFFICIAL-SENSITIVE [COMMERCIAL]"]
    assert lines[1] == ["row", "column", "value", "reason"]
    assert lines[2][:3] == ["2", "business_unit", "'=HYPERLINK(1)"]
    assert lines[3][:3] == ["3", "purchase_cost", "12,34"]


def test_every_import_is_recorded_with_who_hash_and_counts(tmp_path, unit, asset_manager):
    import hashlib

    path = text_file(tmp_path / "rec.csv", [device_row()])
    status, _, _ = run_import(path, "--user", asset_manager.username)
    assert status == 0
    run = ImportRun.objects.get()
    assert run.created_by == asset_manager
    assert run.origin == ImportRun.Origin.COMMAND
    assert run.file_name == "rec.csv"
    assert run.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (run.rows_total, run.rows_processed, run.created_count) == (1, 1, 1)
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.started_at <= run.finished_at
    assert DeviceEvent.objects.get().recorded_by == asset_manager


def test_row_numbers_count_blank_lines_as_a_user_sees_them(tmp_path, unit):
    path = tmp_path / "gaps.csv"
    path.write_text(
        "\nserial_number,manufacturer,model,category,business_unit\n"
        "A,Dell,X,laptop,CE\n\nB,Dell,X,laptop,NOPE\n"
    )
    status, _, _ = run_import(path)
    assert status == 1
    [error] = ImportRun.objects.get().error_sample
    assert error["row"] == 5
    assert Device.objects.filter(serial_number="A").exists()


# ------------------------------------- PostgreSQL: write one batch, validate the next


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_written_while_the_next_is_validated_land_like_a_sequential_import(
    tmp_path, unit, monkeypatch
):
    # Given an existing device, and a file of 2-row batches (committed per batch,
    # so the writer thread and the validation of the next batch overlap) with a
    # change, new devices, a maker first seen in a later batch and a bad row
    monkeypatch.setattr(import_services, "BATCH_SIZE", 2)
    existing = DeviceFactory(
        serial_number="A",
        business_unit=unit,
        location="Old",
        device_model=DeviceModelFactory(name="Latitude 5440"),
    )
    rows = [
        device_row(serial_number="A", location="New"),
        device_row(serial_number="B"),
        device_row(serial_number="C", business_unit="X"),
        device_row(serial_number="D", manufacturer="Fairphone", model="FP5", category="smartphone"),
        device_row(serial_number="E", manufacturer="Fairphone", model="FP5", category="smartphone"),
    ]
    status, out, _ = run_import(text_file(tmp_path / "p.csv", rows), "--mode", "valid-rows")
    # Then every good row landed with its event, and the bad one is reported
    assert status == 1
    assert "created 3" in out and "updated 1" in out and "rejected 1" in out
    existing.refresh_from_db()
    assert existing.location == "New" and existing.version == 2
    assert sorted(Device.objects.values_list("serial_number", flat=True)) == ["A", "B", "D", "E"]
    assert DeviceEvent.objects.count() == 4
    run = ImportRun.objects.get()
    assert run.rows_processed == 5 and run.applied
    assert [(e["row"], e["column"]) for e in run.error_sample] == [(4, "business_unit")]
    # And a re-run is a no-op
    status, out, _ = run_import(text_file(tmp_path / "p.csv", rows), "--mode", "valid-rows")
    assert "unchanged 4" in out and DeviceEvent.objects.count() == 4


@pytest.mark.parametrize("total", [0, 1, 2, 3, 5, 7, 12, 13, 100])
def test_pipelined_batches_are_small_at_both_ends_and_cover_every_row(total, monkeypatch):
    # Given batches of 4 rows with edge batches of 1
    monkeypatch.setattr(import_services, "BATCH_SIZE", 4)
    monkeypatch.setattr(import_services, "EDGE_BATCH_SIZE", 1)
    # When a file of `total` rows is cut into batches
    numbered = [(n, {"serial_number": str(n)}) for n in range(total)]
    sizes = import_services._pipelined_batch_sizes(total)
    batches = [numbers for numbers, _rows in import_services._batches(numbered, sizes)]
    # Then every row is in one batch, in order, none larger than BATCH_SIZE,
    # and the first and (with three batches or more) the last hold one row
    assert [n for numbers in batches for n in numbers] == list(range(total))
    assert all(1 <= len(numbers) <= 4 for numbers in batches)
    if batches:
        assert len(batches[0]) == 1
    if len(batches) >= 3:
        assert len(batches[-1]) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_asset_tag_moved_off_a_device_by_one_batch_is_free_for_the_next(
    tmp_path, unit, monkeypatch
):
    # Given device A holding tag T1, and a file whose first batch moves A to T2
    # and whose second batch gives T1 to a new device (validated, at first,
    # before the first batch committed)
    monkeypatch.setattr(import_services, "BATCH_SIZE", 2)
    model = DeviceModelFactory(name="Latitude 5440")
    DeviceFactory(serial_number="A", asset_tag="T1", business_unit=unit, device_model=model)
    rows = [
        device_row(serial_number="A", asset_tag="T2"),
        device_row(serial_number="B"),
        device_row(serial_number="C", asset_tag="T1"),
    ]
    status, out, _ = run_import(text_file(tmp_path / "t.csv", rows))
    # Then, as in a sequential import, the tag is free for C
    assert status == 0, out
    assert dict(Device.objects.values_list("serial_number", "asset_tag")) == {
        "A": "T2",
        "B": None,
        "C": "T1",
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_that_fails_mid_way_keeps_whole_batches_only(tmp_path, unit, monkeypatch):
    # Given batches of [S0, S1], [S2], [S3, S4] (2-row batches, small last one
    # pulled forward) where the second batch's write fails
    monkeypatch.setattr(import_services, "BATCH_SIZE", 2)
    real = import_services.write_staged
    calls = []

    def crashing(chunks, by_index, **kwargs):
        calls.append(1)
        if any(row.values["serial_number"] == "S2" for row in by_index.values()):
            raise RuntimeError("disk on fire")
        return real(chunks, by_index, **kwargs)

    monkeypatch.setattr(import_services, "write_staged", crashing)
    rows = [device_row(serial_number=f"S{i}") for i in range(5)]
    status, _, err = run_import(text_file(tmp_path / "w.csv", rows))
    assert status == 1
    assert "disk on fire" in err
    assert ImportRun.objects.get().status == ImportRun.Status.FAILED
    # Then the failed batch wrote nothing, and every batch that landed is whole
    # (each device with its event): the others were written alongside it.
    assert len(calls) == 3
    assert sorted(Device.objects.values_list("serial_number", flat=True)) == [
        "S0",
        "S1",
        "S3",
        "S4",
    ]
    assert DeviceEvent.objects.count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_text_that_copy_must_escape_lands_exactly_as_written(tmp_path, unit):
    # Given a device whose location will change, and rows whose text holds
    # backslashes and non-ASCII (JSON escapes them with backslashes in the
    # event's details, which COPY's text format must double)
    model = DeviceModelFactory(name="Latitude 5440")
    DeviceFactory(
        serial_number="A", asset_tag="T1", business_unit=unit, device_model=model, location="Old"
    )
    rows = [
        device_row(serial_number="A", location="Ré\\Annexe \\N", os_version="Win\\11"),
        device_row(serial_number="B\\1", asset_tag="T\\N", location="\\", os_version="Café ☕"),
    ]
    status, out, _ = run_import(text_file(tmp_path / "esc.csv", rows))
    # Then every value is stored exactly, and the event records the change exactly
    assert status == 0, out
    stored = {
        d.serial_number: (d.asset_tag, d.location, d.os_version) for d in Device.objects.all()
    }
    assert stored == {
        "A": ("T1", "Ré\\Annexe \\N", "Win\\11"),
        "B\\1": ("T\\N", "\\", "Café ☕"),
    }
    event = DeviceEvent.objects.get(device__serial_number="A")
    assert event.details["changed"]["location"] == ["Old", "Ré\\Annexe \\N"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_file_that_turns_unreadable_mid_way_keeps_the_batches_already_written(
    tmp_path, unit, monkeypatch
):
    # Given 2-row batches, and a file whose third batch cannot be read (as when
    # it changes between the first pass and the import), found by the parse
    # thread while the first two batches are being written
    from devices.importing.reading import FileUnreadable

    monkeypatch.setattr(import_services, "BATCH_SIZE", 2)
    monkeypatch.setattr(import_services, "EDGE_BATCH_SIZE", 2)
    real = import_services.parse_batch

    def failing(*, rows, indexes, duplicates):
        if "S4" in {row["serial_number"] for row in rows}:
            raise FileUnreadable("Row 6 is not valid utf-8 text.")
        return real(rows=rows, indexes=indexes, duplicates=duplicates)

    monkeypatch.setattr(import_services, "parse_batch", failing)
    rows = [device_row(serial_number=f"S{i}") for i in range(8)]
    status, _, err = run_import(text_file(tmp_path / "u.csv", rows))
    # Then the command says the file could not be read, the two whole batches
    # before it stand (each device with its event) and the run counts them
    assert status == 2, err
    assert sorted(Device.objects.values_list("serial_number", flat=True)) == [
        "S0",
        "S1",
        "S2",
        "S3",
    ]
    assert DeviceEvent.objects.count() == 4
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.FAILED and run.file_unreadable
    assert "Row 6" in run.failure_message
    assert run.created_count == 4 and run.applied
