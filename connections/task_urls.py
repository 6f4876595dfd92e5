"""Routes of the tasks' own pages (the generic record pages come from urls.record_urls)."""

from django.urls import path

from connections import task_views
from connections.views import KINDS, action_view

urlpatterns = [
    path(
        "connections/<id:pk>/tasks/",
        task_views.ConnectionTasksView.as_view(kind=KINDS["emailconnection"]),
        name="emailconnection-tasks",
    ),
    path(
        "templates/<id:pk>/tasks/",
        task_views.TemplateTasksView.as_view(kind=KINDS["emailtemplate"]),
        name="emailtemplate-tasks",
    ),
    path(
        "templates/<id:pk>/preview/",
        task_views.TemplatePreviewView.as_view(kind=KINDS["emailtemplate"]),
        name="emailtemplate-preview",
    ),
    path("runs/<id:pk>/", task_views.run_detail, name="taskrun-detail"),
    path("runs/<id:pk>/status/", task_views.run_status, name="taskrun-status"),
]
for _name in ("emailtask", "emailmonitortask"):
    _kind = KINDS[_name]
    urlpatterns += [
        path(
            f"{_kind.slug}/<id:pk>/runs/",
            task_views.TaskRunsView.as_view(kind=_kind),
            name=f"{_name}-runs",
        ),
        path(
            f"{_kind.slug}/<id:pk>/run/",
            action_view(task_views.run_now, _kind),
            name=f"{_name}-run",
        ),
    ]
