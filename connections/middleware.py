"""Refuse query strings with NUL characters before a page, the admin or the API sees them.

PostgreSQL text cannot hold NUL, so a search like `?q=%00` (or any parameter that reaches a
query) would end in a database error, a 500; it is bad input, said once here for every
view, new ones included. The API gets its JSON error format, naming the parameters.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

API_PREFIXES = ("/api/", "/cam/")
NUL = "Null characters are not allowed."


class RejectNulInQueryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad = sorted(
            {key for key, values in request.GET.lists() if "\x00" in key + "".join(values)}
        )
        if not bad:
            return self.get_response(request)
        if request.path.startswith(API_PREFIXES):
            names = [name.replace("\x00", "\\x00") for name in bad]
            return JsonResponse(
                {"message": f"{', '.join(names)}: {NUL}", "errors": {n: [NUL] for n in names}},
                status=400,
            )
        return HttpResponseBadRequest("A query parameter contains a NUL character.")
