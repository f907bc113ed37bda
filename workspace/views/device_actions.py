"""The device page's actions: each a GOV.UK form at ``/devices/<pk>/<action>/``
(GET shows it, POST does it), for asset managers only, on a device in their scope.

Every action calls the estate's (or disposals') services, so every rule applies
here exactly as at the other doors: entitlement on deploy, the status machine,
the AT check confirmed by someone other than the deployer, a disposal case only
for a returned device. Destructive steps (return, lost or stolen, start disposal)
show what will happen and ask for confirmation first. A refusal comes back in the
GOV.UK error summary naming the field; success returns to the device page with a
banner saying exactly what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.roles import Role, require_role
from core import exports
from core.errors import DomainError
from devices import lifecycle
from devices import selectors as device_selectors
from devices import services as device_services
from devices.models import Device, DeviceEvent
from disposals import selectors as disposal_selectors
from disposals import services as disposal_services
from workspace.forms import device as forms
from workspace.selectors.device import device_actions, return_destinations

S = Device.Status


def _label(device: Device) -> str:
    return device.asset_tag or device.serial_number


# --- what each action does (the services decide whether it may) ---------------------


def _deploy(form, device, user) -> str:
    person = form.person
    note = form.cleaned_data.get("note")
    device_services.device_deploy(
        device=device,
        person=person,
        actor=user,
        source="web",
        details={"note": note} if note else None,
    )
    message = f"{_label(device)} deployed to staff number {person.staff_number}."
    if person.at_needs:
        message += (
            " They have assistive-technology needs: an AT check is open until someone other "
            "than you confirms their AT works."
        )
    return message


def _reassign(form, device, user) -> str:
    before = device.assigned_to.staff_number if device.assigned_to_id else "no one"
    device_services.device_deploy(device=device, person=form.person, actor=user, source="web")
    return (
        f"{_label(device)} reassigned from staff number {before} "
        f"to staff number {form.person.staff_number}."
    )


def _return(form, device, user) -> str:
    to_status = form.cleaned_data["destination"]
    kind = DeviceEvent.Kind.RECLAIMED if to_status == S.IN_STOCK else DeviceEvent.Kind.RETURNED
    device_services.device_transition(
        device=device,
        to_status=to_status,
        kind=kind,
        actor=user,
        source="web",
        details={"reason": form.cleaned_data["reason"].strip()},
    )
    if to_status == S.IN_STOCK:
        return f"{_label(device)} returned to stock."
    return f"{_label(device)} recorded as returned: it can now start disposal."


def _repair(form, device, user) -> str:
    device_services.device_transition(
        device=device,
        to_status=S.IN_REPAIR,
        kind=DeviceEvent.Kind.REPAIR_STARTED,
        actor=user,
        source="web",
        details={"fault": form.cleaned_data["fault"].strip()},
    )
    return f"{_label(device)} sent for repair."


def _repair_done(form, device, user) -> str:
    note = (form.cleaned_data.get("note") or "").strip()
    moved = lifecycle.device_repair_finish(
        device=device, actor=user, source="web", details={"note": note} if note else None
    )
    if isinstance(moved, Device) and moved.status == S.DEPLOYED:
        return (
            f"{_label(device)} back from repair and with staff number "
            f"{moved.assigned_to.staff_number} again."
        )
    return f"{_label(device)} back from repair, in stock."


def _lost(form, device, user) -> str:
    data = form.cleaned_data
    lifecycle.device_report_lost(
        device=device,
        actor=user,
        circumstance=data["circumstance"],
        note=data["note"],
        reference=data.get("reference", ""),
    )
    return f"{_label(device)} reported {data['circumstance']}."


def _found(form, device, user) -> str:
    lifecycle.device_found(
        device=device, actor=user, details={"note": form.cleaned_data["note"].strip()}
    )
    return f"{_label(device)} recorded as found: back in stock, to be checked before it is issued."


def _note(form, device, user) -> str:
    lifecycle.device_note_add(device=device, actor=user, note=form.cleaned_data["note"])
    return f"Note added to {_label(device)}'s timeline."


def _at_check(form, device, user) -> str:
    check = form.at_check
    device_services.at_check_confirm(check=check, actor=user, note=form.cleaned_data["note"])
    return (
        f"AT check confirmed: staff number {check.person.staff_number}'s assistive technology "
        f"works on {_label(device)}."
    )


def _disposal(form, device, user) -> str:
    disposal_services.disposal_cases_open(device_ids=[device.pk], actor=user, source="web")
    return f"Disposal case opened for {_label(device)}: it now awaits sanitisation."


@dataclass(frozen=True)
class Action:
    form: type[forms.DeviceActionForm]
    title: str
    button: str
    run: Callable[..., str]
    # Destructive steps: the heading of the page that asks for confirmation.
    # Why it is not offered now, after "<device> is <status>: ".
    not_now: str = ""
    confirm: str = ""
    confirm_button: str = ""
    warning: str = ""
    hint: str = ""


ACTIONS: dict[str, Action] = {
    "deploy": Action(
        forms.DeployForm,
        "Deploy {label}",
        "Deploy",
        _deploy,
        not_now="only a device in stock can be deployed.",
        hint="The person's role sets how many devices of each category they may hold; "
        "a deployment beyond it needs an approved entitlement exception first.",
    ),
    "reassign": Action(
        forms.ReassignForm,
        "Reassign {label}",
        "Reassign",
        _reassign,
        not_now="only a deployed device can be reassigned.",
    ),
    "return": Action(
        forms.ReturnForm,
        "Return {label}",
        "Continue",
        _return,
        not_now="it cannot be returned from there.",
        confirm="Return {label}?",
        confirm_button="Yes, return it",
        warning="The holder is released: the device no longer counts against their entitlement.",
    ),
    "repair": Action(
        forms.RepairForm,
        "Send {label} for repair",
        "Send for repair",
        _repair,
        not_now="only a device in stock or deployed can be sent for repair.",
    ),
    "repair_done": Action(
        forms.RepairDoneForm,
        "{label} is back from repair",
        "Record the repair",
        _repair_done,
        not_now="only a device in repair can come back from repair.",
    ),
    "lost": Action(
        forms.LostForm,
        "Report {label} lost or stolen",
        "Continue",
        _lost,
        not_now="it cannot be reported lost or stolen from there.",
        confirm="Report {label} lost or stolen?",
        confirm_button="Yes, report it",
        warning="The holder is released and the device leaves the estate's working stock until "
        "it is found.",
    ),
    "found": Action(
        forms.FoundForm,
        "{label} has been found",
        "Record as found",
        _found,
        not_now="only a device recorded as lost or stolen can be found.",
    ),
    "note": Action(forms.NoteForm, "Add a note to {label}", "Add note", _note),
    "at_check": Action(
        forms.ATCheckForm,
        "Confirm the AT check for {label}",
        "Confirm AT works",
        _at_check,
        not_now="it has no AT check awaiting confirmation.",
        hint="Someone other than the person who deployed the device confirms it.",
    ),
    "disposal": Action(
        forms.DisposalForm,
        "Start disposal of {label}",
        "Continue",
        _disposal,
        not_now="only a returned device without a disposal case can start disposal.",
        confirm="Start disposal of {label}?",
        confirm_button="Yes, start disposal",
        warning="A disposal case is opened and the device waits for sanitisation. It cannot be "
        "issued again.",
    ),
}
# A service's ``field`` as the form names it.
FIELD_OF = {"assigned_to": "staff_number", "note": "note", "circumstance": "circumstance"}


def _refuse(form, exc: DomainError) -> None:
    name = FIELD_OF.get(exc.field or "")
    if name in form.fields:
        form.add_error(name, exc.message)
    else:
        form.add_error(None, exc.message)


def _form(action: str, spec: Action, device: Device, user, data=None):
    extra = {}
    if action == "return":
        extra["destinations"] = return_destinations(device.status)
    if action == "at_check" and data is None:
        pending = next((c for c in device.at_checks.all() if c.pending), None)
        extra["initial"] = {"check": pending.pk if pending else ""}
    return spec.form(data, device=device, user=user, **extra)


def _render(request, template: str, *, device, action, spec, form, status=200):
    label = _label(device)
    return render(
        request,
        template,
        {
            "device": device,
            "action": action,
            "spec": spec,
            "title": spec.title.format(label=label),
            "confirm_title": spec.confirm.format(label=label),
            "form": form,
            "classification": exports.OFFICIAL,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def device_action(request, pk: int, action: str):
    """One action on one device: its form (GET), or doing it (POST). Refused (403)
    to every role but asset managers; 404 outside their scope; an action the
    device's status does not offer sends them back to the device page, saying why."""
    require_role(request.user, Role.ASSET_MANAGER, message="Only asset managers act on devices.")
    spec = ACTIONS[action]
    device = device_selectors.device_get(user=request.user, pk=pk)
    if device is None:
        raise Http404("No such device in your scope.")
    offered = device_actions(
        device=device,
        user=request.user,
        at_checks=list(device_selectors.device_at_checks(device=device)),
        disposal_case=disposal_selectors.case_for_device(user=request.user, device_id=device.pk),
    )
    if action not in offered:
        messages.error(
            request, f"{_label(device)} is {device.get_status_display().lower()}: {spec.not_now}"
        )
        return redirect("devices:device_detail", pk=device.pk)
    if request.method == "GET":
        form = _form(action, spec, device, request.user)
        # A step with nothing to fill in (start disposal) is its own confirmation.
        template = (
            "workspace/device_confirm.html"
            if spec.confirm and not form.visible_fields()
            else "workspace/device_action.html"
        )
        return _render(request, template, device=device, action=action, spec=spec, form=form)
    form = _form(action, spec, device, request.user, data=request.POST)
    changing = request.POST.get("change") == "yes"
    if changing or not form.is_valid():
        return _render(
            request,
            "workspace/device_action.html",
            device=device,
            action=action,
            spec=spec,
            form=form,
            status=200 if changing and form.is_valid() else 400,
        )
    if spec.confirm and request.POST.get("confirmed") != "yes":
        return _render(
            request,
            "workspace/device_confirm.html",
            device=device,
            action=action,
            spec=spec,
            form=form,
        )
    try:
        message = spec.run(form, device, request.user)
    except DomainError as exc:
        _refuse(form, exc)
        return _render(
            request,
            "workspace/device_action.html",
            device=device,
            action=action,
            spec=spec,
            form=form,
            status=400,
        )
    messages.success(request, message)
    return redirect("devices:device_detail", pk=device.pk)
