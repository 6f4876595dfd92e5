"""The app's URLs plus two trivial views, served by the same gunicorn for the ratios."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


@login_required
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<!doctype html><title>bare</title><p>bare</p>")


class BareApi(APIView):
    """Same authentication (Bearer token) and renderer as the API, no query, no serializer."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-api/", BareApi.as_view()),
    path("", include("config.urls")),
]
