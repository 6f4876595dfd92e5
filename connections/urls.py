from django.urls import path
from django.views.generic import RedirectView

from connections import (  # noqa: F401 - converters registers <id:...>
    converters,
    notification_views,
    task_urls,
    transfer_views,
    views,
)

app_name = "connections"


def record_urls(kind: views.Kind) -> list:
    name, slug = kind.name, kind.slug
    return [
        path(f"{slug}/", views.RecordListView.as_view(kind=kind), name=f"{name}-list"),
        path(f"{slug}/new/", views.RecordCreateView.as_view(kind=kind), name=f"{name}-new"),
        path(
            f"{slug}/export/",
            transfer_views.record_export,
            {"kind": kind},
            name=f"{name}-export",
        ),
        path(f"{slug}/<id:pk>/", views.RecordDetailView.as_view(kind=kind), name=f"{name}-detail"),
        path(
            f"{slug}/<id:pk>/versions/",
            views.RecordVersionsView.as_view(kind=kind),
            name=f"{name}-versions",
        ),
        path(
            f"{slug}/<id:pk>/versions/compare/",
            views.RecordCompareView.as_view(kind=kind),
            name=f"{name}-compare",
        ),
        path(
            f"{slug}/<id:pk>/versions/<id:number>/",
            views.RecordVersionView.as_view(kind=kind),
            name=f"{name}-version",
        ),
        path(
            f"{slug}/<id:pk>/versions/<id:number>/restore/",
            views.action_view(views.record_restore, kind),
            name=f"{name}-restore",
        ),
        path(
            f"{slug}/<id:pk>/copy/",
            views.action_view(views.record_copy, kind),
            name=f"{name}-copy",
        ),
        path(
            f"{slug}/<id:pk>/delete/",
            views.action_view(views.record_delete, kind),
            name=f"{name}-delete",
        ),
    ]


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="connections:emailconnection-list"), name="home"),
    path("connections/test/", views.connection_test, name="emailconnection-test-new"),
    path("connections/<id:pk>/test/", views.connection_test, name="emailconnection-test"),
    path(
        "connections/<id:pk>/authorize/",
        views.connection_authorize,
        name="emailconnection-authorize",
    ),
    path(
        "connections/<id:pk>/disconnect/",
        views.connection_disconnect,
        name="emailconnection-disconnect",
    ),
    path("oauth/callback/", views.oauth_callback, name="oauth-callback"),
    path("import/", transfer_views.import_page, name="import"),
    path("notifications/", notification_views.notification_log, name="notification-log"),
    path(
        "notifications/settings/",
        notification_views.notification_settings,
        name="notification-settings",
    ),
    path(
        "connections/<id:pk>/templates/",
        views.ConnectionTemplatesView.as_view(kind=views.KINDS["emailconnection"]),
        name="emailconnection-templates",
    ),
]
for _kind in views.KINDS.values():
    urlpatterns += record_urls(_kind)
urlpatterns += task_urls.urlpatterns
