"""The device page's action forms (GOV.UK patterns through ``core.forms``).

Each form knows its device and carries the version the page was read at, so an
action taken on a page someone else has since changed is refused with a message
rather than applied to a device in a state its user did not see. Each has a fixed
prefix (the action's name) so several can sit on one page with distinct ids.
Rules are the services' business: a form only checks what was typed.
"""

from __future__ import annotations

from django import forms

from core.forms import GovukFormMixin
from devices.lifecycle import LOSS_CIRCUMSTANCES, NOTE_MAX_LENGTH
from devices.models import Device, Person
from workspace.selectors.device import pending_at_check


class GovukRadioSelect(forms.RadioSelect):
    """Radios whose field label points at the first radio, so the error summary's
    link lands on it (the GOV.UK pattern)."""

    def id_for_label(self, id_, index=None):
        return super().id_for_label(id_, "0" if index is None else index)


STALE = (
    "This device has changed since you opened the page: check its status and "
    "timeline, then try again."
)


def _text(label: str, *, required: bool = True, help_text: str = "", rows: int = 3, **kw):
    return forms.CharField(
        label=label,
        required=required,
        max_length=NOTE_MAX_LENGTH,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
        error_messages={
            "max_length": f"{label} must be {NOTE_MAX_LENGTH:,} characters or fewer",
            **kw.pop("error_messages", {}),
        },
        **kw,
    )


class DeviceActionForm(GovukFormMixin, forms.Form):
    """The base: the device, the acting user, and the version the page showed."""

    action = ""
    version = forms.CharField(required=False, widget=forms.HiddenInput, max_length=20)

    def __init__(self, *args, device: Device, user, **kwargs):
        kwargs.setdefault("prefix", self.action)
        kwargs.setdefault("initial", {}).setdefault("version", device.version)
        super().__init__(*args, **kwargs)
        self.device = device
        self.user = user

    def clean(self):
        cleaned = super().clean()
        version = (cleaned.get("version") or "").strip()
        if version and version != str(self.device.version):
            raise forms.ValidationError(STALE, code="stale")
        return cleaned

    def details(self) -> list[tuple[str, str]]:
        """What the confirmation page repeats back: (label, value) pairs."""
        out = []
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.HiddenInput):
                continue
            value = self.cleaned_data.get(name)
            if isinstance(field, forms.ChoiceField):
                value = dict(field.choices).get(value, value)
            out.append((str(field.label), str(value) if value not in (None, "") else "Not given"))
        return out


class PersonChoiceMixin:
    """A person typed by staff number, found only among the people in the user's
    units (anyone else reads as not found, whether or not they exist)."""

    def clean_staff_number(self):
        typed = (self.cleaned_data.get("staff_number") or "").strip()
        people = Person.objects.visible_to(self.user).select_related("role_profile")
        person = (
            people.filter(staff_number=typed).first()
            or people.filter(staff_number=typed.upper()).first()
        )
        if person is None:
            raise forms.ValidationError(
                f"No one with staff number {typed} in your business units: check the number",
                code="not_found",
            )
        self.person = person
        return person.staff_number


STAFF_NUMBER_HELP = "As on their warrant card or staff pass, for example N0012345."


class DeployForm(PersonChoiceMixin, DeviceActionForm):
    action = "deploy"
    staff_number = forms.CharField(
        label="Staff number of the person receiving it",
        max_length=32,
        help_text=STAFF_NUMBER_HELP,
        error_messages={"required": "Enter the staff number of the person receiving it"},
    )
    note = _text("Note (optional)", required=False, rows=2)


class ReassignForm(PersonChoiceMixin, DeviceActionForm):
    action = "reassign"
    staff_number = forms.CharField(
        label="Staff number of the new holder",
        max_length=32,
        help_text=STAFF_NUMBER_HELP,
        error_messages={"required": "Enter the staff number of the new holder"},
    )


class ReturnForm(DeviceActionForm):
    action = "return"
    destination = forms.ChoiceField(
        label="Where is it going?",
        widget=GovukRadioSelect,
        error_messages={"required": "Choose where the device is going"},
    )
    reason = _text(
        "Why is it being returned?",
        help_text="For example: holder left the force, replaced by a refresh swap.",
        error_messages={"required": "Enter why the device is being returned"},
    )

    def __init__(self, *args, destinations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["destination"].choices = destinations
        if len(destinations) == 1:
            self.fields["destination"].initial = destinations[0][0]


class RepairForm(DeviceActionForm):
    action = "repair"
    fault = _text(
        "What is wrong with it?",
        help_text="The fault as reported, for example: cracked screen, will not charge.",
        error_messages={"required": "Enter what is wrong with the device"},
    )


class RepairDoneForm(DeviceActionForm):
    action = "repair_done"
    note = _text("What was done (optional)", required=False, rows=2)


class LostForm(DeviceActionForm):
    action = "lost"
    circumstance = forms.ChoiceField(
        label="Was it lost or stolen?",
        choices=list(LOSS_CIRCUMSTANCES.items()),
        widget=GovukRadioSelect,
        error_messages={"required": "Choose whether the device was lost or stolen"},
    )
    reference = forms.CharField(
        label="Crime or incident reference (optional)",
        required=False,
        max_length=100,
        error_messages={
            "max_length": "Crime or incident reference must be 100 characters or fewer"
        },
    )
    note = _text(
        "What happened?",
        help_text="When and where it was last seen, and who reported it.",
        error_messages={"required": "Enter what happened"},
    )


class FoundForm(DeviceActionForm):
    action = "found"
    note = _text(
        "Where and how was it found?",
        error_messages={"required": "Enter where and how the device was found"},
    )


class NoteForm(DeviceActionForm):
    action = "note"
    note = _text(
        "Note",
        help_text="Goes on the device's timeline with your name and the time. Notes cannot be "
        "edited: add another to correct one.",
        error_messages={"required": "Enter the note"},
    )


class ATCheckForm(DeviceActionForm):
    action = "at_check"
    check = forms.CharField(required=False, widget=forms.HiddenInput, max_length=20)
    note = _text(
        "What did you check?",
        help_text="For example: screen reader and magnifier tested with the holder; both work.",
        error_messages={"required": "Enter what you checked"},
    )

    def clean(self):
        cleaned = super().clean()
        check = pending_at_check(device=self.device, check_id=cleaned.get("check"))
        if check is None:
            raise forms.ValidationError(
                "This AT check is no longer awaiting confirmation: reload the page",
                code="not_pending",
            )
        self.at_check = check
        return cleaned


class DisposalForm(DeviceActionForm):
    action = "disposal"
