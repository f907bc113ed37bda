"""Named column mappings: which headers of another tool's export feed which of
the import's columns.

Headers are compared after normalising (lower case, runs of anything that is
not a letter or digit become one ``_``), so "Serial Number", "serial-number"
and " SERIAL_NUMBER " are one header. Each canonical column lists the headers
that may feed it, in priority order: when a file has several, the first wins
and the others are reported in the warnings, never silently merged.

``snipe-it`` reads both Snipe-IT's asset export (Admin > Export, or a custom
asset report) and Snipe-IT's own import template (``sample_csvs/assets-sample.csv``
in Snipe-IT: Company, Name, Asset Tag, Category, Supplier, Manufacturer, Location,
Order Number, Model, Model Notes, Model Number, Asset Notes, Purchase Date, Purchase
Cost, Checkout Type, Checked Out To: Username / First Name / Last Name / Email /
Location), with the header aliases Snipe-IT's importer itself accepts ("Serial
Number", "Serial No.", "Model Name", "Username", "Last Audit"...). The template has
no serial column: its rows match devices by asset tag, and a tag no device carries
creates a device recorded without a serial number. Snipe-IT has no business
units, so the custom field "Business Unit" is used when the file has it, otherwise
**Company** (Snipe-IT's organisational unit) is read as the business unit: its
value may be a unit's code or its exact name. People are matched by staff number:
"Employee Number" / "Employee No." when present, otherwise the Snipe-IT username
("Checked Out To: Username", "Username"), otherwise "Checked Out To" / "Assigned
To", which must then hold the staff number (Snipe-IT usernames are staff numbers
here); a person's name or e-mail never matches, since the tracker keeps no names.
A row checked out to someone with no status column (the template has none) is
deployed, as Snipe-IT shows it. "Last Audit" (the last time someone saw the
device) feeds ``last_seen``. Everything else (ID, Asset Name, Notes, Supplier,
Order Number, Model Number, EOL, Warranty in months...) is reported as not imported.
"""

from __future__ import annotations

import re

from devices.importing.rows import CANONICAL_COLUMNS

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise_header(text: str) -> str:
    return _NON_WORD.sub("_", str(text).replace("\ufeff", "").strip().lower()).strip("_")


MAPPINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "default": {column: (column,) for column in CANONICAL_COLUMNS},
    "snipe-it": {
        "serial_number": ("serial", "serial_number", "serial_no"),
        "asset_tag": ("asset_tag",),
        "manufacturer": ("manufacturer",),
        "model": ("model", "model_name", "asset_model"),
        "category": ("category",),
        "business_unit": ("business_unit", "company"),
        "assigned_to": (
            "employee_number",
            "employee_no",
            "employee_num",
            "checked_out_to_username",
            "username",
            "checked_out_to",
            "assigned_to",
        ),
        "status": ("status", "status_label"),
        "purchase_date": ("purchase_date",),
        "warranty_expires": ("warranty_expires", "warranty_expiration"),
        "purchase_cost": ("purchase_cost", "cost"),
        "location": ("location", "default_location", "checked_out_to_location"),
        "last_seen": ("last_audit", "last_audit_date", "last_seen"),
        "os_version": ("os_version", "operating_system"),
    },
}

# What a row with a holder but no status means, per mapping: Snipe-IT shows an asset
# checked out to someone as deployed, and its import template has no status column.
STATUS_WHEN_ASSIGNED = {"snipe-it": "deployed"}

MAPPING_CHOICES = [
    ("default", "This tracker's columns"),
    ("snipe-it", "Snipe-IT asset export or import template"),
]


def resolve_columns(
    headers: list[str], mapping: str
) -> tuple[dict[str, int], list[str], list[str]]:
    """Match a file's headers to canonical columns.

    Returns ``(positions, unknown, shadowed)``: canonical column -> index in the
    header row; headers no column uses; headers that would also feed a column
    already fed by a higher-priority header.
    """
    if mapping not in MAPPINGS:
        raise KeyError(mapping)
    table = MAPPINGS[mapping]
    normalised = [normalise_header(h) for h in headers]
    positions: dict[str, int] = {}
    used: set[int] = set()
    shadowed: list[str] = []
    for column, sources in table.items():
        for source in sources:
            indexes = [i for i, h in enumerate(normalised) if h == source]
            for i in indexes:
                if column not in positions:
                    positions[column] = i
                    used.add(i)
                else:
                    shadowed.append(headers[i].strip())
                    used.add(i)
    unknown = [headers[i].strip() for i, h in enumerate(normalised) if i not in used and h != ""]
    return positions, unknown, shadowed
