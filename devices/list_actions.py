"""Bulk status moves from the device list: a selection of devices, one action, one
reason, written by ``devices.services.devices_status_move`` (the one set-based mover,
which applies the status rule to every device and writes the events and history).

This module adds what the list's door needs around the mover: only asset managers
move devices, only devices the user can see (anything else is "not found", never
"not yours"), a reason on every move, and a plan that says which selected devices
cannot make the move before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.roles import Role, has_role
from core.errors import DomainError
from devices.models import Device, DeviceEvent
from devices.services import device_status_move_refusal, devices_status_move

# More than a page of the list (100) in one request is not a selection from the page.
MAX_SELECTION = 500
SOURCE = "web:device-list"


@dataclass(frozen=True)
class BulkMove:
    key: str
    label: str  # the button and the confirmation heading
    to_status: str
    kind: str
    done: str  # "3 devices <done>."


S = Device.Status
K = DeviceEvent.Kind
BULK_MOVES: dict[str, BulkMove] = {
    m.key: m
    for m in (
        BulkMove("stock", "Return to stock", S.IN_STOCK, K.RECLAIMED, "returned to stock"),
        BulkMove("repair", "Send to repair", S.IN_REPAIR, K.REPAIR_STARTED, "sent to repair"),
        BulkMove("returned", "Mark as returned", S.RETURNED, K.RETURNED, "recorded as returned"),
        BulkMove(
            "lost", "Mark lost or stolen", S.LOST_STOLEN, K.LOST, "recorded as lost or stolen"
        ),
    )
}
del S, K


def may_move_devices(user) -> bool:
    return has_role(user, Role.ASSET_MANAGER)


def selected_devices(*, user, device_ids: list[int]) -> list[Device]:
    """The selected devices, if the user can see every one of them; otherwise
    ``DomainError(code="not_found")``, the same whether a device is outside the
    user's units or does not exist."""
    ids = list(dict.fromkeys(device_ids))
    if not ids:
        raise DomainError("Select at least one device.", field="device")
    if len(ids) > MAX_SELECTION:
        raise DomainError(f"Select at most {MAX_SELECTION:,} devices at a time.", field="device")
    devices = list(
        Device.objects.visible_to(user)
        .filter(pk__in=ids)
        .select_related("device_model", "manufacturer", "business_unit")
        .order_by("asset_tag", "pk")
    )
    if len(devices) != len(ids):
        raise DomainError(
            "Some selected devices were not found in your units.", field="device", code="not_found"
        )
    return devices


@dataclass
class BulkPlan:
    move: BulkMove
    movable: list[Device]
    refused: list[tuple[Device, str]]  # a device and why it cannot make the move


def bulk_move_plan(*, user, device_ids: list[int], action: str) -> BulkPlan:
    """What ``action`` would do to the selection: the devices that can make the move
    and those that cannot (with the status rule's reason). Writes nothing."""
    move = BULK_MOVES.get(action)
    if move is None:
        raise DomainError("Choose an action.", field="action")
    devices = selected_devices(user=user, device_ids=device_ids)
    movable, refused = [], []
    for device in devices:
        if device.status == move.to_status:
            refused.append((device, f"already {device.get_status_display().lower()}"))
            continue
        refusal = device_status_move_refusal(from_status=device.status, to_status=move.to_status)
        if refusal is None:
            movable.append(device)
        else:
            refused.append((device, refusal.message))
    return BulkPlan(move=move, movable=movable, refused=refused)


def devices_bulk_move(*, user, device_ids: list[int], action: str, reason: str) -> int:
    """Move the selected devices with ``action``, all or none, recording ``reason`` on
    each device's event. Refuses a user who is not an asset manager, a blank reason,
    a device the user cannot see and a device that cannot make the move (the
    mover's status rule; a device someone moved meanwhile is its ``conflict``)."""
    if not may_move_devices(user):
        raise DomainError(
            "Only asset managers change devices' status.", field="action", code="forbidden"
        )
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Enter the reason for the change.", field="reason")
    plan = bulk_move_plan(user=user, device_ids=device_ids, action=action)
    if plan.refused:
        device, why = plan.refused[0]
        more = f" (and {len(plan.refused) - 1} more)" if len(plan.refused) > 1 else ""
        raise DomainError(
            f"{device}: {why}{more}. Leave these out of the selection.",
            field="device",
            code="transition_not_allowed",
        )
    return devices_status_move(
        moves=[(d.pk, d.status) for d in plan.movable],
        to_status=plan.move.to_status,
        kind=plan.move.kind,
        actor=user,
        source=SOURCE,
        details={d.pk: {"reason": reason} for d in plan.movable},
    )
