"""GET /api/v1/notifications/: the notification log (what was sent, to whom, each failure)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets

from connections.api.permissions import READ, Access, ScopeAndModelPermission, access_for
from connections.api.views import Pagination
from connections.notification_models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = (
            "id",
            "created_at",
            "event",
            "record_type",
            "record_name",
            "link",
            "subject",
            "recipients",
            "status",
            "attempts",
            "error",
            "sent_at",
        )
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="The notification log, newest first"),
    retrieve=extend_schema(summary="One notification"),
)
class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = NotificationSerializer
    permission_classes = [permissions.IsAuthenticated, ScopeAndModelPermission]
    pagination_class = Pagination
    lookup_value_regex = "[0-9]{1,18}"
    queryset = Notification.objects.all()

    def access(self, request: object) -> Access | None:
        if self.action not in ("list", "retrieve"):
            return None
        return access_for(Notification, READ)
