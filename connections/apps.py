from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Email Connections"

    def ready(self) -> None:
        from connections import redaction, service_sort

        redaction.install()
        service_sort.install()
