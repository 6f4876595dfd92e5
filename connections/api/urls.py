"""The API's routes: the seed-compatible SMTP paths, /api/v1/ for every record type, the
OpenAPI schema and its documentation page (Swagger UI served from this app, offline)."""

from pathlib import Path

import drf_spectacular_sidecar
from django.urls import path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from connections.api import (  # noqa: F401 - schema: the token scheme
    notifications,
    schema,
    seed_views,
    tasks,
    transfer,
    views,
)

# Swagger UI's files ship in the drf-spectacular-sidecar package; serving them from here
# keeps the docs page working without internet access and without collectstatic.
DOCS_ASSETS = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"

router = SimpleRouter()
router.register("api/v1/connections", views.EmailConnectionViewSet, basename="api-connection")
router.register("api/v1/templates", views.EmailTemplateViewSet, basename="api-template")
router.register("api/v1/oauth-clients", views.OAuthClientViewSet, basename="api-oauth-client")
router.register(
    "api/v1/business-services", views.BusinessServiceViewSet, basename="api-business-service"
)
router.register("api/v1/email-tasks", tasks.EmailTaskViewSet, basename="api-email-task")
router.register(
    "api/v1/email-monitor-tasks", tasks.EmailMonitorTaskViewSet, basename="api-email-monitor-task"
)
router.register("api/v1/runs", tasks.TaskRunViewSet, basename="api-run")
router.register(
    "api/v1/notifications", notifications.NotificationViewSet, basename="api-notification"
)

SEED = "cam/api/v1/smtpconnections"
COMPOSER = "cam/composer/api/v1/smtpconnections"

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script from /api/docs/?script: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(
        r"^api/docs/assets/(?P<path>(swagger-ui-dist|redoc)/.+)$",
        serve,
        {"document_root": DOCS_ASSETS},
        name="api-docs-assets",
    ),
    path(SEED, seed_views.SmtpConnectionsView.as_view(), name="api-smtpconnections"),
    path(
        f"{SEED}/<str:connection_id>",
        seed_views.SmtpConnectionView.as_view(),
        name="api-smtpconnection",
    ),
    path(
        f"{COMPOSER}/patchConnectionParametersById",
        seed_views.PatchByIdView.as_view(),
        name="api-smtpconnection-patch",
    ),
    path(f"{COMPOSER}/testEmail", seed_views.TestEmailView.as_view(), name="api-smtp-test"),
    path(
        f"{COMPOSER}/testEmailById",
        seed_views.TestEmailByIdView.as_view(),
        name="api-smtp-test-by-id",
    ),
    path("api/v1/export/", transfer.ExportView.as_view(), name="api-export"),
    path("api/v1/import/", transfer.ImportView.as_view(), name="api-import"),
    *router.urls,
    re_path(r"^(?P<path>(api|cam)/.*)$", views.unknown_path),
]
