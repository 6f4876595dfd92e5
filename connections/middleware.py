"""Refuse query strings with NUL characters before any view sees them.

PostgreSQL text cannot hold NUL, so a search like `?q=%00` would end in a database error
(a 500) in our lists, the API's and the Django admin's alike; it is bad input, said once here.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

API_PREFIXES = ("/api/", "/cam/")


class RejectNulInQueryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad = sorted(
            {key for key, values in request.GET.lists() if "\x00" in key + "".join(values)}
        )
        if not bad:
            return self.get_response(request)
        message = "contains a NUL character, which is not allowed."
        if request.path.startswith(API_PREFIXES):
            names = [name.replace("\x00", "") or "query" for name in bad]
            return JsonResponse(
                {
                    "message": f"{', '.join(names)}: {message}",
                    "errors": {name: [message] for name in names},
                },
                status=400,
            )
        return HttpResponseBadRequest(f"A query parameter {message}")
