"""The demo estate's reference data: business units, role profiles with entitlements,
makers and catalogue, written through the ORM and the services (so with history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from accounts.models import BusinessUnit
from accounts.services import business_unit_save
from devices.demo.shape import CATALOGUE, ROLES, UNITS
from devices.models import Entitlement, RoleProfile
from devices.services import device_model_get_or_create, manufacturer_get_or_create


@dataclass
class Reference:
    """Ids of the reference rows the generator points at, and lookup tables."""

    units: dict[str, int] = field(default_factory=dict)
    roles: dict[str, int] = field(default_factory=dict)
    makers: dict[str, int] = field(default_factory=dict)
    models: dict[tuple[str, str], int] = field(default_factory=dict)


def reference_data_ensure() -> Reference:
    """Create (or find) the business units, role profiles with entitlements, makers and
    catalogue. Idempotent: existing rows are matched by code or name and kept."""
    ref = Reference()
    existing = {u.code: u for u in BusinessUnit.objects.all()}
    for n, spec in enumerate(UNITS):
        unit = existing.get(spec.code)
        if unit is None:
            unit = BusinessUnit(
                code=spec.code,
                name=spec.name,
                level=spec.level,
                parent_id=ref.units[spec.parent] if spec.parent else None,
                cost_centre=f"CC{40100 + n * 7:05d}",
                stewardship_email=f"{spec.code.lower()}.devices@met.example.police.uk",
            )
            business_unit_save(unit=unit)
        ref.units[spec.code] = unit.pk
    for spec in ROLES:
        role, _ = RoleProfile.objects.get_or_create(code=spec.code, defaults={"name": spec.name})
        ref.roles[spec.code] = role.pk
        for category, quantity in spec.entitlement.items():
            Entitlement.objects.get_or_create(
                role_profile=role, category=category, defaults={"quantity": quantity}
            )
    for entry in CATALOGUE:
        maker = manufacturer_get_or_create(name=entry.manufacturer)
        ref.makers[entry.manufacturer] = maker.pk
        model = device_model_get_or_create(
            manufacturer=maker, name=entry.name, category=entry.category
        )
        if model.unit_price is None or model.end_of_support is None:
            model.unit_price = model.unit_price or Decimal(entry.unit_price)
            model.end_of_support = model.end_of_support or entry.end_of_support
            model.full_clean()
            model.save()
        ref.models[(entry.manufacturer, entry.name)] = model.pk
    return ref
