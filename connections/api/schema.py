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
    "hostname": {"type": "string", "maxLength": 255, "pattern": NOT_BLANK},
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


def has(name: str, value: dict[str, Any] | None = None) -> dict[str, Any]:
    """The list holds an entry `name` (whose value matches `value`)."""
    entry: dict[str, Any] = {"properties": {"name": {"const": name}}, "required": ["name"]}
    if value is not None:
        entry["properties"]["value"] = value
    return {"contains": entry}


def lacks(name: str, value: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"not": has(name, value)}


TRUE = {"enum": [True, "true"]}
LOGIN = {"type": "string", "pattern": NOT_BLANK}
PASSWORD = {"type": "string", "minLength": 1}


def new_connection_rules() -> list[dict[str, Any]]:
    """What a new SMTP connection's parameters must hold (`seed.changes_for` + the model).

    hostname; Password authentication (explicit, or implied by a username or password)
    needs both username and password; OAuth 2.0 needs username and oauth_client; not SSL
    and STARTTLS together.
    """
    password_auth = [has("username", LOGIN), has("password", PASSWORD)]
    return [
        has("hostname"),
        {
            "anyOf": [
                has("authentication", {"enum": ["none", "None"]}),
                {
                    "allOf": [
                        has("authentication", {"enum": ["password", "Password"]}),
                        *password_auth,
                    ]
                },
                {
                    "allOf": [
                        has("authentication", {"enum": ["oauth2", "OAuth 2.0"]}),
                        has("username", LOGIN),
                        has("oauth_client"),
                    ]
                },
                {"allOf": [lacks("authentication"), *password_auth]},
                {
                    "allOf": [
                        lacks("authentication"),
                        lacks("username", LOGIN),
                        lacks("password", PASSWORD),
                    ]
                },
            ]
        },
        {"not": {"allOf": [has("enable_ssl", TRUE), has("enable_starttls", TRUE)]}},
    ]


def parameter_list(names: Iterable[str], new: bool = False) -> dict[str, Any]:
    """A list of {"name", "value"}: each name once, with its own value type.

    `new`: the parameters describe a whole new connection, not changes to a stored one.
    """
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
    once = [{**has(name), "minContains": 0, "maxContains": 1} for name in names]
    rules = new_connection_rules() if new else []
    return {"type": "array", "items": {"oneOf": entries}, "allOf": once + rules}


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
            for parameter in operation.get("parameters", []):
                # connections.middleware refuses a NUL in any query parameter (400)
                if parameter.get("in") == "query":
                    strict_string(parameter.get("schema", {}))
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
        else:
            as_stored(component)
    for name, rules in CROSS_FIELD.items():
        if name in schemas:
            schemas[name] = variants(schemas[name], rules)
    return result


def strict(component: dict[str, Any]) -> None:
    """No unknown keys; strings as the API checks them (DRF refuses NUL and blanks)."""
    component["additionalProperties"] = False
    for prop in component.get("properties", {}).values():
        blank_or_pattern(prop)
        strict_string(prop)


def as_stored(component: dict[str, Any]) -> None:
    """A response shows what is stored; input patterns (and URL syntax) are no promise
    about it: e.g. a Microsoft endpoint is derived from the Tenant ID as typed."""
    for prop in component.get("properties", {}).values():
        blank_or_pattern(prop)
        for alternative in [prop, *prop.get("anyOf", [])]:
            alternative.pop("pattern", None)
            if alternative.get("format") == "uri":
                del alternative["format"]


def blank_or_pattern(prop: dict[str, Any]) -> None:
    # drf-spectacular writes a blank-or-pattern field as oneOf [pattern, maxLength 0]; where
    # the pattern admits "" too (or is dropped), "" matches both and oneOf refuses it.
    alternatives = prop.get("oneOf", [])
    if alternatives and all(a.get("type") == "string" for a in alternatives):
        prop["anyOf"] = prop.pop("oneOf")


def strict_string(prop: dict[str, Any]) -> None:
    for alternative in prop.get("oneOf", []) + prop.get("anyOf", []):
        strict_string(alternative)
    if "pattern" in prop and prop.get("format") == "uri":
        del prop["format"]  # the pattern says it, in a form a generator can follow
    if prop.get("type") == "string" and "enum" not in prop and "pattern" not in prop:
        if prop.get("format") in ("email", "uri", "uuid", "date-time"):
            return
        if prop.get("maxLength") == 0:
            return
        prop["pattern"] = NOT_BLANK if prop.get("minLength", 0) >= 1 else NO_NUL


NOT_BOTH_TLS = {
    "not": {
        "properties": {"enable_ssl": {"enum": [True]}, "enable_starttls": {"enum": [True]}},
        "required": ["enable_ssl", "enable_starttls"],
    }
}
FILLED = {"pattern": NOT_BLANK}
SECRET = {"minLength": 1}  # not empty (a secret's spaces count)
REFERENCE = {"type": "integer"}


def connection_variant(kind: str, auth: str) -> dict[str, Any]:
    """The fields a new Email Connection of one Type and Authentication needs (model.clean)."""
    server = "smtp_server" if kind == "outgoing" else "imap_server"
    needs = {server: FILLED}
    if auth in ("password", "oauth2"):
        needs["user_name"] = FILLED
    if auth == "password":
        needs["password"] = SECRET
    if auth == "oauth2":
        needs["oauth_client"] = REFERENCE
    return {
        # The defaults (Outgoing, Password) hold when the field is left out.
        "select": {"connection_type": [kind], "authentication": [auth]},
        "require": [
            *needs,
            *(["connection_type"] if kind != "outgoing" else []),
            *(["authentication"] if auth != "password" else []),
        ],
        "override": needs,
        "not": NOT_BOTH_TLS["not"],
    }


# A create body as alternatives: each says which fields it needs and which values select it.
CROSS_FIELD: dict[str, list[dict[str, Any]]] = {
    "EmailConnectionRequest": [
        connection_variant("outgoing", "password"),
        connection_variant("outgoing", "none"),
        connection_variant("outgoing", "oauth2"),
        connection_variant("incoming", "password"),
        connection_variant("incoming", "oauth2"),
    ],
    "OAuthClientRequest": [
        {"select": {"provider": ["microsoft", "google"]}},
        {
            "select": {"provider": ["custom"]},
            "require": ["provider", "authorization_endpoint", "token_endpoint"],
            "override": {"authorization_endpoint": SECRET, "token_endpoint": SECRET},
        },
    ],
}


def variants(component: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    alternatives = []
    for rule in rules:
        variant = copy.deepcopy(component)
        for field, values in rule.get("select", {}).items():
            variant["properties"][field] = {"type": "string", "enum": values}
        for field, prop in rule.get("override", {}).items():
            current = variant["properties"][field]
            # A field that may be blank is oneOf [value, ""]: a required one is the value.
            base = current["oneOf"][0] if "oneOf" in current else current
            variant["properties"][field] = {**base, **prop}
        variant["required"] = sorted({*component.get("required", []), *rule.get("require", [])})
        if "not" in rule:
            variant["not"] = rule["not"]
        alternatives.append(variant)
    return {"oneOf": alternatives}
