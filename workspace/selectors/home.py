"""What each role's landing page shows besides its "For you" list: the estate
dashboard (asset managers, unit viewers) or the envelope summary (finance and
commercial officers). Each figure comes from its owning app's selector."""

from __future__ import annotations

from accounts.roles import Role, has_role, user_roles
from devices import selectors as device_selectors
from devices.models import Device
from devices.status_colours import chart_fill
from procurement import selectors as procurement_selectors

# The headline cards on the estate dashboard, in the order shown.
HEADLINE_STATUSES = [
    Device.Status.DEPLOYED,
    Device.Status.IN_STOCK,
    Device.Status.IN_REPAIR,
    Device.Status.AWAITING_SANITISATION,
]


def lands_on_envelope(user) -> bool:
    """Finance and commercial officers land on the envelope; a user who also manages
    the estate (and a superuser) lands on the estate dashboard."""
    if user.is_superuser:
        return False
    roles = user_roles(user)
    return bool(roles & {Role.FINANCE, Role.COMMERCIAL}) and Role.ASSET_MANAGER not in roles


def estate_dashboard(*, user) -> dict:
    """The estate's devices by category and status in the user's units, as headline
    cards, a chart's data and its table (``devices.selectors.estate_counts``)."""
    counts = device_selectors.estate_counts(user=user)
    statuses = dict(counts["statuses"])
    headlines = [{"label": "Devices in total", "value": counts["total"], "key": "total"}] + [
        {"label": statuses[s], "value": counts["totals"][s], "key": s.value}
        for s in HEADLINE_STATUSES
    ]
    chart = {
        "labels": [row["label"] for row in counts["rows"]],
        "datasets": [
            {
                "label": label,
                "data": [row["by_status"][value] for row in counts["rows"]],
                "color": chart_fill(value),
            }
            for value, label in counts["statuses"]
        ],
    }
    return {
        "counts": counts,
        "headlines": headlines,
        "chart": chart,
        "scope_units": device_selectors.scope_unit_names(user=user),
    }


def envelope_summary(*, user) -> dict | None:
    """The envelope's headroom in one sum and one signal per financial year, from the
    one headroom selector the envelope page uses (``procurement.selectors.headroom``).
    None when no envelope is recorded, or for a user who may not see its money."""
    if not has_role(user, Role.FINANCE, Role.COMMERCIAL):
        return None
    position = procurement_selectors.headroom(user=user)
    if position["envelope"] is None:
        return None
    return {
        "envelope": position["envelope"],
        "total": position["total"],
        "committed": position["committed"],
        "outstanding": position["outstanding"],
        "headroom": position["headroom"],
        "over_budget": position["over_budget"],
        "years": position["years"],
    }
