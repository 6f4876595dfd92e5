"""Refuse query strings with NUL characters before a page or the admin sees them.

PostgreSQL text cannot hold NUL, so a search like `?q=%00` would end in a database error
(a 500) in our lists and the Django admin's; it is bad input, said once here. The API checks
its own parameters against its schema and answers in its JSON error format.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

API_PREFIXES = ("/api/", "/cam/")


class RejectNulInQueryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIXES):
            return self.get_response(request)
        if any("\x00" in key + "".join(values) for key, values in request.GET.lists()):
            return HttpResponseBadRequest("A query parameter contains a NUL character.")
        return self.get_response(request)
