"""Bad input is a 4xx with the stable error shape, never a 500."""

import json
import random

import pytest

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices/"


def assert_error_shape(response, status):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    return error


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "not json",
        '{"serial_number": }',
        "\x00\x01\x02",
        '{"a": NaN}',
        "[1, 2",
        "",
    ],
)
def test_malformed_json_is_a_400(api_as, integration, estate, raw):
    response = api_as(integration).post(DEVICES, raw=raw, check_request=False)

    assert_error_shape(response, 400)


def test_invalid_utf8_is_a_400(api_as, integration, estate):
    response = api_as(integration).post(
        DEVICES, raw=b'{"serial_number": "\xff\xfe"}', check_request=False
    )

    assert_error_shape(response, 400)


def test_a_non_json_content_type_is_refused_as_unsupported(api_as, integration, estate):
    # 415 Unsupported Media Type is the precise status (RFC 9110) and what DRF
    # answers; the body still has the error shape.
    response = api_as(integration).post(
        DEVICES, raw="serial_number=X", content_type="text/plain", check_request=False
    )

    assert_error_shape(response, 415)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "non_field_errors"),
        ("a string", "non_field_errors"),
        ({"serial_number": 123456}, "manufacturer"),
        ({"serial_number": ["x"]}, "serial_number"),
        ({"serial_number": {"x": 1}}, "serial_number"),
        (
            {
                "serial_number": "T1",
                "manufacturer": "Dell",
                "model": "M",
                "category": "laptop",
                "business_unit": "NORTH",
                "purchase_cost": True,
            },
            "purchase_cost",
        ),
        (
            {
                "serial_number": "T1",
                "manufacturer": "Dell",
                "model": "M",
                "category": "laptop",
                "business_unit": "NORTH",
                "purchase_date": "31/13/2024",
            },
            "purchase_date",
        ),
        (
            {
                "serial_number": "T1",
                "manufacturer": "Dell",
                "model": "M",
                "category": "laptop",
                "business_unit": "NORTH",
                "purchase_cost": "-1",
            },
            "purchase_cost",
        ),
        (
            {
                "serial_number": "T1",
                "manufacturer": "Dell",
                "model": "M",
                "category": "laptop",
                "business_unit": "NORTH",
                "purchase_cost": "1e400",
            },
            "purchase_cost",
        ),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(api_as, integration, estate, body, field):
    response = api_as(integration).post(DEVICES, body, check_request=False)

    error = assert_error_shape(response, 400)
    assert field in error["fields"]


def test_patch_with_garbage_if_match_is_412_not_500(api_as, integration, estate):
    response = api_as(integration).patch(
        f"{DEVICES}{estate.north_device.pk}/", {"location": "x"}, headers={"If-Match": '"zz"'}
    )

    assert_error_shape(response, 412)


def _random_json(rng, depth=0):
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**70, 1.5, 1e308])
    if kind == 3:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(0, 40)))
    if kind == 4:
        return rng.choice(["laptop", "NORTH", "2025-02-30", "£1,234.5", "6.37702E+15", ""])
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    keys = [
        "serial_number",
        "manufacturer",
        "model",
        "category",
        "business_unit",
        "status",
        "assigned_to",
        "purchase_cost",
        "purchase_date",
        "last_seen",
        "action",
        "note",
        "devices",
        "zzz",
    ]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(0, 8))}


@pytest.mark.parametrize("seed", range(3))
def test_fuzzed_bodies_never_cause_a_500(api_as, integration, estate, seed):
    rng = random.Random(seed)
    api = api_as(integration)
    urls = [DEVICES, f"{DEVICES}{estate.north_device.pk}/events/", f"{DEVICES}bulk/"]
    for _ in range(40):
        body = json.dumps(_random_json(rng))
        if rng.random() < 0.2:  # sometimes truncate or corrupt it
            body = body[: rng.randrange(len(body) + 1)]
        url = rng.choice(urls)
        response = api.post(url, raw=body, check_request=False)
        assert response.status_code < 500, (url, body, response.content)
        patch = api.patch(f"{DEVICES}{estate.north_device.pk}/", raw=body, check_request=False)
        assert patch.status_code < 500, (body, patch.content)


JUNK = [
    None,
    True,
    0,
    -5,
    2**64,
    1.5,
    float("1e308"),
    "",
    " ",
    "x" * 5000,
    # A NUL anywhere in the body refuses the whole request with a 400 naming where it
    # is (api.parsers; tests/security/test_api_errors.py), so it is not per-item junk.
    "😀",
    "2024-02-30",
    "31/12/1899",
    "01/13/2024",
    "£-1",
    "1.234,56",
    "9999999999999.99",
    "6.37702E+15",
    "deployed",
    "disposed",
    "NORTH",
    "SOUTH",
    "S0001",
    "'; DROP TABLE devices_device; --",
]


@pytest.mark.parametrize("seed", range(3))
def test_fuzzed_bulk_items_get_per_item_answers_never_a_500(api_as, integration, estate, seed):
    rng = random.Random(seed)
    columns = [
        "serial_number",
        "manufacturer",
        "model",
        "category",
        "business_unit",
        "asset_tag",
        "assigned_to",
        "status",
        "purchase_date",
        "warranty_expires",
        "purchase_cost",
        "location",
        "last_seen",
        "os_version",
    ]
    items = []
    for i in range(60):
        item = {
            "serial_number": f"FZ{seed}-{i}",
            "manufacturer": "Dell",
            "model": "Latitude 5440",
            "category": "laptop",
            "business_unit": "NORTH",
        }
        for column in rng.sample(columns, rng.randrange(1, 4)):
            item[column] = rng.choice(JUNK)
        items.append(item)

    response = api_as(integration).post(
        "/api/v1/devices/bulk/", raw=json.dumps(items), check_request=False
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(60))
    assert {r["outcome"] for r in results} <= {"created", "updated", "unchanged", "error"}
