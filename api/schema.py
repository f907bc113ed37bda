"""drf-spectacular extensions for the API's own classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ExpiringTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; create a key with `manage.py create_api_token`.",
        }


# Every error the API can answer, documented on every operation it can reach, in the one
# error shape (core.errors.error_body). Schema fuzzing (tests/security/test_api_fuzz.py)
# fails on any status an operation answers that is not documented here or on the view.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "required": ["status", "code", "message", "fields"],
        }
    },
    "required": ["error"],
}
ALWAYS = {
    "400": "The request is invalid (a query parameter, header or body): the error names "
    "the field and the reason.",
    "401": "No credentials, or a token that is unknown, expired or revoked.",
    "403": "The caller's role may not use this operation.",
    "404": "Nothing with that identifier within the caller's business units, or no such path.",
    "429": "Too many requests for this token; retry after the seconds in Retry-After.",
    "503": "The service's database is unavailable for a moment (nothing was changed); "
    "retry after the seconds in Retry-After.",
}
WITH_BODY = {
    "409": "A rule of the estate refused the change, or the Idempotency-Key is in use.",
    "415": "The body is not in a media type this operation accepts (JSON).",
}
WITH_IF_MATCH = {"412": "If-Match names a version the resource no longer has."}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def _error_response(description: str, ref: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the API's error answers to every
    operation, leaving any response a view documents itself as it is."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    ref = "#/components/schemas/Error"
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "head", *WRITE_METHODS}:
                continue
            responses = operation.setdefault("responses", {})
            wanted = dict(ALWAYS)
            if method in WRITE_METHODS:
                wanted.update(WITH_BODY)
            if any(p.get("name") == "If-Match" for p in operation.get("parameters", [])):
                wanted.update(WITH_IF_MATCH)
            for status, description in wanted.items():
                responses.setdefault(status, _error_response(description, ref))
            for status in ("429", "503"):
                if status in responses:
                    responses[status].setdefault("headers", {})["Retry-After"] = {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before the next request.",
                    }
    return result
