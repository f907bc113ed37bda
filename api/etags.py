"""ETag / If-Match for optimistic concurrency on devices (``Device.etag``)."""

from __future__ import annotations

from api.exceptions import PreconditionFailed, RequestValidationError


def parse_if_match(header: str | None) -> list[str] | None:
    """The entity tags of an ``If-Match`` header; None when absent, ["*"] for any."""
    if header is None:
        return None
    tags = [t.strip() for t in header.split(",") if t.strip()]
    if not tags:
        raise RequestValidationError({"If-Match": ["Give an ETag from a previous response."]})
    # Weak validators never match for If-Match (RFC 9110 13.1.1), but clients and
    # proxies add W/ freely; our tags are exact versions, so strip it.
    return [t[2:] if t.startswith("W/") else t for t in tags]


def expected_version(device, header: str | None) -> int | None:
    """The version an ``If-Match`` pins the update to, or None for an unconditional one.

    Raises 412 at once if no tag names this device at its current version's id;
    the update itself re-checks the version atomically.
    """
    tags = parse_if_match(header)
    if tags is None or tags == ["*"]:
        return None
    prefix = f'"{device.pk}-'
    for tag in tags:
        if tag.startswith(prefix) and tag.endswith('"'):
            number = tag[len(prefix) : -1]
            if number.isdigit():
                return int(number)
    raise PreconditionFailed()
