"""Hostile import files (issue "Security": hostile input, upload limits).

Each case is tried through the doors a file comes in by (the upload page, the
``import_estate`` command, the import run a worker executes) and expects a clean
refusal that names the reason (a GOV.UK error summary on the form, exit status 2, a
run marked unreadable, never an exception) and nothing written: no device, no event,
and for the page and the command no import run and no stored file. Then what is
accepted is shown safely: file names with paths or markup, markup in every free-text
column, formula cells in the error report, and purchase costs in it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from core.security_log import JsonLineFormatter
from devices.importing import limits
from devices.importing.errors import ImportRefused
from devices.importing.reading import check_limits
from devices.importing.services import import_run_create, import_run_execute
from devices.models import Device, DeviceEvent, ImportRun
from tests.devices.import_files import HEADER, device_row, text_file, xlsx_file
from tests.factories import BusinessUnitFactory

pytestmark = pytest.mark.django_db

IMPORT = "/devices/import/"
DECLARATIONS = "The file contains XML declarations, which are not accepted."
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def unit():
    return BusinessUnitFactory(code="CE")


@pytest.fixture
def manager_client(client, asset_manager):
    client.force_login(asset_manager)
    return client


@pytest.fixture
def never_opened(monkeypatch):
    """Fails the test if openpyxl is asked to open a workbook."""
    import openpyxl

    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl opened a workbook the checks should have refused")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_nothing_written(*, runs: int = 0):
    assert not Device.objects.exists()
    assert not DeviceEvent.objects.exists()
    assert ImportRun.objects.count() == runs
    if not runs:
        assert stored_files() == []


# --- building hostile files -----------------------------------------------------------


def small_xlsx(path: Path, rows: int = 1) -> Path:
    values = [[device_row(serial_number=f"SN-{n}").get(h, "") for h in HEADER] for n in range(rows)]
    return xlsx_file(path, values, header=HEADER)


def rewritten(src: Path, dst: Path, parts: dict) -> Path:
    """A copy of the workbook ``src`` with ``parts`` replaced: name -> bytes, or a
    function given a writable member to stream into (so huge parts never sit in memory)."""
    with zipfile.ZipFile(src) as original, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        names = original.namelist()
        for name in names:
            if name not in parts:
                out.writestr(name, original.read(name))
        for name, content in parts.items():
            if callable(content):
                with out.open(name, "w", force_zip64=True) as member:
                    content(member)
            else:
                out.writestr(name, content)
    return dst


def shared_string_bomb(tmp_path: Path, size: int = 150 * 1024 * 1024) -> Path:
    """Issue 13's file: a tiny XLSX whose one shared string expands to ``size`` bytes
    (compressed, the whole file is a few hundred KB)."""

    def write(member):
        member.write(
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns='
            b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
            b'uniqueCount="1"><si><t>'
        )
        block = b"A" * (1 << 20)
        for _ in range(size // len(block)):
            member.write(block)
        member.write(b"</t></si></sst>")

    src = small_xlsx(tmp_path / "small.xlsx")
    return rewritten(src, tmp_path / "bomb.xlsx", {"xl/sharedStrings.xml": write})


def with_declarations(tmp_path: Path, encoding: str = "utf-8") -> Path:
    """A workbook whose sheet declares a DTD with an entity (an XML bomb's opening)."""
    src = small_xlsx(tmp_path / "small.xlsx")
    with zipfile.ZipFile(src) as original:
        sheet = original.read("xl/worksheets/sheet1.xml").decode("utf-8")
    head, _, body = sheet.partition("?>")
    declared = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        '<!DOCTYPE worksheet [<!ENTITY boom "boom">]>' + body.replace("SN-0", "&boom;")
    )
    data = declared.encode("utf-16" if encoding == "UTF-16" else "utf-8")
    return rewritten(src, tmp_path / "dtd.xlsx", {"xl/worksheets/sheet1.xml": data})


def csv_rows(tmp_path: Path, count: int, name: str = "estate.csv") -> Path:
    return text_file(
        tmp_path / name, [device_row(serial_number=f"SN-{n}") for n in range(count)], header=HEADER
    )


# --- the doors --------------------------------------------------------------------------


def via_page(client, path: Path, name: str | None = None):
    upload = SimpleUploadedFile(name or path.name, path.read_bytes())
    return client.post(IMPORT, {"file": upload, "mode": "valid-rows", "mapping": "default"})


def via_command(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("import_estate", str(path), stdout=io.StringIO(), stderr=err)
    return exit_.value.code, err.getvalue()


def via_run(path: Path, actor) -> ImportRun:
    """The run a worker executes (a file that reached the queue some other way)."""
    run = import_run_create(file_name=path.name, path=path, actor=actor)
    return import_run_execute(run=run, path=path)


def assert_page_refuses(response, *words):
    assert response.status_code == 200  # the form again, not a redirect to a run
    page = response.content.decode()
    main = page.split('id="main-content"', 1)[1]
    assert 'class="govuk-error-summary"' in main and 'href="#id_file"' in main
    message = main.split('id="id_file-error"', 1)[1].split("</p>", 1)[0]
    for word in words:
        assert word in message, word


def assert_run_refuses(run: ImportRun, *words):
    assert run.status == ImportRun.Status.FAILED and run.file_unreadable
    assert not run.failure_message.startswith("The import stopped")  # not an exception
    for word in words:
        assert word in run.failure_message, word
    assert not Device.objects.exists()


# --- 1. the 150 MB shared string ----------------------------------------------------------


def test_the_150_mb_shared_string_xlsx_is_refused_on_the_page_before_it_is_opened(
    manager_client, unit, tmp_path, never_opened
):
    bomb = shared_string_bomb(tmp_path)
    assert bomb.stat().st_size < 1024 * 1024  # tiny on disk

    response = via_page(manager_client, bomb)

    assert_page_refuses(response, "expands to 150 MB", "at most 100 MB", "xl/sharedStrings.xml")
    assert_nothing_written()


def test_the_150_mb_shared_string_xlsx_is_refused_by_the_command_and_the_run(
    unit, tmp_path, asset_manager, never_opened
):
    bomb = shared_string_bomb(tmp_path)

    code, err = via_command(bomb)
    assert code == 2 and "expands to 150 MB" in err and "Nothing was changed" in err
    assert_nothing_written()

    assert_run_refuses(via_run(bomb, asset_manager), "expands to 150 MB")


def test_checking_the_shared_string_bomb_keeps_memory_flat(unit, tmp_path):
    bomb = shared_string_bomb(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ImportRefused):
            check_limits(bomb)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


def test_a_workbook_of_many_small_parts_is_refused_on_the_directory(unit, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ZIP_MEMBERS", 20)
    src = small_xlsx(tmp_path / "small.xlsx")
    many = rewritten(src, tmp_path / "many.xlsx", {f"xl/media/{n}.bin": b"" for n in range(30)})

    with pytest.raises(ImportRefused, match="an XLSX import may have at most 20"):
        check_limits(many)


# --- 2. DTD and entity declarations -------------------------------------------------------


def test_an_xlsx_declaring_a_dtd_and_an_entity_is_refused_at_every_door(
    manager_client, unit, tmp_path, asset_manager, never_opened
):
    hostile = with_declarations(tmp_path)

    assert_page_refuses(via_page(manager_client, hostile), DECLARATIONS)
    assert_nothing_written()
    code, err = via_command(hostile)
    assert code == 2 and DECLARATIONS in err
    assert_nothing_written()
    assert_run_refuses(via_run(hostile, asset_manager), DECLARATIONS)


def test_declarations_in_a_utf16_part_are_found_too(unit, tmp_path):
    with pytest.raises(ImportRefused, match="XML declarations"):
        check_limits(with_declarations(tmp_path, encoding="UTF-16"))


def test_a_declaration_split_between_two_reads_is_found(unit, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "CHUNK", 7)  # "<!DOCTYPE" cannot fit in one read
    with pytest.raises(ImportRefused, match="XML declarations"):
        check_limits(with_declarations(tmp_path))


def test_the_declaration_scan_reads_a_large_part_in_bounded_chunks(unit, tmp_path):
    # A 40 MB part (under the expansion limit) with an entity declaration at its end.
    def write(member):
        member.write(b'<?xml version="1.0"?><sst><si><t>')
        for _ in range(40):
            member.write(b"B" * (1 << 20))
        member.write(b'</t></si><!ENTITY late "x"></sst>')

    src = small_xlsx(tmp_path / "small.xlsx")
    big = rewritten(src, tmp_path / "big.xlsx", {"xl/sharedStrings.xml": write})
    tracemalloc.start()
    try:
        with pytest.raises(ImportRefused, match="XML declarations"):
            check_limits(big)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


# --- 3. too many rows ---------------------------------------------------------------------


def test_too_many_rows_is_refused_at_every_door(
    manager_client, unit, tmp_path, asset_manager, settings
):
    settings.IMPORT_MAX_ROWS = 3
    four = csv_rows(tmp_path, 4)

    assert_page_refuses(via_page(manager_client, four), "more than 3 rows", "at most 3")
    assert_nothing_written()
    code, err = via_command(four)
    assert code == 2 and "more than 3 rows" in err
    assert_nothing_written()
    # The import's own first pass counts exactly, whatever let the file through.
    assert_run_refuses(via_run(four, asset_manager), "more than 3 rows")


def test_too_many_rows_in_an_xlsx_is_refused_on_the_page(manager_client, unit, tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 3
    assert_page_refuses(
        via_page(manager_client, small_xlsx(tmp_path / "four.xlsx", rows=4)), "more than 3 rows"
    )
    assert_nothing_written()


def test_rows_at_the_limit_are_counted_exactly_not_by_line(
    manager_client, unit, tmp_path, settings, django_capture_on_commit_callbacks
):
    # Three rows whose quoted cells hold line breaks: seven lines, three rows.
    settings.IMPORT_MAX_ROWS = 3
    rows = [device_row(serial_number=f"SN-{n}", location="Floor 2\nDesk 4") for n in range(3)]
    path = text_file(tmp_path / "three.csv", rows, header=HEADER)
    assert path.read_bytes().count(b"\n") > 4

    with django_capture_on_commit_callbacks(execute=True):
        response = via_page(manager_client, path)

    assert response.status_code == 302
    assert ImportRun.objects.get().rows_total == 3


# --- 4. too many bytes ----------------------------------------------------------------------


def test_a_file_past_the_size_limit_is_refused_while_it_arrives(
    manager_client, unit, tmp_path, settings
):
    settings.IMPORT_MAX_UPLOAD_BYTES = 2048
    big = csv_rows(tmp_path, 40)
    assert big.stat().st_size > 4096

    response = via_page(manager_client, big)

    assert_page_refuses(response, "larger than 2 KB")
    assert_nothing_written()


def test_a_file_past_the_size_limit_is_refused_by_the_command_and_the_run(
    unit, tmp_path, asset_manager, settings
):
    settings.IMPORT_MAX_UPLOAD_BYTES = 2048
    big = csv_rows(tmp_path, 40)

    code, err = via_command(big)
    assert code == 2 and "at most 2 KB" in err
    assert_nothing_written()
    assert_run_refuses(via_run(big, asset_manager), "at most 2 KB")


def test_the_upload_page_states_the_limits(manager_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 5 * 1024 * 1024
    settings.IMPORT_MAX_ROWS = 250_000
    page = manager_client.get(IMPORT).content.decode()
    assert "At most 5 MB and 250,000 rows" in page and "expand to at most 100 MB" in page


def test_the_upload_still_needs_the_csrf_token(client, asset_manager, unit, tmp_path):
    # The page installs its upload limit before the CSRF check reads the body; the
    # check itself still runs.
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(asset_manager)
    response = via_page(strict, csv_rows(tmp_path, 1))
    assert response.status_code == 403
    assert_nothing_written()


# --- 5. traversal and markup in file names --------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.csv", "passwd.csv"),
        ("..\\..\\windows\\win.ini.csv", "win.ini.csv"),
        ("<img src=x onerror=alert(1)>.csv", "<img src=x onerror=alert(1)>.csv"),
    ],
)
def test_a_path_or_markup_in_the_file_name_is_stored_and_shown_safely(
    manager_client, unit, tmp_path, sent, kept, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = via_page(manager_client, csv_rows(tmp_path, 1), name=sent)
    assert response.status_code == 302

    run = ImportRun.objects.get()
    assert run.file_name == kept
    media = Path(settings.MEDIA_ROOT).resolve()
    stored = Path(run.file.path).resolve()
    assert stored.is_relative_to(media / "imports" / "uploads") and stored.is_file()
    escaped = kept.replace("<", "&lt;").replace(">", "&gt;")
    for url in (IMPORT, f"{IMPORT}{run.pk}/"):
        page = manager_client.get(url).content.decode()
        assert escaped in page
        assert "<img src=x" not in page and "../" not in page.split("<main", 1)[-1]


# --- 6. formula cells in the error report ---------------------------------------------------

FORMULAS = {
    "purchase_date": '=HYPERLINK("http://evil.example","click")',
    "category": "+1+1",
    "status": "@SUM(1)",
    "location": "=1+1",
    "purchase_cost": "-2+3",
}


def _report_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("commercial", [False, True], ids=["asset-manager", "commercial"])
def test_formula_cells_are_neutralised_in_the_error_report(
    client, make_user, unit, tmp_path, commercial, django_capture_on_commit_callbacks
):
    from accounts.roles import Role

    user = make_user(Role.ASSET_MANAGER, is_superuser=commercial)
    client.force_login(user)
    row = device_row(**FORMULAS, serial_number="=cmd|' /C calc'!A0")
    path = text_file(tmp_path / "formulas.csv", [row], header=HEADER)
    with django_capture_on_commit_callbacks(execute=True):
        via_page(client, path)
    run = ImportRun.objects.get()

    response = client.get(f"{IMPORT}{run.pk}/errors.csv")

    rows = _report_rows(response)
    assert rows[1] == ["row", "column", "value", "reason"]
    assert {r[1] for r in rows[2:]} == {"purchase_date", "category", "status", "purchase_cost"}
    for cells in rows[2:]:
        for cell in cells:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cells
    values = {r[1]: r[2] for r in rows[2:]}
    assert values["purchase_date"] == "'" + FORMULAS["purchase_date"]
    assert values["purchase_cost"] == ("'-2+3" if commercial else "withheld (commercial)")
    assert not Device.objects.exists()


# --- 7. markup in every free-text column ----------------------------------------------------

MARKUP = {
    "serial_number": "<b>SN</b><script>alert(1)</script>",
    "asset_tag": "<img src=x onerror=alert(2)>",
    "manufacturer": "<svg onload=alert(3)>",
    "model": "<iframe src=javascript:alert(4)>",
    "location": "<script>alert(5)</script>",
    "os_version": '"><script>alert(6)</script>',
}
REFUSED_MARKUP = {
    "business_unit": "<script>alert(7)</script>",
    "assigned_to": "<script>alert(8)</script>",
    "purchase_date": "<script>alert(9)</script>",
    "status": "<script>alert(10)</script>",
}


def test_markup_in_every_free_text_column_is_escaped_on_the_pages(
    manager_client, unit, tmp_path, django_capture_on_commit_callbacks
):
    header = [*HEADER, "<script>alert(11)</script>"]
    rows = [device_row(**MARKUP), device_row(serial_number="SN-2", **REFUSED_MARKUP)]
    path = text_file(tmp_path / "markup.csv", rows, header=header)
    with django_capture_on_commit_callbacks(execute=True):
        via_page(manager_client, path)
    run = ImportRun.objects.get()
    device = Device.objects.get()
    assert device.location == MARKUP["location"]  # stored as written

    pages = {
        "summary": manager_client.get(f"{IMPORT}{run.pk}/").content.decode(),
        "list": manager_client.get("/devices/").content.decode(),
        "device": manager_client.get(f"/devices/{device.pk}/").content.decode(),
    }

    payloads = [*MARKUP.values(), *REFUSED_MARKUP.values(), header[-1]]
    for name, page in pages.items():
        for payload in payloads:
            assert payload not in page, (name, payload)
        for tag in ("<svg", "<iframe", "<img src=x", "<b>SN", "<script>alert("):
            assert tag not in page, (name, tag)
    summary = pages["summary"]
    assert "&lt;script&gt;alert(7)&lt;/script&gt;" in summary  # an error quoting the unit
    assert "&lt;script&gt;alert(11)&lt;/script&gt;" in summary  # the unknown column's name
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in pages["device"]


# --- 8. purchase costs in the error report --------------------------------------------------


def test_the_error_report_withholds_costs_and_says_what_it_carries(
    client, make_user, unit, tmp_path, caplog, django_capture_on_commit_callbacks
):
    from accounts.roles import Role

    manager = make_user(Role.ASSET_MANAGER)
    client.force_login(manager)
    rows = [
        device_row(serial_number="SN-1", purchase_cost="99,999,999,999"),
        device_row(serial_number="SN-2", purchase_cost="  -1,234.56  "),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        via_page(client, text_file(tmp_path / "costs.csv", rows, header=HEADER))
    run = ImportRun.objects.get()

    response = client.get(f"{IMPORT}{run.pk}/errors.csv")
    assert response["X-Classification"] == "OFFICIAL"
    text = response.content.decode("utf-8-sig")
    summary = client.get(f"{IMPORT}{run.pk}/").content.decode()
    for shown in (text, summary):
        for figure in ("99,999,999,999", "99999999999", "1,234.56", "1234.56"):
            assert figure not in shown, figure
    assert "is too large" in text and "is negative" in text

    caplog.set_level(logging.INFO, logger="security")
    client.force_login(make_user(Role.ASSET_MANAGER, is_superuser=True))
    response = client.get(f"{IMPORT}{run.pk}/errors.csv")
    assert response["X-Classification"] == "OFFICIAL-SENSITIVE [COMMERCIAL]"
    assert "99,999,999,999" in response.content.decode("utf-8-sig")
    logged = [
        json.loads(JsonLineFormatter().format(r)) for r in caplog.records if r.name == "security"
    ]
    assert [line["path"] for line in logged if line["event"] == "commercial_export"] == [
        f"{IMPORT}{run.pk}/errors.csv"
    ]


def test_an_error_report_without_costs_is_marked_official_for_everyone(
    client, make_user, unit, tmp_path, django_capture_on_commit_callbacks
):
    from accounts.roles import Role

    client.force_login(make_user(Role.ASSET_MANAGER, is_superuser=True))
    rows = [device_row(serial_number="SN-1", purchase_date="31/02/2024")]
    with django_capture_on_commit_callbacks(execute=True):
        via_page(client, text_file(tmp_path / "dates.csv", rows, header=HEADER))
    run = ImportRun.objects.get()

    response = client.get(f"{IMPORT}{run.pk}/errors.csv")

    assert response["X-Classification"] == "OFFICIAL"
    assert response.content.decode("utf-8-sig").startswith("Classification: OFFICIAL\r\n")
