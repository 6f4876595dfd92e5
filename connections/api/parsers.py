"""JSON only, and never more than DATA_UPLOAD_MAX_MEMORY_SIZE of it.

DRF reads the body straight from the request stream, past Django's size check on
`request.body`, so the limit is enforced here: an oversized body is a 413, not a parse.
"""

import io
from typing import Any

from django.conf import settings
from rest_framework import parsers

from connections.api.exceptions import PayloadTooLarge


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(limit)
        return super().parse(io.BytesIO(body), media_type, parser_context)
