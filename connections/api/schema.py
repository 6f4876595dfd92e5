"""What the OpenAPI schema at /api/schema/ says beyond what drf-spectacular infers.

- Bearer tokens from /o/token/ (client credentials, or authorization code + PKCE), with
  the scope each operation needs.
- Every error status an operation can answer, with the one error shape.
- Request bodies exactly as strict as the API: no unknown keys, no NUL in strings, and
  the cross-field rules of the models where JSON Schema can say them (`oneOf`), so that
  a body the schema calls valid is one the API accepts.
"""

import copy
from collections.abc import Iterable
from typing import Any

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme

NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
# 1 to 65535 as digits, spaces around allowed (the API strips them)
PORT_TEXT = (
    r"^\s*0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]"
    r"|6553[0-5])\s*$"
)

SEED_ID = {
    "oneOf": [
        {"type": "integer"},
        {"type": "string", "pattern": NO_NUL},
    ],
    "description": "The connection's id (a number, or a string of digits) or its uuid.",
}
BOOLEAN = {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}
PARAMETER_VALUES: dict[str, dict[str, Any]] = {
    "hostname": {"type": "string", "maxLength": 255, "pattern": NO_NUL},
    "port": {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": 65535},
            {"type": "string", "pattern": PORT_TEXT},
        ]
    },
    "username": {"type": "string", "maxLength": 255, "pattern": NO_NUL},
    "password": {"type": "string", "maxLength": 1000, "pattern": NO_NUL, "writeOnly": True},
    "email_address": {"type": "string", "format": "email", "maxLength": 254},
    "enable_ssl": BOOLEAN,
    "enable_starttls": BOOLEAN,
    "authentication": {
        "type": "string",
        "enum": ["none", "password", "oauth2", "None", "Password", "OAuth 2.0"],
    },
    "system_connection": BOOLEAN,
    "oauth_client": {
        "oneOf": [{"type": "integer"}, {"type": "string", "pattern": NO_NUL}],
        "description": "An OAuth Client's name or id.",
    },
}
PARAMETER_OUTPUT = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "value": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]},
        },
        "required": ["name", "value"],
    },
    "description": "hostname, port, username, email_address, enable_ssl, enable_starttls, "
    "authentication, system_connection, password_set (never the password), and "
    "oauth_client when set.",
}


def parameter_list(names: Iterable[str]) -> dict[str, Any]:
    """A list of {"name", "value"} where each name has its own value type."""
    entries = [
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [name]},
                "value": PARAMETER_VALUES[name],
            },
            "required": ["name", "value"],
            "additionalProperties": False,
        }
        for name in names
    ]
    return {"type": "array", "items": {"oneOf": entries}}


class BearerTokenScheme(DjangoOAuthToolkitScheme):
    """DOT's scheme (flows and per-operation scopes) for our owner-aware subclass."""

    target_class = "connections.api.authentication.BearerTokenAuthentication"
    priority = 1


ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERRORS = {
    "400": "Bad input: the errors name each field and its problem.",
    "401": "No token, or an invalid or expired one.",
    "403": "The token lacks the scope, or its user the permission.",
    "404": "Unknown id, or a record of a Business Service you are not a member of.",
    "409": "Conflict: name taken, System Connection taken, stale version, or in use.",
    "413": "The request body is larger than 256 KiB.",
    "415": "The body is not JSON (Content-Type: application/json).",
    "429": "Too many tests: wait the Retry-After seconds.",
}


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["400", "401", "403", "404"]
    if method in ("post", "patch", "put"):
        statuses += ["413", "415"]
    if method in ("patch", "delete") or (method == "post" and "test" not in path.lower()):
        statuses.append("409")
    if method == "post" and "test" in path.lower():
        statuses.append("429")
    return statuses


def add_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: error responses and strict request bodies."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "errors": {"type": "object", "additionalProperties": {}},
        },
        "required": ["message", "errors"],
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in error_statuses(method, path, operation):
                responses.setdefault(
                    code,
                    {
                        "description": ERRORS[code],
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    for name, component in schemas.items():
        if name.endswith("Request"):
            strict(component)
    for name, rules in CROSS_FIELD.items():
        if name in schemas:
            schemas[name] = variants(schemas[name], rules)
    return result


def strict(component: dict[str, Any]) -> None:
    """No unknown keys; strings as the API checks them (DRF refuses NUL and blanks)."""
    component["additionalProperties"] = False
    for prop in component.get("properties", {}).values():
        if prop.get("type") == "string" and "enum" not in prop and "pattern" not in prop:
            if prop.get("format") in ("email", "uri", "uuid", "date-time"):
                continue
            prop["pattern"] = NOT_BLANK if prop.get("minLength", 0) >= 1 else NO_NUL


# A create body as alternatives: each says which fields it needs and which values select it.
CROSS_FIELD: dict[str, list[dict[str, Any]]] = {}


def variants(component: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    alternatives = []
    for rule in rules:
        variant = copy.deepcopy(component)
        for field, values in rule.get("select", {}).items():
            variant["properties"][field] = {**variant["properties"][field], "enum": values}
        for field, prop in rule.get("override", {}).items():
            variant["properties"][field] = {**variant["properties"][field], **prop}
        variant["required"] = sorted({*component.get("required", []), *rule.get("require", [])})
        if "not" in rule:
            variant["not"] = rule["not"]
        alternatives.append(variant)
    return {"oneOf": alternatives}
