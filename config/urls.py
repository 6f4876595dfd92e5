from django.contrib import admin
from django.urls import include, path

from connections import health
from connections.api.oauth_views import CSPAuthorizationView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", health.healthz, name="healthz"),
    # Before DOT's own: the consent page's CSP lets it redirect to the registered client.
    path("o/authorize/", CSPAuthorizationView.as_view(), name="oauth2-authorize"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("", include("connections.api.urls")),
    path("", include("connections.urls")),
]
