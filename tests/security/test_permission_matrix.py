"""The permission matrix: every URL the project serves, tried by every role, with
an object inside and an object outside the caller's units.

The URLs come from walking ``config.urls`` (``get_resolver()``), not from a list
written by hand, so a new URL is caught by ``test_every_url_has_a_row`` until it
is classified in ``TABLE`` below; a row naming a URL that is gone fails
``test_every_row_names_a_url``.

Expected answers come from the rules, not from the code:

* README "Who uses it" and "Classification", accounts/roles.py and each view's
  ``require_role`` / API permission class say which roles may use a URL;
* anonymous: a page redirects to the sign-in page, the API answers 401/403;
* a role the URL is not for: 403;
* an object outside the caller's unit scope (or a finance report for a role that
  may not see commercial figures): 404, never 403 (a 403 would confirm it exists);
* an allowed role on an object in scope: a GET answers 2xx/3xx, a POST with an
  empty body gets a validation answer (anything but 401/403/404/405/500);
* never a 500;
* commercial figures (unit prices, purchase costs, contract values, order totals,
  costs, residual values) never reach a role outside finance and commercial: no
  such JSON key in any API answer, no money figure on a page or export.

Where the matrix finds the application wrong, the case stays and is marked
``xfail(strict=True)`` in ``KNOWN_WRONG`` with what is wrong, for the owners to fix.

All objects are built once for the module inside one transaction that is rolled
back at the end (each test runs in a savepoint inside it), so the matrix costs a
few seconds of setup and leaves nothing behind for other test modules.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from http.cookies import SimpleCookie

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role

# ---------------------------------------------------------------------------
# Walking the URL configuration
# ---------------------------------------------------------------------------

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_UNNAMED = re.compile(r"\((?!\?)[^)]*\)")  # simple-history's admin history URLs
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
HANDLERS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    """One URL pattern: a readable key, the view, the methods it accepts."""

    key: str  # e.g. "api/v1/devices/<pk>/" (regex groups and converters as <name>)
    parts: tuple  # the raw pattern strings, outermost first
    callback: object
    methods: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.key.startswith("api/")

    @property
    def is_admin(self) -> bool:
        return self.key.startswith("admin/")

    def url(self, values: dict) -> str:
        """The URL with each parameter replaced by ``values[name]``."""
        out = []
        for raw in self.parts:
            text = _GROUP.sub(lambda m: str(values[m.group(1)]), raw)
            text = _UNNAMED.sub(lambda m: str(values["arg"]), text)
            if "(?P<" not in raw and "^" not in raw and "$" not in raw:
                text = _CONVERTER.sub(lambda m: str(values[m.group(2)]), text)
            else:
                text = text.replace("/?$", "$").lstrip("^").rstrip("$").replace("\\.", ".")
            out.append(text)
        return "/" + "".join(out)


def _readable(raw: str) -> str:
    text = _GROUP.sub(lambda m: f"<{m.group(1)}>", raw)
    text = _UNNAMED.sub("<arg>", text)
    text = _CONVERTER.sub(lambda m: f"<{m.group(2)}>", text)
    return text.replace("/?$", "").lstrip("^").rstrip("$").replace("\\.", ".")


def _function_methods(view) -> tuple[str, ...] | None:
    """The list given to require_POST / require_GET / require_http_methods anywhere
    in the decorator chain (they keep it in the closure as ``request_method_list``)."""
    seen = 0
    while view is not None and seen < 20:
        code = getattr(view, "__code__", None)
        if code and "request_method_list" in code.co_freevars:
            cell = view.__closure__[code.co_freevars.index("request_method_list")]
            return tuple(m.upper() for m in cell.cell_contents if m.upper() != "HEAD")
        view = getattr(view, "__wrapped__", None)
        seen += 1
    return None


def _methods(callback, name: str, key: str) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset: the actions bound on this route
        return tuple(m.upper() for m in actions)
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        allowed = getattr(cls, "http_method_names", HANDLERS)
        found = [m.upper() for m in HANDLERS if hasattr(cls, m) and m in allowed]
        if cls.__name__ == "RedirectView":
            return ("GET",)
        if not hasattr(cls, "permission_classes"):
            # A Django form view's put() only repeats post(): browsers send GET and POST.
            found = [m for m in found if m in ("GET", "POST")]
        return tuple(found)
    if key.startswith("admin/"):
        # The admin's views are methods wrapped by admin_view: forms take POST too.
        if name.endswith(("_add", "_change", "_delete")) or name in ("admin:login",):
            return ("GET", "POST")
        if name == "admin:logout":
            return ("POST",)  # Django 5 logs out on POST only
        return ("GET",)
    return _function_methods(callback) or ("GET", "POST")


def walk(resolver=None, parts=(), namespace=None):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        raw = str(p.pattern)
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from walk(p, (*parts, raw), ns)
        elif isinstance(p, URLPattern):
            key = "".join(_readable(x) for x in (*parts, raw))
            name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
            yield Route(
                key=key,
                parts=(*parts, raw),
                callback=p.callback,
                methods=_methods(p.callback, name, key),
            )


ROUTES = {route.key: route for route in walk()}

# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

V, AM, FIN, COM, INT = (
    Role.UNIT_VIEWER,
    Role.ASSET_MANAGER,
    Role.FINANCE,
    Role.COMMERCIAL,
    Role.INTEGRATION,
)
PAGE_ROLES = frozenset({V, AM, FIN, COM})  # every browser role
API_READERS = frozenset({V, AM, FIN, COM, INT})  # api/permissions.py READ_ROLES
ESTATE_WRITERS = frozenset({AM, INT})  # api/permissions.py WRITE_ROLES
PLANNERS = frozenset({AM, FIN})  # refresh/views/common.py
PROCUREMENT = frozenset({AM, FIN, COM})  # procurement: volumes for AM, money for FIN/COM
COMMERCIAL = frozenset({FIN, COM})  # accounts.roles.COMMERCIAL_ROLES
DISPOSAL_READERS = frozenset({AM, FIN, COM})
CUSTODY = frozenset({AM, FIN, COM, V})
PUBLIC = "public"  # anyone, signed in or not


@dataclass(frozen=True)
class Row:
    """Who may use a URL, per method, and which object its parameters name.

    ``allow`` maps a method to the roles allowed (or PUBLIC); ``obj`` names the kind
    of object the path parameters point at (see ``Objects.values``); ``fixed`` holds
    parameters that are not objects (an export format)."""

    allow: dict
    obj: str | None = None
    fixed: dict = field(default_factory=dict)
    signed_out: str | None = None  # what a signed-out caller gets, when not the default


def R(get=None, post=None, *, patch=None, obj=None, signed_out=None, **fixed):
    allow = {}
    for method, roles in (("GET", get), ("POST", post), ("PATCH", patch)):
        if roles is not None:
            allow[method] = roles
    return Row(allow=allow, obj=obj, fixed=fixed, signed_out=signed_out)


# What an answer must be.
LOGIN = "login"
UNAUTH = "unauthenticated"
DENY = "deny"
NOT_FOUND = "not found"
DENY_OR_NOT_FOUND = "403 or 404"
STAFF_REFUSED = "refused to staff without permissions"
OK = "ok"
ADMIN_LOGIN = "admin login"

TABLE: dict[str, Row] = {
    # --- sign-in -------------------------------------------------------------------
    "": R(PAGE_ROLES),
    "login/": R(PUBLIC, PUBLIC),
    "logout/": R(post=PUBLIC),
    "assets/<path>": R(PUBLIC, path="images/favicon.ico"),
    # --- estate (README "What it does": every role sees its units' devices) ---------
    "devices/": R(PAGE_ROLES),
    # The list's column chooser and its bulk actions: every page role may choose columns
    # and download a selection; only asset managers move devices (the view's 403 for
    # the others is tried in tests/doors/test_device_list_doors.py).
    "devices/columns/": R(post=PAGE_ROLES),
    "devices/bulk/": R(post=PAGE_ROLES),
    "devices/<pk>/": R(PAGE_ROLES, obj="device"),
    # The device page's actions (workspace): asset managers only; GET shows the form
    # (or sends back to the page when the device's status does not offer it).
    "devices/<pk>/deploy/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/reassign/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/return/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/repair/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/repair-done/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/lost-or-stolen/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/found/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/note/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/at-check/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    "devices/<pk>/start-disposal/": R(frozenset({AM}), frozenset({AM}), obj="device"),
    # The import is the asset managers' (README "Who uses it"; devices/import_views.py).
    "devices/import/": R(frozenset({AM}), frozenset({AM})),
    "devices/import/<pk>/": R(frozenset({AM}), obj="import_run"),
    "devices/import/<pk>/progress/": R(frozenset({AM}), obj="import_run"),
    "devices/import/<pk>/errors.csv": R(frozenset({AM}), obj="import_run"),
    # --- refresh -----------------------------------------------------------------------
    "refresh/": R(PAGE_ROLES, PAGE_ROLES),
    "refresh/export.<fmt>": R(PAGE_ROLES, PAGE_ROLES, fmt="csv"),
    "refresh/recompute/": R(post=frozenset({AM})),
    "refresh/policies/": R(PAGE_ROLES, frozenset({AM})),
    "refresh/bau-rates/": R(PAGE_ROLES, frozenset({FIN})),
    "refresh/forecast/": R(PAGE_ROLES, PAGE_ROLES),
    "refresh/forecast/export.csv": R(PAGE_ROLES, PAGE_ROLES),
    "refresh/forecast/baselines/": R(post=PLANNERS),
    "refresh/failure-rates/": R(PAGE_ROLES, PAGE_ROLES),
    "refresh/scenarios/": R(PLANNERS, PLANNERS),
    "refresh/scenarios/new/": R(PLANNERS, PLANNERS),
    "refresh/scenarios/<pk>/": R(PLANNERS, PLANNERS, obj="scenario"),
    "refresh/scenarios/<pk>/edit/": R(PLANNERS, PLANNERS, obj="scenario"),
    "refresh/waves/": R(PAGE_ROLES, frozenset({AM})),
    "refresh/waves/<pk>/": R(PAGE_ROLES, PAGE_ROLES, obj="wave"),
    "refresh/waves/<pk>/swaps/<item_pk>/": R(PAGE_ROLES, frozenset({AM}), obj="wave_item"),
    # Cancelling asks the reason, then confirms: the asset managers' (refresh/views/swap_pages.py).
    "refresh/waves/<pk>/swaps/<item_pk>/cancel/": R(
        frozenset({AM}), frozenset({AM}), obj="wave_item"
    ),
    # --- procurement (money for finance and commercial only) ----------------------------
    "procurement/": R(PROCUREMENT, PROCUREMENT),
    "procurement/export.xlsx": R(COMMERCIAL, COMMERCIAL),
    "procurement/export.csv": R(COMMERCIAL, COMMERCIAL),
    "procurement/scenarios/<pk>/": R(COMMERCIAL, COMMERCIAL, obj="scenario"),
    "procurement/budget-lines/": R(COMMERCIAL, COMMERCIAL),
    "procurement/contracts/": R(PROCUREMENT, PROCUREMENT),
    "procurement/contracts/new/": R(frozenset({COM}), frozenset({COM})),
    # POST records the contract's award: commercial officers only.
    "procurement/contracts/<pk>/": R(PROCUREMENT, frozenset({COM}), obj="contract"),
    "procurement/orders/": R(PROCUREMENT, PROCUREMENT),
    "procurement/orders/new/": R(COMMERCIAL, COMMERCIAL),
    "procurement/orders/<pk>/": R(PROCUREMENT, PROCUREMENT, obj="order"),
    "procurement/orders/<pk>/edit/": R(COMMERCIAL, COMMERCIAL, obj="order"),
    # Return to draft and cancel ask a reason on a page of their own (GET), then act (POST).
    "procurement/orders/<pk>/return/": R(COMMERCIAL, COMMERCIAL, obj="order"),
    "procurement/orders/<pk>/submit/": R(post=COMMERCIAL, obj="order"),
    "procurement/orders/<pk>/approvals/": R(post=COMMERCIAL, obj="order"),
    "procurement/orders/<pk>/approve/": R(post=COMMERCIAL, obj="order"),
    "procurement/orders/<pk>/ordered/": R(post=COMMERCIAL, obj="order"),
    "procurement/orders/<pk>/cancel/": R(COMMERCIAL, COMMERCIAL, obj="order"),
    "procurement/orders/<pk>/close/": R(post=COMMERCIAL, obj="order"),
    "procurement/orders/<pk>/receive/": R(PROCUREMENT, PROCUREMENT, obj="order"),
    # --- disposals (asset managers work the board; finance and commercial read) ---------
    # Finance and commercial roles landing on the board are sent to the summary (302).
    "disposals/": R(DISPOSAL_READERS, DISPOSAL_READERS),
    "disposals/bulk/": R(post=frozenset({AM})),
    "disposals/summary/": R(DISPOSAL_READERS, DISPOSAL_READERS),
    # Route overrides awaiting sign-off: the readers see them; the service decides who
    # may sign off, so an empty POST is a validation answer for each reader.
    "disposals/sign-offs/": R(DISPOSAL_READERS, DISPOSAL_READERS),
    "disposals/value-rule/": R(frozenset({FIN}), frozenset({FIN})),
    "disposals/find/": R(CUSTODY, CUSTODY),
    "disposals/devices/<device_id>/custody/": R(CUSTODY, CUSTODY, obj="disposed_device"),
    "disposals/devices/<device_id>/custody.pdf": R(CUSTODY, CUSTODY, obj="disposed_device"),
    "disposals/consignments/": R(DISPOSAL_READERS, DISPOSAL_READERS),
    "disposals/consignments/new/": R(frozenset({AM}), frozenset({AM})),
    "disposals/consignments/<pk>/": R(DISPOSAL_READERS, DISPOSAL_READERS, obj="consignment"),
    "disposals/consignments/<pk>/dispatch/": R(post=frozenset({AM}), obj="consignment"),
    "disposals/consignments/<pk>/certificate/": R(post=frozenset({AM}), obj="consignment"),
    "disposals/consignments/<pk>/close/": R(post=frozenset({AM}), obj="consignment"),
    "disposals/consignments/<pk>/partner-certificate/": R(
        DISPOSAL_READERS, DISPOSAL_READERS, obj="consignment"
    ),
    "disposals/consignments/<pk>/custody.pdf": R(
        DISPOSAL_READERS, DISPOSAL_READERS, obj="consignment"
    ),
    # --- reports (unit leads: their units only; the finance report: commercial roles) ----
    "reports/": R(PAGE_ROLES, PAGE_ROLES),
    "reports/generate/": R(post=PAGE_ROLES),
    "reports/<pk>/": R(PAGE_ROLES, PAGE_ROLES, obj="report_run"),
    "reports/<pk>/progress/": R(PAGE_ROLES, PAGE_ROLES, obj="report_run"),
    "reports/<pk>/download/<fmt>/": R(PAGE_ROLES, PAGE_ROLES, obj="report_run", fmt="csv"),
    # --- the API: estate (api/permissions.py) -------------------------------------------
    "api/v1/devices/": R(API_READERS, ESTATE_WRITERS),
    "api/v1/devices/bulk/": R(post=ESTATE_WRITERS),
    "api/v1/devices/<pk>/": R(API_READERS, patch=ESTATE_WRITERS, obj="device"),
    "api/v1/devices/<pk>/events/": R(API_READERS, ESTATE_WRITERS, obj="device"),
    "api/v1/events/": R(API_READERS),
    "api/v1/events/<pk>/": R(API_READERS, obj="event"),
    "api/v1/business-units/": R(API_READERS),
    "api/v1/business-units/<code>/": R(API_READERS, obj="unit"),
    "api/v1/people/": R(API_READERS),
    "api/v1/people/<staff_number>/": R(API_READERS, obj="person"),
    "api/v1/device-models/": R(API_READERS),
    "api/v1/device-models/<pk>/": R(API_READERS, obj="device_model"),
    "api/v1/": R(API_READERS),
    # --- the API: refresh (read-only, scoped) --------------------------------------------
    "api/v1/refresh/forecast/": R(API_READERS),
    "api/v1/refresh/eligibility/": R(API_READERS),
    "api/v1/refresh/eligibility/<device_id>/": R(API_READERS, obj="eligibility"),
    "api/v1/refresh/": R(API_READERS),
    # --- the API: procurement -------------------------------------------------------------
    "api/v1/procurement/envelope-position/": R(COMMERCIAL),
    "api/v1/procurement/budget-lines/": R(COMMERCIAL),
    "api/v1/procurement/budget-lines/<pk>/": R(COMMERCIAL, obj="budget_line"),
    "api/v1/procurement/contracts/": R(PROCUREMENT),
    "api/v1/procurement/contracts/<pk>/": R(PROCUREMENT, obj="contract"),
    # Recording a contract's award is the commercial officers' (Commercial Director's
    # delegation), not finance's.
    "api/v1/procurement/contracts/<pk>/award/": R(post=frozenset({COM}), obj="contract"),
    "api/v1/procurement/purchase-orders/": R(PROCUREMENT, COMMERCIAL),
    "api/v1/procurement/purchase-orders/<pk>/": R(PROCUREMENT, obj="order"),
    "api/v1/procurement/purchase-orders/<pk>/approval-records/": R(post=COMMERCIAL, obj="order"),
    "api/v1/procurement/purchase-orders/<pk>/approve/": R(post=COMMERCIAL, obj="order"),
    "api/v1/procurement/purchase-orders/<pk>/submit/": R(post=COMMERCIAL, obj="order"),
    "api/v1/procurement/": R(API_READERS),
    # --- the API: disposals ----------------------------------------------------------------
    "api/v1/disposals/sanitisation-results/": R(post=ESTATE_WRITERS),
    "api/v1/disposals/devices/<device_id>/custody/": R(API_READERS, obj="disposed_device"),
    "api/v1/disposals/devices/<device_id>/route/": R(API_READERS, obj="disposed_device"),
    # A finance or commercial officer signs off or rejects an override of a suggested
    # resale (disposals.services.overrides); the matrix's device has none: 400.
    "api/v1/disposals/devices/<device_id>/route/sign-off/": R(
        post=COMMERCIAL, obj="disposed_device"
    ),
    "api/v1/disposals/devices/<device_id>/route/reject/": R(post=COMMERCIAL, obj="disposed_device"),
    # --- the API: reports --------------------------------------------------------------------
    "api/v1/reports/runs/": R(API_READERS),
    "api/v1/reports/runs/<pk>/": R(API_READERS, obj="report_run"),
    "api/v1/reports/": R(API_READERS),
    # --- the API's description: public (it describes the API, holds no data) ----------
    # SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]: any signed-in API user.
    "api/schema/": R(API_READERS),
    # The Swagger UI is an HTML page: signed out, it sends the browser to sign in.
    "api/docs/": R(API_READERS, signed_out=LOGIN),
}

# The admin (every pattern under admin/) is one rule: staff only. Nobody provisioned by
# ``create_user`` but an asset manager is staff, and no role group carries a model
# permission, so an asset manager reaches the index and is refused (403) everything
# else; every other role is sent to the admin's sign-in page. A new ModelAdmin is
# classified by this rule automatically.
ADMIN_PREFIX = "admin/"
# Anonymous, a signed-in role that is not staff, and the staff role.
ADMIN_ROLES_TRIED = ("anonymous", "fin_all", "am_A")
# Admin URLs a staff member without model permissions may open.
ADMIN_OPEN_TO_STAFF = {
    "admin/": 200,
    "admin/login/": OK,  # GET: on to the index; POST with nothing: the form again
    "admin/logout/": OK,
    "admin/password_change/": 200,
    "admin/password_change/done/": 200,
    "admin/jsi18n/": 200,
}

# ---------------------------------------------------------------------------
# Principals
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role | None
    scoped: bool  # scoped to unit A (else unscoped: the whole estate)
    api_only: bool = False


PRINCIPALS = {
    p.name: p
    for p in (
        Principal("anonymous", None, False),
        Principal("viewer_A", V, True),
        Principal("am_A", AM, True),
        Principal("am_all", AM, False),
        Principal("fin_A", FIN, True),
        Principal("fin_all", FIN, False),
        Principal("com_A", COM, True),
        Principal("com_all", COM, False),
        Principal("token_A", INT, True, api_only=True),
        Principal("token_all", INT, False, api_only=True),
    )
}

# Targets: "A" (inside unit A), "B" (inside unit B), "F" (a finance report run: the
# organisation's, commercial roles only), "O" (organisation-wide: no unit).
TARGETS = {
    "device": ("A", "B"),
    "disposed_device": ("A", "B"),
    "event": ("A", "B"),
    "import_run": ("A", "B"),
    "scenario": ("O",),
    "wave": ("A", "B"),
    "wave_item": ("A", "B"),
    "contract": ("O",),
    "order": ("A", "B"),
    "consignment": ("A", "B"),
    "report_run": ("A", "B", "F"),
    "unit": ("A", "B"),
    "person": ("A", "B"),
    "device_model": ("O",),
    "budget_line": ("O",),
    "eligibility": ("A", "B"),
}


def visible(principal: Principal, target: str | None) -> bool:
    if target in (None, "O", "A"):
        return True
    if target == "B":
        return not principal.scoped
    if target == "F":
        return principal.role in COMMERCIAL
    raise AssertionError(target)


# ---------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------


def base_key(key: str) -> str | None:
    """The route a DRF format-suffix route repeats (``devices.<format>`` ->
    ``devices/``; a router root's ``<format>`` -> the root), or None."""
    if key.endswith(".<format>"):
        base = key[: -len(".<format>")] + "/"
    elif key.endswith("/<format>"):
        base = key[: -len("<format>")]
    else:
        return None
    return base if base in ROUTES else None


def suffix_value(key: str) -> dict:
    if key.endswith(".<format>"):
        return {"format": "json"}
    if key.endswith("/<format>"):
        return {"format": ".json"}  # the drf_format_suffix converter keeps the dot
    return {}


SUFFIX_VARIANTS: dict[str, list[str]] = {}
for _key in ROUTES:
    if base_key(_key):
        SUFFIX_VARIANTS.setdefault(base_key(_key), []).append(_key)


@dataclass(frozen=True)
class Case:
    """One (URL, principal, method): every target object is tried, through the URL
    and its format-suffix twins (the same view, so the same rule)."""

    key: str
    principal: str
    method: str
    expects: tuple  # ((target, expectation), ...)

    @property
    def id(self) -> str:
        return f"{self.method} /{self.key} as {self.principal}"


def expected(row: Row, route: Route, principal: Principal, method: str, target) -> str:
    allowed = row.allow[method]
    if allowed == PUBLIC:
        return OK
    if principal.role is None:
        return row.signed_out or (UNAUTH if route.is_api else LOGIN)
    if principal.role not in allowed:
        # A wrong role on an object outside its units may be refused either way:
        # neither answer tells it the object exists.
        return DENY if visible(principal, target) else DENY_OR_NOT_FOUND
    if not visible(principal, target):
        return NOT_FOUND
    return OK


def admin_expected(route: Route, principal: Principal) -> str | int:
    if principal.role is not AM:
        return ADMIN_LOGIN if route.key not in ("admin/login/", "admin/logout/") else OK
    return ADMIN_OPEN_TO_STAFF.get(route.key, STAFF_REFUSED)


def build_cases() -> list[Case]:
    cases = []
    for key, route in sorted(ROUTES.items()):
        if route.is_admin:
            for name in ADMIN_ROLES_TRIED:
                for method in route.methods:
                    exp = admin_expected(route, PRINCIPALS[name])
                    cases.append(Case(key, name, method, ((None, exp),)))
            continue
        row = TABLE.get(key)
        if row is None:
            continue  # a suffix twin (tried with its base) or unclassified (reported)
        # A method the row does not classify is reported by
        # test_every_row_covers_the_methods_its_url_accepts.
        for method in [m for m in route.methods if m in row.allow]:
            for principal in PRINCIPALS.values():
                if principal.api_only and not route.is_api:
                    continue
                targets = TARGETS[row.obj] if row.obj else (None,)
                exp = tuple((t, expected(row, route, principal, method, t)) for t in targets)
                cases.append(Case(key, principal.name, method, exp))
    return cases


# Cases where the application is wrong today, each a strict xfail naming what is
# wrong (none now: the fix of one turns it into a failure that asks for its removal).
KNOWN_WRONG: dict[str, str] = {}


def _param(case: Case):
    marks = []
    if case.id in KNOWN_WRONG:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[case.id]))
    return pytest.param(case, id=case.id, marks=marks)


CASES = build_cases()

# ---------------------------------------------------------------------------
# The objects, built once for the module
# ---------------------------------------------------------------------------


class Objects:
    """Units A and B, one user per principal, and one object of each kind in each
    unit. ``values(kind, target)`` gives the path parameters naming that object."""

    def __init__(self):
        self.params: dict[tuple[str, str], dict] = {}
        self.users: dict[str, object] = {}
        self.tokens: dict[str, str] = {}
        self.page_clients: dict[str, Client] = {}
        self.api_clients: dict[str, APIClient] = {}
        self.cookies: dict[str, object] = {}

    def sign_in(self) -> None:
        """One signed-in browser client and one token-carrying API client per principal."""
        for p in PRINCIPALS.values():
            page, api = Client(), APIClient()
            if p.role is not None:
                page.force_login(self.users[p.name])
                api.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[p.name]}")
            self.page_clients[p.name] = page
            self.api_clients[p.name] = api
            self.cookies[p.name] = copy.deepcopy(page.cookies)

    def values(self, kind: str | None, target: str | None) -> dict:
        return dict(self.params[(kind, target)]) if kind else {}


def _build() -> Objects:
    from accounts.services import user_create
    from api.services import api_token_create
    from devices.models import Category, Device
    from disposals import services as disposal_services
    from disposals.models import PARTNER_KINDS_FOR_ROUTE, Partner, ResidualValueRule
    from procurement import services as procurement_services
    from procurement.models import Contract, Supplier
    from refresh import services as refresh_services
    from refresh.models import DeviceEligibility
    from reports.models import ReportRun
    from tests.factories import (
        BusinessUnitFactory,
        DeviceEventFactory,
        DeviceFactory,
        DeviceModelFactory,
        PersonFactory,
    )

    o = Objects()
    units = {
        "A": BusinessUnitFactory(code="MXA", level="directorate"),
        "B": BusinessUnitFactory(code="MXB", level="directorate"),
    }
    slugs = {V: "unit-viewer", AM: "asset-manager", FIN: "finance", COM: "commercial"}
    slugs[INT] = "integration"
    for p in PRINCIPALS.values():
        if p.role is None:
            continue
        user = user_create(
            username=f"matrix-{p.name}",
            role=slugs[p.role],
            password=None,
            unit_codes=["MXA"] if p.scoped else [],
        )
        o.users[p.name] = user
        o.tokens[p.name] = api_token_create(user=user)[1]

    # Refresh policies, so eligibility has rows and waves have candidates.
    for category in Category:
        refresh_services.refresh_policy_create(
            category=category,
            effective_from=dt.date(2015, 1, 1),
            lifecycle_months=48,
            repair_threshold=3,
            idle_days=90,
            os_end_of_support_forces_refresh=True,
        )
    laptop = DeviceModelFactory(name="Matrix 9000", unit_price=Decimal("1357.91"))
    o.params[("device_model", "O")] = {"pk": laptop.pk}
    # The residual-value rule the assessments below are priced by.
    ResidualValueRule.objects.create(
        name="Matrix rule",
        effective_from=dt.date(2000, 1, 1),
        base_percent_laptop=Decimal("50"),
        depreciation_percent_per_year=Decimal("10"),
        multiplier_a=Decimal("1.00"),
        multiplier_b=Decimal("0.50"),
        multiplier_c=Decimal("0.25"),
        multiplier_scrap=Decimal("0.00"),
        floor=Decimal("5.00"),
        resale_threshold=Decimal("100.00"),
    )
    am_all = o.users["am_all"]
    today = timezone.localdate()
    for side, unit in units.items():
        person = PersonFactory(staff_number=f"MX{side}0001", business_unit=unit)
        device = DeviceFactory(
            business_unit=unit,
            device_model=laptop,
            status=Device.Status.DEPLOYED,
            assigned_to=person,
            purchase_date=dt.date(2018, 1, 10),
            purchase_cost=Decimal("1357.91"),
        )
        event = DeviceEventFactory(device=device)
        o.params[("device", side)] = {"pk": device.pk}
        o.params[("event", side)] = {"pk": event.pk}
        o.params[("unit", side)] = {"code": unit.code}
        o.params[("person", side)] = {"staff_number": person.staff_number}
        o.params[("eligibility", side)] = {"device_id": device.pk}
        # A returned laptop taken through sanitisation, valuation and a route into a
        # consignment: its custody shows a residual value (commercial).
        returned = DeviceFactory(
            business_unit=unit,
            device_model=laptop,
            status=Device.Status.RETURNED,
            purchase_date=today - dt.timedelta(days=365),
            purchase_cost=Decimal("1357.91"),
        )
        cases = disposal_services.disposal_cases_open(device_ids=[returned.pk], actor=am_all)
        disposal_services.sanitisation_records_record(
            items=[
                disposal_services.SanitisationInput(
                    device_id=returned.pk,
                    method="crypto_erase",
                    standard="NIST SP 800-88 Purge",
                    tool="Blancco",
                    tool_version="7.1",
                    operator="Tech A",
                    verifier="Tech B",
                    performed_at=timezone.now() - dt.timedelta(hours=1),
                    result="pass",
                    certificate_ref=f"BL-{returned.pk}",
                    label=str(returned),
                )
            ],
            actor=am_all,
        )
        disposal_services.assessments_record(case_ids=[cases[0].pk], grade="A", actor=am_all)
        decided = disposal_services.routes_decide(case_ids=[cases[0].pk], actor=am_all)
        route = decided[0].route  # routes_decide returns the RouteDecision rows
        kind = sorted(PARTNER_KINDS_FOR_ROUTE[route])[0]
        partner = Partner.objects.get_or_create(
            name=f"Matrix partner {kind}",
            defaults={"kind": kind, "licence_number": "EPR/AB1234CD"},
        )[0]
        consignment = disposal_services.consignment_create(
            route=route, partner=partner, actor=am_all
        )
        disposal_services.consignment_add_cases(
            consignment=consignment, case_ids=[cases[0].pk], actor=am_all
        )
        # The partner's certificate, as if uploaded (the upload's checks are tested
        # in tests/disposals; here only who may download it matters).
        consignment.certificate.save(
            f"matrix-{side}.pdf", ContentFile(b"%PDF-1.4\n%matrix\n"), save=False
        )
        type(consignment).objects.filter(pk=consignment.pk).update(
            certificate=consignment.certificate.name,
            certificate_content_type="application/pdf",
        )
        o.params[("consignment", side)] = {"pk": consignment.pk}
        o.params[("disposed_device", side)] = {"device_id": returned.pk}

    refresh_services.eligibility_recompute()
    assert DeviceEligibility.objects.filter(is_due=True).count() >= 2
    for side, unit in units.items():
        wave = refresh_services.wave_create(
            name=f"Matrix wave {side}", volume=5, actor=am_all, business_unit=unit
        )
        item = wave.items.get()
        o.params[("wave", side)] = {"pk": wave.pk}
        o.params[("wave_item", side)] = {"pk": wave.pk, "item_pk": item.pk}
    scenario = refresh_services.scenario_save(name="Matrix scenario", overrides={}, actor=am_all)
    o.params[("scenario", "O")] = {"pk": scenario.pk}

    # Import runs: a scoped asset manager sees only their own; the unscoped sees all.
    from devices.models import ImportRun

    for side, creator in (("A", o.users["am_A"]), ("B", am_all)):
        run = ImportRun.objects.create(
            created_by=creator,
            file_name=f"matrix-{side}.csv",
            sha256="0" * 64,
            status=ImportRun.Status.RUNNING,
        )
        # A run is written while it runs; once finished it is append-only (PostgreSQL).
        run.error_report.save(
            f"matrix-{side}-errors.csv", ContentFile(b"row,column,reason\r\n2,serial,blank\r\n")
        )
        ImportRun.objects.filter(pk=run.pk).update(status=ImportRun.Status.SUCCEEDED)
        o.params[("import_run", side)] = {"pk": run.pk}

    # Procurement: the envelope, a line, a contract, one draft order per unit.
    owner = o.users["fin_all"]
    envelope = procurement_services.capital_envelope_create(
        name="Matrix envelope",
        total=Decimal("46763000.00"),
        decision_reference="DMPC-MATRIX",
        owner=owner,
    )
    line = procurement_services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("1000000")
    )
    o.params[("budget_line", "O")] = {"pk": line.pk}
    supplier = Supplier.objects.create(name="Matrix Laptops Ltd")
    contract = procurement_services.contract_create(
        envelope=envelope,
        supplier=supplier,
        reference="MATRIX-001",
        title="Matrix call-off",
        route=Contract.Route.CALL_OFF,
        framework_name="CCS Technology Products & Associated Services 2",
        framework_reference="RM6068",
        ordering_process_followed=True,
        framework_ceiling=Decimal("900000000.00"),
        framework_end_date=dt.date(2028, 3, 31),
        value_ceiling=Decimal("7654321.00"),
        start_date=dt.date(2025, 4, 1),
        end_date=dt.date(2027, 3, 31),
    )
    o.params[("contract", "O")] = {"pk": contract.pk}
    for side, unit in units.items():
        order = procurement_services.purchase_order_create(
            budget_line=line,
            supplier=supplier,
            business_unit=unit,
            raised_by=owner,
            lines=[
                {
                    "device_model": laptop,
                    "quantity": 3,
                    "unit_price": Decimal("1357.91"),
                    "vat_rate": Decimal("0.20"),
                }
            ],
        )
        o.params[("order", side)] = {"pk": order.pk}

    # Report runs: a stewardship run per unit and the organisation's finance run,
    # each finished with a CSV file.
    period = dt.date(2025, 9, 1)
    for side, kind, unit in (
        ("A", ReportRun.Kind.STEWARDSHIP, units["A"]),
        ("B", ReportRun.Kind.STEWARDSHIP, units["B"]),
        ("F", ReportRun.Kind.FINANCE, None),
    ):
        run = ReportRun.objects.create(
            kind=kind,
            business_unit=unit,
            period_start=period,
            period_end=dt.date(2025, 9, 30),
            status=ReportRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
        )
        run.csv_file.save(f"matrix-{side}.csv", ContentFile(b"Classification: OFFICIAL\r\n"))
        o.params[("report_run", side)] = {"pk": run.pk}
    return o


@pytest.fixture(scope="module")
def matrix_media(tmp_path_factory):
    return tmp_path_factory.mktemp("matrix-media")


@pytest.fixture(scope="module")
def objects(django_db_setup, django_db_blocker, matrix_media):
    """Everything the matrix needs, in one transaction rolled back after the module;
    each test's own transaction is a savepoint inside it."""
    from django.test.utils import override_settings

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with (
                override_settings(
                    MEDIA_ROOT=str(matrix_media),
                    CELERY_TASK_ALWAYS_EAGER=True,
                    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
                ),
                TestCase.captureOnCommitCallbacks(execute=True),
            ):
                built = _build()
                built.sign_in()
            yield built
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _matrix_media(_test_settings, settings, matrix_media):
    # tests/conftest.py gives each test its own MEDIA_ROOT; the module's files live here.
    settings.MEDIA_ROOT = str(matrix_media)


# ---------------------------------------------------------------------------
# Requests and what counts as which answer
# ---------------------------------------------------------------------------

# Any pound figure in pence, and the figures planted above (a unit price and purchase
# cost of 1,357.91, a contract ceiling of 7,654,321) however they are written.
MONEY = re.compile(r"£\s?\d[\d,]*\.\d\d|1,?357\.91|7,?654,?321")
# Pound figures that are documentation, not data: the import page's example of how
# costs may be written.
MONEY_ALLOWED = frozenset({"£1,234.56"})
COMMERCIAL_KEYS = frozenset(
    {
        "unit_price",
        "purchase_cost",
        "value_ceiling",
        "committed",
        "net_total",
        "vat_total",
        "gross_total",
        "committed_total",
        "cost",
        "base_cost",
        "scenario_cost",
        "cost_delta",
        "estimated_value",
        "residual_value",
        "resale_income",
        "proceeds",
        "planning_unit_price",
    }
)


ADMIN_VALUES = {
    "object_id": "1",
    "content_type_id": "1",
    "version_id": "1",
    "arg": "1",
    "app_label": "accounts",
    "url": "nothing-here",
}


def send(objects: Objects, principal: Principal, method: str, url: str, api: bool):
    """One request through the principal's own client, made once for the module (a
    new Client loads the middleware, and WhiteNoise indexes every static file)."""
    client = (objects.api_clients if api else objects.page_clients)[principal.name]
    # Each request starts from the signed-in session alone (no message cookies left by
    # the last one); the API carries only its token.
    client.cookies = SimpleCookie() if api else copy.deepcopy(objects.cookies[principal.name])
    call = getattr(client, method.lower())
    if method == "GET":
        return call(url)
    if api:
        return call(url, {}, format="json")
    return call(url, {})


def body_text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    content_type = response.get("Content-Type", "")
    if content_type.startswith(("text/", "application/json")):
        return response.content.decode("utf-8", "replace")
    return ""


def json_keys(data) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in json_keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in json_keys(v)}
    return set()


def verdict(expect, method: str, response) -> str | None:
    """None when the answer is the expected one, else what was wrong."""
    status = response.status_code
    location = response.get("Location", "")
    if status >= 500:
        return f"{status} (server error)"
    if isinstance(expect, int):
        ok = status == expect
    elif expect == LOGIN:
        ok = status == 302 and location.startswith("/login/")
    elif expect == ADMIN_LOGIN:
        ok = status == 302 and location.startswith("/admin/login/")
    elif expect == UNAUTH:
        ok = status in (401, 403)
    elif expect == DENY:
        ok = status == 403
    elif expect == NOT_FOUND:
        ok = status == 404
    elif expect == DENY_OR_NOT_FOUND:
        ok = status in (403, 404)
    elif expect == STAFF_REFUSED:
        # 403 from a model page; 404 from an app index or history entry the user may
        # not see; the old object URL only redirects to its (refused) change page.
        # A missing object's history sends staff back to the index (Django's own answer).
        ok = (
            status in (403, 404)
            or (status == 302 and location.endswith("/change/"))
            or (status == 302 and location == "/admin/")
        )
    elif method == "GET":
        ok = 200 <= status < 400
    else:
        ok = status not in (401, 403, 404, 405)
    return None if ok else f"{status} {location}".strip() + f", expected {expect}"


def commercial_leak(response) -> str | None:
    """What commercial figure an answer shows, if any."""
    if response.status_code >= 400:
        return None
    text = body_text(response)
    if not text:
        return None
    if response.get("Content-Type", "").startswith("application/json"):
        leaked = json_keys(json.loads(text)) & COMMERCIAL_KEYS
        if leaked:
            return f"shows {sorted(leaked)}"
    found = [m for m in MONEY.findall(text) if m not in MONEY_ALLOWED]
    return f"shows money {found[:3]}" if found else None


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------


def test_every_url_has_a_row():
    """A new URL must be classified here before it ships."""
    missing = sorted(
        k for k in ROUTES if k not in TABLE and not base_key(k) and not k.startswith(ADMIN_PREFIX)
    )
    assert not missing, f"URLs with no row in the permission table: {missing}"


def test_every_row_names_a_url():
    gone = sorted(k for k in TABLE if k not in ROUTES)
    assert not gone, f"Rows for URLs that no longer exist: {gone}"
    assert any(k.startswith(ADMIN_PREFIX) for k in ROUTES)


def test_every_row_covers_the_methods_its_url_accepts():
    wrong = {
        k: (sorted(TABLE[k].allow), ROUTES[k].methods)
        for k in TABLE
        if k in ROUTES and set(TABLE[k].allow) != set(ROUTES[k].methods)
    }
    assert not wrong, f"Rows whose methods differ from the view's: {wrong}"


@pytest.mark.django_db
def test_urls_built_by_the_matrix_resolve_to_their_own_view(objects):
    for key, route in ROUTES.items():
        if route.is_admin or key not in TABLE:
            continue
        row = TABLE[key]
        for target in TARGETS[row.obj] if row.obj else (None,):
            for variant in (key, *SUFFIX_VARIANTS.get(key, ())):
                values = {**row.fixed, **objects.values(row.obj, target), **suffix_value(variant)}
                url = ROUTES[variant].url(values)
                assert resolve(url).func == ROUTES[variant].callback, f"{url} is not {variant}"


@pytest.mark.django_db
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_permission_matrix(objects, case):
    route = ROUTES[case.key]
    principal = PRINCIPALS[case.principal]
    row = TABLE.get(case.key)
    problems = []
    for target, expect in case.expects:
        if route.is_admin:
            values = {**ADMIN_VALUES, **dict.fromkeys(re.findall(r"<(\w+)>", case.key), "1")}
            values.update({k: v for k, v in ADMIN_VALUES.items() if f"<{k}>" in case.key})
        else:
            values = {**row.fixed, **objects.values(row.obj, target)}
        url = route.url(values)
        response = send(objects, principal, case.method, url, route.is_api)
        wrong = verdict(expect, case.method, response)
        if wrong is None and principal.role not in COMMERCIAL and principal.role:
            wrong = commercial_leak(response)
        if wrong:
            problems.append(f"{case.method} {url}: {wrong}")
    assert not problems, "\n".join(problems)


def twin_cases() -> list[Case]:
    """A DRF format-suffix twin (``devices.json``) runs the same view as its base URL,
    so its permissions are the base's (the resolve test proves the view is the same).
    Each twin is tried once signed out and once by the first unscoped principal its
    base row allows, on the object in unit A: it must answer as the base does."""
    cases = []
    for key in sorted(ROUTES):
        base = base_key(key)
        if base is None or base not in TABLE:
            continue
        row = TABLE[base]
        for method in [m for m in ROUTES[key].methods if m in row.allow]:
            allowed = row.allow[method]
            names = ["anonymous"] + [
                n
                for n in ("am_all", "fin_all", "com_all", "token_all")
                if allowed == PUBLIC or PRINCIPALS[n].role in allowed
            ][:1]
            for name in names:
                target = TARGETS[row.obj][0] if row.obj else None
                exp = expected(row, ROUTES[key], PRINCIPALS[name], method, target)
                cases.append(Case(key, name, method, ((target, exp),)))
    return cases


TWIN_CASES = twin_cases()


@pytest.mark.django_db
@pytest.mark.parametrize("case", [_param(c) for c in TWIN_CASES])
def test_format_suffix_twins(objects, case):
    route = ROUTES[case.key]
    row = TABLE[base_key(case.key)]
    principal = PRINCIPALS[case.principal]
    ((target, expect),) = case.expects
    values = {**row.fixed, **objects.values(row.obj, target), **suffix_value(case.key)}
    url = route.url(values)
    response = send(objects, principal, case.method, url, api=True)
    wrong = verdict(expect, case.method, response)
    assert wrong is None, f"{case.method} {url}: {wrong}"


# The leak check must be able to fail: the same answers carry the figures to the roles
# that may see them.
SHOWN_TO_COMMERCIAL = [
    ("devices/<pk>/", "device"),
    ("procurement/orders/<pk>/", "order"),
    ("procurement/contracts/<pk>/", "contract"),
    ("api/v1/devices/<pk>/", "device"),
    ("api/v1/device-models/<pk>/", "device_model"),
    ("api/v1/procurement/contracts/<pk>/", "contract"),
    ("api/v1/procurement/purchase-orders/<pk>/", "order"),
    ("api/v1/disposals/devices/<device_id>/custody/", "disposed_device"),
    ("api/v1/disposals/devices/<device_id>/route/", "disposed_device"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["fin_all", "com_all"])
@pytest.mark.parametrize(
    ("key", "kind"), SHOWN_TO_COMMERCIAL, ids=[k for k, _ in SHOWN_TO_COMMERCIAL]
)
def test_commercial_roles_see_the_figures_the_leak_check_looks_for(objects, key, kind, who):
    route = ROUTES[key]
    url = route.url(objects.values(kind, TARGETS[kind][0]))
    response = send(objects, PRINCIPALS[who], "GET", url, route.is_api)
    assert response.status_code == 200, url
    assert commercial_leak(response), f"{url} as {who} shows no commercial figure"
