"""Turning raw cell values into typed values, or a reason they are refused.

Every parser takes what a file or the API gives (``str`` from CSV, a JSON
scalar from the API, ``int``/``float``/``datetime`` from an XLSX cell) and
returns the typed value or raises ``ValueProblem`` with a message a user can
act on. Nothing here guesses: a date is ISO 8601 or UK day/month/year (never
US), money is plain or comma-grouped pounds with at most two decimals, and a
serial is the exact text (leading zeros kept), never a number Excel mangled.

The parsers are on the import's hot path (a million rows), so repeated values
(dates, costs, statuses) are memoised in small dictionaries.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from devices.models import Category, Device

LONDON = ZoneInfo("Europe/London")

# Text limits mirror the Device columns so a row never fails at the database.
MAX_LENGTH = {
    "serial_number": 100,
    "asset_tag": 64,
    "manufacturer": 100,
    "model": 200,
    "location": 200,
    "os_version": 100,
    "business_unit": 32,
    "assigned_to": 32,
}

# Purchase cost is DecimalField(max_digits=12, decimal_places=2).
MAX_MONEY = Decimal("9999999999.99")


class ValueProblem(ValueError):
    """A cell value that cannot be used; the message says why."""


class CellProblem:
    """A cell the reader already knows is unusable (e.g. an XLSX serial stored as
    a number in scientific notation). Parsers raise its message."""

    __slots__ = ("message", "shown")

    def __init__(self, message: str, shown: str = ""):
        self.message = message
        self.shown = shown

    def __str__(self) -> str:
        return self.shown


def shown(value) -> str:
    """How a raw value is quoted back in an error report."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- text and serials

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")


def parse_text(value, field: str) -> str:
    """Plain text, stripped. Numbers from JSON/XLSX become their digits."""
    if value is None:
        return ""
    if isinstance(value, CellProblem):
        raise ValueProblem(value.message)
    if isinstance(value, bool):
        raise ValueProblem("must be text, not true/false")
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueProblem("must be text, not a decimal number")
        value = str(int(value))
    elif not isinstance(value, str):
        raise ValueProblem("must be text")
    text = value.strip()
    if _CONTROL.search(text):
        raise ValueProblem("contains a control character (a tab, line break or similar)")
    limit = MAX_LENGTH.get(field)
    if limit and len(text) > limit:
        raise ValueProblem(f"is longer than {limit} characters")
    return text


def parse_identifier(value, field: str) -> str:
    """A serial number or asset tag: exact text, leading zeros kept.

    A value that looks like Excel's scientific notation (``6.37702E+15``) is what
    is left of a long serial after the file was opened in Excel and saved: the
    real digits are gone, so it is refused rather than stored wrongly.
    """
    if isinstance(value, float):
        # A float from JSON or a spreadsheet is already a mangled serial.
        raise ValueProblem(
            "is a number, not text; a serial or asset tag must be sent as text "
            "so leading zeros and long digit runs survive"
        )
    text = parse_text(value, field)
    if text and _SCIENTIFIC.match(text):
        raise ValueProblem(
            f"looks like Excel scientific notation ({text}): the real digits were lost "
            "when the file was saved from Excel; export the column as text"
        )
    return text


# ---------------------------------------------------------------- dates and times

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_date_cache: dict[str, dt.date] = {}


def _date_from_text(text: str) -> dt.date:
    cached = _date_cache.get(text)
    if cached is not None:
        return cached
    match = _ISO_DATE.match(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
        try:
            result = dt.date(year, month, day)
        except ValueError:
            raise ValueProblem(f"{text} is not a real date (YYYY-MM-DD)") from None
    else:
        match = _UK_DATE.match(text)
        if not match:
            raise ValueProblem(
                f"{text} is not a date: use YYYY-MM-DD or day/month/year (DD/MM/YYYY)"
            )
        day, month, year = (int(g) for g in match.groups())
        if month > 12 and day <= 12:
            raise ValueProblem(
                f"{text} looks like a US month/day/year date; dates are read as UK "
                "day/month/year (or use YYYY-MM-DD)"
            )
        try:
            result = dt.date(year, month, day)
        except ValueError:
            raise ValueProblem(f"{text} is not a real day/month/year date") from None
    if len(_date_cache) < 50_000:
        _date_cache[text] = result
    return result


def parse_date(value) -> dt.date | None:
    """ISO 8601 (``2024-01-13``) or UK (``13/01/2024``); ``01/13/2024`` is refused.

    A datetime (an XLSX date cell converted by the reader) gives its date.
    """
    if value is None:
        return None
    if isinstance(value, CellProblem):
        raise ValueProblem(value.message)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueProblem("must be a date as text (YYYY-MM-DD or DD/MM/YYYY)")
    text = value.strip()
    if not text:
        return None
    return _date_from_text(text)


_UK_DATETIME = re.compile(r"^(\d{1,2}/\d{1,2}/\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_datetime(value) -> dt.datetime | None:
    """ISO 8601 date-time (with or without offset), UK ``DD/MM/YYYY HH:MM[:SS]``,
    or a date alone (midnight). Times without an offset are UK local time;
    the result is always aware (stored in UTC)."""
    if value is None:
        return None
    if isinstance(value, CellProblem):
        raise ValueProblem(value.message)
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        match = _UK_DATETIME.match(text)
        if match:
            day = _date_from_text(match.group(1))
            try:
                result = dt.datetime.combine(
                    day,
                    dt.time(int(match.group(2)), int(match.group(3)), int(match.group(4) or 0)),
                )
            except ValueError:
                raise ValueProblem(f"{text} has an impossible time") from None
        elif _UK_DATE.match(text) or _ISO_DATE.match(text):
            result = dt.datetime.combine(_date_from_text(text), dt.time())
        else:
            try:
                result = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueProblem(
                    f"{text} is not a date-time: use ISO 8601 (2024-05-01T09:30:00Z) "
                    "or DD/MM/YYYY HH:MM"
                ) from None
    else:
        raise ValueProblem("must be a date-time as text (ISO 8601)")
    if result.tzinfo is None:
        result = result.replace(tzinfo=LONDON)
    return result.astimezone(dt.UTC)


# ---------------------------------------------------------------- money

_MONEY = re.compile(r"^£?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")
_money_cache: dict[str, Decimal] = {}


def parse_money(value) -> Decimal | None:
    """Pounds as ``1234.56``, ``1,234.56`` or ``£1,234.56`` into an exact Decimal.

    Anything a reader could take two ways is refused: ``1.234,56`` and ``12,34``
    (European decimal comma), negatives, and more than two decimal places. A cost
    is commercial, so a refusal never quotes it (the error report's value column
    does, and is withheld from those who may not see costs).
    """
    if value is None:
        return None
    if isinstance(value, CellProblem):
        raise ValueProblem(value.message)
    if isinstance(value, bool):
        raise ValueProblem("must be an amount in pounds")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        # repr() of a float is the shortest text that round-trips, which is what
        # the spreadsheet showed; more than 2 decimals means it was not money.
        text = repr(value)
        if "e" in text or "E" in text:
            raise ValueProblem("is not an amount in pounds")
        amount = Decimal(text)
        if amount.as_tuple().exponent < -2:
            raise ValueProblem("has more than two decimal places")
    elif isinstance(value, Decimal):
        amount = value
        if amount.as_tuple().exponent < -2:
            raise ValueProblem("has more than two decimal places")
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        cached = _money_cache.get(text)
        if cached is not None:
            return cached
        match = _MONEY.match(text)
        if not match:
            if text.startswith(("-", "£-", "(")) or text.endswith("-"):
                raise ValueProblem("is negative; a cost cannot be below zero")
            raise ValueProblem(
                "is not an unambiguous amount in pounds: use 1234.56, 1,234.56 or "
                "£1,234.56 (comma for thousands, point for pence, at most two decimals)"
            )
        whole, pence = match.groups()
        amount = Decimal(whole.replace(",", "") + ("." + pence if pence else ""))
        if len(_money_cache) < 50_000:
            _money_cache[text] = amount
    else:
        raise ValueProblem("must be an amount in pounds")
    if amount < 0:
        raise ValueProblem("is negative; a cost cannot be below zero")
    if amount > MAX_MONEY:
        raise ValueProblem(f"is too large (at most £{MAX_MONEY:,})")
    return amount.quantize(Decimal("0.01"))


# ---------------------------------------------------------------- choices


def _key(text: str) -> str:
    return re.sub(r"[\s\-/]+", "_", text.strip().lower())


STATUS_ALIASES: dict[str, str] = {}
for _value, _label in Device.Status.choices:
    STATUS_ALIASES[_key(_value)] = _value
    STATUS_ALIASES[_key(_label)] = _value
# Words other tools use for the same states (Snipe-IT's default status labels,
# ITSM "in use"). Anything else is refused, never guessed.
STATUS_ALIASES.update(
    {
        "in_use": Device.Status.DEPLOYED,
        "assigned": Device.Status.DEPLOYED,
        "ready_to_deploy": Device.Status.IN_STOCK,
        "deployable": Device.Status.IN_STOCK,
        "pending": Device.Status.IN_STOCK,
        "stock": Device.Status.IN_STOCK,
        "out_for_repair": Device.Status.IN_REPAIR,
        "out_for_diagnostics": Device.Status.IN_REPAIR,
        "repair": Device.Status.IN_REPAIR,
        "lost": Device.Status.LOST_STOLEN,
        "stolen": Device.Status.LOST_STOLEN,
        "lost_stolen": Device.Status.LOST_STOLEN,
        "archived": Device.Status.RETURNED,
        "broken_not_fixable": Device.Status.AWAITING_SANITISATION,
    }
)

CATEGORY_ALIASES: dict[str, str] = {}
for _value, _label in Category.choices:
    CATEGORY_ALIASES[_key(_value)] = _value
    CATEGORY_ALIASES[_key(_value) + "s"] = _value
    CATEGORY_ALIASES[_key(_label)] = _value
CATEGORY_ALIASES.update(
    {
        "notebook": Category.LAPTOP,
        "notebooks": Category.LAPTOP,
        "mobile": Category.SMARTPHONE,
        "mobile_phone": Category.SMARTPHONE,
        "mobile_phones": Category.SMARTPHONE,
        "phone": Category.SMARTPHONE,
        "phones": Category.SMARTPHONE,
        "tablet": Category.TABLET,
    }
)
_choice_cache: dict[tuple[str, str], str] = {}


def parse_choice(value, field: str) -> str:
    """A status or category by its value or label, case- and space-insensitive."""
    if value is None:
        return ""
    if isinstance(value, CellProblem):
        raise ValueProblem(value.message)
    if not isinstance(value, str):
        raise ValueProblem("must be text")
    cached = _choice_cache.get((field, value))
    if cached is not None:
        return cached
    text = value.strip()
    if not text:
        return ""
    aliases = STATUS_ALIASES if field == "status" else CATEGORY_ALIASES
    result = aliases.get(_key(text))
    if result is None:
        allowed = Device.Status.values if field == "status" else Category.values
        raise ValueProblem(f"{text!r} is not a known {field}: use one of {', '.join(allowed)}")
    result = str(result)
    if len(_choice_cache) < 10_000:
        _choice_cache[(field, value)] = result
    return result
