"""Writes of the estate import: the shared upsert and the import runs."""

from __future__ import annotations

from devices.importing.upsert import (
    CANONICAL_COLUMNS,
    MODES,
    REQUIRED_COLUMNS,
    Lookups,
    RowResult,
    UpsertOutcome,
    upsert_batch,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "MODES",
    "REQUIRED_COLUMNS",
    "RowResult",
    "UpsertOutcome",
    "devices_upsert_rows",
]


def devices_upsert_rows(
    *,
    rows: list[dict[str, object]],
    actor,
    source: str,
    mode: str = "valid-rows",
    dry_run: bool = False,
) -> UpsertOutcome:
    """Create or update devices from rows keyed by the import's column names.

    The estate's one upsert, used by the file importer and the API's bulk
    endpoint (issue 3: "the same rules as the importer"). Devices match on
    manufacturer (case-insensitive) + exact serial number; the asset tag is
    unique too. Unknown makers/models are created (category from the row); an
    unknown business unit or staff number, a status move the status machine
    forbids (``ALLOWED_TRANSITIONS``), an assignment outside deployed/in repair,
    an asset tag already on another device, a unit outside the actor's scope and
    a key repeated in ``rows`` are row errors naming the field.

    Every created or changed device gets an ``imported``/``updated`` event with
    ``source`` and the changed fields old → new, and its ``version`` increments;
    unchanged rows write nothing, so repeating a call is a no-op.

    A column absent from a row leaves that field alone; present but blank
    clears it (except ``status`` and ``asset_tag``, which blank leaves as they
    are). ``mode="valid-rows"`` writes the good rows; ``"all-or-nothing"`` writes
    nothing if any row has an error. ``dry_run`` validates and counts only. Runs
    in one transaction (a savepoint if the caller has one open). Results carry
    ``index`` = position in ``rows``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    return upsert_batch(
        rows=rows,
        indexes=None,
        actor=actor,
        source=source,
        mode=mode,
        dry_run=dry_run,
        lookups=Lookups(actor=actor),
    )
