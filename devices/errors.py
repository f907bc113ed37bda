"""Errors particular to the estate. The general ``DomainError`` lives in ``core.errors``."""

from core.errors import DomainError


class TransitionNotAllowed(DomainError):
    """The device status machine has no move from the device's status to the one asked for."""

    def __init__(self, *, device, to_status: str):
        label = dict(device.Status.choices)
        super().__init__(
            f"Device {device} cannot move from {label.get(device.status, device.status)} "
            f"to {label.get(to_status, to_status)}.",
            field="status",
            code="transition_not_allowed",
        )
        self.from_status = device.status
        self.to_status = to_status
