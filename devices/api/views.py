"""The estate API: thin views over devices.selectors and devices.services.

Every queryset goes through the caller's business-unit scope, so a device in
another unit is a 404 in detail and absent from lists and searches. Writes
(POST, PATCH) need the integration or asset-manager role; every POST accepts
an ``Idempotency-Key``; PATCH honours ``If-Match``.
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.etags import expected_version
from api.idempotency import idempotent
from api.parsers import JSONParser
from api.permissions import EstatePermission
from devices import lifecycle, selectors, services
from devices.api import bulk
from devices.api.filters import (
    BusinessUnitFilter,
    DeviceEventFilter,
    DeviceFilter,
    DeviceModelFilter,
    PersonFilter,
)
from devices.api.serializers import (
    BulkDeviceItemSerializer,
    BulkRequestSerializer,
    BulkResponseSerializer,
    BusinessUnitSerializer,
    DeviceCreateSerializer,
    DeviceEventCreateSerializer,
    DeviceEventSerializer,
    DeviceModelSerializer,
    DeviceSerializer,
    DeviceUpdateSerializer,
    ErrorSerializer,
    EventAction,
    PersonSerializer,
)
from devices.models import Device, DeviceEvent, DeviceModel

API_SOURCE = "api"

# --- Schema pieces shared by the endpoints ---------------------------------

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID). A retry with the same key and body returns the "
    "first response (with `Idempotent-Replayed: true`) and writes nothing again; the same key "
    "with a different body is a 409. Keys are per token and kept for 24 hours.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The device's ETag as last read. If the device has changed since, the update "
    "is refused with 412. Without If-Match the update applies to the current version "
    "(last writer wins).",
)
REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=True,
    description="`true` when this is the stored response to an earlier request with the "
    "same Idempotency-Key.",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201, 304],
    description="The device version; send it back in If-Match.",
)


def _err(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


READ_ERRORS = {
    400: _err("Invalid filter or cursor."),
    401: _err("Missing, expired or revoked token."),
    403: _err("Your role does not allow this."),
    429: _err("Rate limit reached; see Retry-After."),
}
WRITE_ERRORS = {
    **READ_ERRORS,
    400: _err("Malformed body or invalid fields; `fields` names each field and the reason."),
    409: _err("Idempotency-Key reused with a different request, or the first is in flight."),
    415: _err("The body is not JSON."),
}
NOT_FOUND = {404: _err("No such object in your business units.")}


class EstateViewMixin:
    permission_classes = [EstatePermission]
    # JSON only: integrations send JSON, and one body format keeps errors predictable.
    parser_classes = [JSONParser]


# --- Devices ---------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List devices in your business units",
        description="Cursor-paginated by id (follow `next`); filters combine with AND.",
        responses={200: DeviceSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One device",
        parameters=[
            ETAG,
            OpenApiParameter(
                "If-None-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="An ETag you hold: 304 with no body if the device is unchanged.",
            ),
        ],
        responses={
            200: DeviceSerializer,
            304: OpenApiResponse(description="Unchanged since the ETag in If-None-Match."),
            **READ_ERRORS,
            **NOT_FOUND,
        },
    ),
)
class DeviceViewSet(
    EstateViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    # The columns a device's representation reads: a page of 100 builds 500 model
    # instances (device, maker, model, unit, holder), and loading only these
    # fields roughly halves that work at the list's 25 ms budget.
    LIST_COLUMNS = (
        "id",
        "serial_number",
        "asset_tag",
        "status",
        "location",
        "purchase_date",
        "warranty_expires",
        "purchase_cost",
        "last_seen",
        "os_version",
        "version",
        "created_at",
        "updated_at",
        "manufacturer__name",
        "device_model__name",
        "device_model__category",
        "business_unit__code",
        "assigned_to__staff_number",
    )

    def get_queryset(self):
        queryset = selectors.device_list(user=self.request.user)
        if self.action == "list":
            queryset = queryset.only(*self.LIST_COLUMNS)
        return queryset

    def retrieve(self, request, *args, **kwargs):
        device = self.get_object()
        # A poller that sends back the ETag it holds gets 304 with no body if nothing changed.
        if_none_match = request.headers.get("If-None-Match", "")
        if device.etag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": device.etag})
        return Response(self.get_serializer(device).data, headers={"ETag": device.etag})

    @extend_schema(
        summary="Register a device",
        request=DeviceCreateSerializer,
        parameters=[IDEMPOTENCY_KEY, REPLAYED, ETAG],
        responses={201: DeviceSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        data = DeviceCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        # One transaction: a device refused after its model was created leaves no model.
        with transaction.atomic():
            manufacturer = services.manufacturer_get_or_create(name=values.pop("manufacturer"))
            device_model = services.device_model_get_or_create(
                manufacturer=manufacturer,
                name=values.pop("model"),
                category=values.pop("category"),
            )
            device = services.device_create(
                manufacturer=manufacturer,
                device_model=device_model,
                actor=request.user,
                source=API_SOURCE,
                **values,
            )
        device = self.get_queryset().get(pk=device.pk)
        return Response(
            self.get_serializer(device).data,
            status=status.HTTP_201_CREATED,
            headers={
                "ETag": device.etag,
                "Location": reverse("device-detail", kwargs={"pk": device.pk}),
            },
        )

    @extend_schema(
        summary="Change a device's details",
        description="Status and assignment change through events; identity fields never "
        "change. Send If-Match with the ETag you read to avoid overwriting someone else's "
        "change: a stale ETag is a 412. Without If-Match the change applies to the current "
        "version.",
        request=DeviceUpdateSerializer,
        parameters=[IF_MATCH, ETAG],
        responses={
            200: DeviceSerializer,
            **WRITE_ERRORS,
            **NOT_FOUND,
            412: _err("If-Match names a version the device no longer has."),
        },
    )
    def partial_update(self, request, *args, **kwargs):
        device = self.get_object()
        version = expected_version(device, request.headers.get("If-Match"))
        data = DeviceUpdateSerializer(data=request.data, context={"request": request}, partial=True)
        data.is_valid(raise_exception=True)
        services.device_update(
            device=device,
            changes=dict(data.validated_data),
            actor=request.user,
            expected_version=version,
            source=API_SOURCE,
        )
        device = self.get_queryset().get(pk=device.pk)
        return Response(self.get_serializer(device).data, headers={"ETag": device.etag})

    # -- events of one device --

    @extend_schema(
        summary="A device's lifecycle log",
        responses={200: DeviceEventSerializer(many=True), **READ_ERRORS, **NOT_FOUND},
        filters=False,
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="events",
        serializer_class=DeviceEventSerializer,
        filterset_class=None,
    )
    def events(self, request, pk=None):
        device = self.get_object()
        page = self.paginate_queryset(
            DeviceEvent.objects.filter(device=device).select_related("recorded_by")
        )
        # The request in the context: commercial values in details are the caller's to see.
        serializer = DeviceEventSerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    @extend_schema(
        summary="Record a lifecycle event",
        description="Actions: "
        + "; ".join(f"`{value}`: {label}" for value, label in EventAction.CHOICES)
        + ". A deploy beyond the person's entitlement is refused (code "
        "`entitlement_exceeded`) unless an entitlement exception has been approved; a move "
        "the status machine does not allow is refused (code `transition_not_allowed`).",
        request=DeviceEventCreateSerializer,
        parameters=[IDEMPOTENCY_KEY, REPLAYED, ETAG],
        responses={201: DeviceEventSerializer, **WRITE_ERRORS, **NOT_FOUND},
    )
    @events.mapping.post
    @idempotent
    def events_create(self, request, pk=None):
        device = self.get_object()
        data = DeviceEventCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        event = _record_event(device=device, actor=request.user, **data.validated_data)
        device.refresh_from_db(fields=["version"])
        return Response(
            DeviceEventSerializer(event, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": device.etag},
        )

    @extend_schema(
        summary=f"Upsert up to {bulk.max_items():,} devices",
        description='A JSON array of devices, or `{"devices": [...]}`, named as the import '
        "columns. Each item is created, updated, unchanged or an error with field messages, by "
        "the importer's rules (upsert by manufacturer + serial number, or by asset tag for an "
        "item without a serial number; the good items land). "
        "A business unit outside your scope is reported as `business_unit: not found`. "
        'With `{"devices": [...], "record_exceptions": true}` (asset managers only: a 403 for '
        "any other role, integrations included) an item that would put a person past their "
        "role's entitlement is kept and an entitlement exception awaiting review is recorded, "
        "instead of the item being refused `entitlement_exceeded`: for the first migration of "
        f"an existing estate. More than {bulk.max_items():,} items is a 400 naming the limit.",
        request=PolymorphicProxySerializer(
            component_name="BulkDevicesRequest",
            serializers=[BulkDeviceItemSerializer(many=True), BulkRequestSerializer],
            resource_type_field_name=None,
            many=False,
        ),
        parameters=[IDEMPOTENCY_KEY, REPLAYED],
        responses={
            200: BulkResponseSerializer,
            **WRITE_ERRORS,
            400: _err(
                f"Not a list of objects, more than {bulk.max_items():,} items, or "
                "`record_exceptions` not a boolean."
            ),
            403: _err(
                "Your role does not allow this, or `record_exceptions` from a role other than "
                "asset manager."
            ),
        },
        filters=False,
    )
    @action(detail=False, methods=["post"], url_path="bulk", filterset_class=None)
    @idempotent
    def bulk(self, request):
        outcome = bulk.bulk_upsert(request=request, data=request.data)
        return Response(outcome, status=status.HTTP_200_OK)


def _record_event(*, device: Device, actor, action: str, assigned_to=None, note="", reference=""):
    """Map an API action onto the estate's services (the status machine decides)."""
    details = {k: v for k, v in {"note": note, "reference": reference}.items() if v}
    common = {"actor": actor, "source": API_SOURCE}
    S, K = Device.Status, DeviceEvent.Kind
    if action == EventAction.DEPLOY:
        device = services.device_deploy(
            device=device, person=assigned_to, details=details, **common
        )
    elif action == EventAction.RETURN:
        device = services.device_transition(
            device=device, to_status=S.RETURNED, kind=K.RETURNED, details=details, **common
        )
    elif action == EventAction.REPAIR_START:
        device = services.device_transition(
            device=device, to_status=S.IN_REPAIR, kind=K.REPAIR_STARTED, details=details, **common
        )
    elif action == EventAction.REPAIRED:
        # Back to its holder (or into stock) if in repair; fixed in place: history only.
        done = lifecycle.device_repair_finish(device=device, details=details, **common)
        if isinstance(done, DeviceEvent):
            return done
        device = done
    elif action == EventAction.LOST:
        device = services.device_transition(
            device=device, to_status=S.LOST_STOLEN, kind=K.LOST, details=details, **common
        )
    elif action == EventAction.FOUND:
        device = lifecycle.device_found(device=device, details=details, **common)
    elif action == EventAction.RECLAIM:
        device = services.device_transition(
            device=device, to_status=S.IN_STOCK, kind=K.RECLAIMED, details=details, **common
        )
    else:  # note
        return services.device_event_record(device=device, kind=K.NOTE, details=details, **common)
    return device.events.order_by("-id").select_related("recorded_by").first()


@extend_schema_view(
    list=extend_schema(
        summary="Lifecycle events across your business units",
        responses={200: DeviceEventSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One event", responses={200: DeviceEventSerializer, **READ_ERRORS, **NOT_FOUND}
    ),
)
class DeviceEventViewSet(EstateViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = DeviceEventSerializer
    filterset_class = DeviceEventFilter

    def get_queryset(self):
        return DeviceEvent.objects.visible_to(self.request.user).select_related("recorded_by")


# --- Reference data --------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Business units in your scope",
        responses={200: BusinessUnitSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One business unit",
        responses={200: BusinessUnitSerializer, **READ_ERRORS, **NOT_FOUND},
    ),
)
class BusinessUnitViewSet(EstateViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = BusinessUnitSerializer
    filterset_class = BusinessUnitFilter
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.business_unit_list(user=self.request.user).select_related("parent")


@extend_schema_view(
    list=extend_schema(
        summary="People in your business units",
        responses={200: PersonSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One person by staff number",
        responses={200: PersonSerializer, **READ_ERRORS, **NOT_FOUND},
    ),
)
class PersonViewSet(EstateViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PersonSerializer
    filterset_class = PersonFilter
    lookup_field = "staff_number"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.person_list(user=self.request.user)


@extend_schema_view(
    list=extend_schema(
        summary="The device-model catalogue",
        description="`unit_price` is OFFICIAL-SENSITIVE [COMMERCIAL]: only finance and "
        "commercial roles receive it.",
        responses={200: DeviceModelSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One device model",
        responses={200: DeviceModelSerializer, **READ_ERRORS, **NOT_FOUND},
    ),
)
class DeviceModelViewSet(EstateViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = DeviceModelSerializer
    filterset_class = DeviceModelFilter

    def get_queryset(self):
        # The catalogue is not unit data: every reading role sees all of it.
        return DeviceModel.objects.select_related("manufacturer")
