import datetime as dt

import pytest

from core.financial_year import LONDON, FinancialYear, financial_year, financial_year_label


def london(*args):
    return dt.datetime(*args, tzinfo=LONDON)


def test_31_march_late_evening_london_is_still_the_old_year():
    # 23:59 BST on 31 March is 22:59 UTC: the year that ends that night.
    assert financial_year_label(london(2026, 3, 31, 23, 59)) == "2025/26"


def test_1_april_just_after_midnight_london_is_the_new_year_though_utc_says_march():
    moment = london(2026, 4, 1, 0, 0)
    assert moment.astimezone(dt.UTC).day == 31  # still 31 March in UTC
    assert financial_year_label(moment) == "2026/27"


@pytest.mark.parametrize(
    ("moment", "label"),
    [
        (london(2026, 3, 29, 0, 59), "2025/26"),  # clocks go forward at 01:00 on 29 March 2026
        (london(2026, 3, 29, 3, 0), "2025/26"),
        (london(2025, 10, 26, 1, 30), "2025/26"),  # clocks go back: 01:30 happens twice
        (dt.datetime(2025, 10, 26, 0, 30, tzinfo=dt.UTC), "2025/26"),
    ],
)
def test_clock_change_days_do_not_move_the_year(moment, label):
    assert financial_year_label(moment) == label


def test_dates_map_on_the_boundary():
    assert financial_year(dt.date(2025, 3, 31)).label == "2024/25"
    assert financial_year(dt.date(2025, 4, 1)).label == "2025/26"


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        financial_year(dt.datetime(2025, 4, 1))  # noqa: DTZ001


def test_parse_and_bounds_round_trip():
    year = FinancialYear.parse("2026/27")
    assert (year.start, year.end, year.label) == (
        dt.date(2026, 4, 1),
        dt.date(2027, 3, 31),
        "2026/27",
    )
    assert FinancialYear.parse("1999/00").label == "1999/00"
    with pytest.raises(ValueError):
        FinancialYear.parse("2026/28")
