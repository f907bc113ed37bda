"""Domain errors raised by the estate's services. Views and the API turn them
into clear messages; they never leave anything half-written."""


class DomainError(Exception):
    """A business rule refused the change. ``field`` names what was wrong, if anything."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class TransitionNotAllowed(DomainError):
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
