"""JSON only, never more than DATA_UPLOAD_MAX_MEMORY_SIZE of it, never nested too deep.

DRF reads the body straight from the request stream, past Django's size check on
`request.body`, so the limit is enforced here: an oversized body is a 413, not a parse.
Python's json recurses once per level: a body of 100,000 "[" would exhaust the stack (a
500), so the nesting is measured before parsing and more than MAX_DEPTH levels is a 400
(a request without a valid token never gets here: it is refused with 401 before its body
is read).
"""

import io
import re
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

from connections.api.exceptions import PayloadTooLarge

# The deepest real body (seed API: object > list of parameters > parameter) is 3 levels.
MAX_DEPTH = 32
STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
BRACKET = re.compile(rb"[\[\]{}]")


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(limit)
        if nesting_depth(body) > MAX_DEPTH:
            raise exceptions.ParseError(
                f"JSON parse error - the body is nested deeper than {MAX_DEPTH} levels."
            )
        return super().parse(io.BytesIO(body), media_type, parser_context)


def nesting_depth(body: bytes) -> int:
    """How many arrays and objects deep the JSON text goes (brackets in strings aside)."""
    brackets = BRACKET.findall(STRING.sub(b"", body))
    steps = (1 if b in (b"[", b"{") else -1 for b in brackets)
    return max(accumulate(steps), default=0)
