"""Reports people read: the page and the PDF open with the headline figures and the
trend and end with what is about the run; labels, never raw keys; previous and change
filled or "—" with a reason; thousands separators on the page, in the PDF and the
XLSX; charts that fit their drawing and colour each status as everywhere else;
"beyond entitlement" per category adding up to the headline."""

import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse
from freezegun import freeze_time
from pypdf import PdfReader

from accounts.roles import Role
from devices.models import Category, Device
from devices.status_colours import chart_fill
from reports import documents, selectors, services
from reports.models import ReportRun
from reports.writers import Chart, ReportDocument, Table
from reports.writers import pdf as pdf_writer
from reports.writers import xlsx as xlsx_writer
from tests.factories import DeviceFactory, PersonFactory
from tests.reports.conftest import PERIOD_END, PERIOD_START, RECORDED

L, M = Category.LAPTOP, Category.MONITOR
D = Device.Status
BIG = 13054


def _document(estate, *, cap=None, previous=True):
    figures = selectors.stewardship_unit_figures(
        unit=estate.a, period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
    )
    before = {"period_start": dt.date(2026, 9, 1), "summary": {"headline": {"devices_held": 15}}}
    return figures, documents.stewardship_document(
        unit=estate.a,
        figures=figures,
        trend_rows=selectors.trend(current=figures["headline"], previous=before),
        previous_label="September 2026" if previous else None,
        period_label="1 October 2026 to 31 October 2026",
        period_end=PERIOD_END,
        idle_days=90,
        generated_at=dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC),
        max_device_rows=cap,
    )


def _pdf_text(document) -> str:
    out = io.BytesIO()
    pdf_writer.write(document, out)
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages)


def test_the_pdf_opens_with_the_trend_and_ends_with_the_run_and_the_row_limit(estate):
    _figures, document = _document(estate, cap=5)
    text = _pdf_text(document)
    order = [
        "Headline figures and trend",
        "Devices by category and status",
        "Lost or stolen in the period",
        "About this report",
        "more than the 5 a report lists",
    ]
    # (The last occurrence: the trend table names the headline figures first.)
    positions = [text.rindex(heading) for heading in order]
    assert positions == sorted(positions)
    assert "Figures as at 23:59 on 31 October 2026" in text
    assert "Devices held" in text and "devices_held" not in text
    assert "Previous: the September 2026 report" in text


def test_thousands_separators_in_the_pdf_and_number_formats_in_the_xlsx():
    document = ReportDocument(
        title="T",
        subject="S",
        marking="OFFICIAL",
        period_label="October 2026",
        generated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        tables=[Table(title="Counts", header=["Category", "Devices"], rows=[["Laptop", BIG]])],
    )
    assert "13,054" in _pdf_text(document)
    out = io.BytesIO()
    xlsx_writer.write(document, out)
    summary = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["Summary"]
    cell = next(c for row in summary.iter_rows() for c in row if c.value == BIG)
    assert cell.number_format == "#,##0"


def test_pdf_charts_fit_their_drawing_and_colour_each_status_as_the_product_does(estate):
    _figures, document = _document(estate)
    for table in document.tables:
        if not table.chart:
            continue
        drawing = pdf_writer._chart(document, table)
        x0, y0, x1, y1 = drawing.getBounds()
        assert x0 >= 0 and y0 >= 0, table.title
        assert x1 <= drawing.width and y1 <= drawing.height, table.title
    status_table = next(t for t in document.tables if t.title == "Devices by category and status")
    statuses = list(next(iter(_figures["by_category_status"].values())))
    chart = next(
        c for c in pdf_writer._chart(document, status_table).contents if hasattr(c, "bars")
    )
    fills = [chart.bars[i].fillColor.hexval()[2:].lower() for i in range(len(statuses))]
    assert fills == [chart_fill(s).lstrip("#").lower() for s in statuses]


def test_a_long_legend_wraps_inside_the_drawing():
    names = [f"A rather long series name {i}" for i in range(9)]
    table = Table(
        title="Wide",
        header=["Category", *names],
        rows=[["Laptop", *range(1, 10)], ["Desktop", *range(9, 0, -1)]],
        chart=Chart(title="Wide", value_columns=list(range(1, 10)), stacked=True),
    )
    document = ReportDocument(
        title="T",
        subject="S",
        marking="OFFICIAL",
        period_label="P",
        generated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        tables=[table],
    )
    drawing = pdf_writer._chart(document, table)
    x0, y0, x1, y1 = drawing.getBounds()
    assert x0 >= 0 and y0 >= 0 and x1 <= drawing.width and y1 <= drawing.height


def test_beyond_entitlement_per_category_adds_up_to_the_headline(estate):
    # B: PB holds 1 laptop; PB2 holds 2 (allowed 1); PB3 none. Pooled, B's three laptops
    # match its three people's entitlement; person by person, one laptop is beyond.
    with freeze_time(RECORDED):
        pb2 = PersonFactory(
            staff_number="PB2", business_unit=estate.b, role_profile=estate.response
        )
        PersonFactory(staff_number="PB3", business_unit=estate.b, role_profile=estate.response)
        DeviceFactory.create_batch(
            2,
            business_unit=estate.b,
            device_model=estate.models[L],
            status=D.DEPLOYED,
            assigned_to=pb2,
        )
    figures = selectors.stewardship_figures(
        period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
    )
    for unit in (estate.a, estate.a1, estate.b):
        fig = figures[unit.pk]
        per_category = sum(v["excess"] for v in fig["entitlement"].values())
        assert per_category == fig["headline"]["devices_over_entitlement"], unit.code
    assert figures[estate.b.pk]["entitlement"][L] == {"in_use": 3, "entitled": 3, "excess": 1}


@pytest.fixture
def lead(make_user, estate):
    return make_user(Role.UNIT_VIEWER, units=[estate.a])


def _figures_only_run(estate, period_start, headline, **summary):
    start, end = selectors.month_period(period_start)
    return ReportRun.objects.create(
        business_unit=estate.a,
        period_start=start,
        period_end=end,
        status=ReportRun.Status.SUCCEEDED,
        trigger=ReportRun.Trigger.DEMO,
        summary={"headline": headline, **summary},
    )


def test_a_figures_only_run_shows_labels_and_its_trend_against_the_previous(client, lead, estate):
    _figures_only_run(estate, dt.date(2026, 8, 1), {"devices_held": 12000, "idle": 4})
    run = _figures_only_run(
        estate,
        dt.date(2026, 9, 1),
        {"devices_held": BIG, "idle": 3, "refresh_due_this_year": 5},
        by_category_status={L: {D.DEPLOYED: BIG}},
    )
    client.force_login(lead)
    page = client.get(reverse("reports:report_detail", args=[run.pk])).content.decode()
    assert "devices_held" not in page and "refresh_due_this_year" not in page
    rows = {
        r["key"]: r
        for r in client.get(reverse("reports:report_detail", args=[run.pk])).context["trend"][
            "rows"
        ]
    }
    assert (rows["devices_held"]["previous"], rows["devices_held"]["change"]) == (12000, 1054)
    assert rows["refresh_due_this_year"]["previous"] is None
    assert "13,054" in page and "12,000" in page and "+1,054" in page
    assert "Compared with the August 2026 report" in page
    assert "Not counted in that report, so shown as —: Due for refresh this financial year" in page


def test_the_first_run_says_why_previous_and_change_are_empty(client, lead, estate):
    run = _figures_only_run(estate, dt.date(2026, 9, 1), {"devices_held": 3})
    client.force_login(lead)
    page = client.get(reverse("reports:report_detail", args=[run.pk])).content.decode()
    assert "No earlier report for this unit: this is the first" in page


def test_the_run_page_opens_with_the_figures_and_ends_with_the_run(
    client, lead, estate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.stewardship_report_unit_run(unit_id=estate.a.pk, period_start=PERIOD_START)
    client.force_login(lead)
    response = client.get(reverse("reports:report_detail", args=[run.pk]))
    page = response.content.decode()
    assert "Figures as at 23:59 on 31 October 2026" in page
    first, about = page.index("Headline figures and trend"), page.index("About this run")
    assert first < page.index("Devices by category and status") < about
    assert about < page.index("Attempts") and about < page.index("Queued")
    datasets = response.context["status_table"]["chart"]["datasets"]
    labels = dict(Device.Status.choices)
    assert {d["label"]: d["color"] for d in datasets} == {
        labels[s]: chart_fill(s) for s in labels if labels[s] in {d["label"] for d in datasets}
    }
    assert page.count('class="app-table-wrapper"') >= 3
