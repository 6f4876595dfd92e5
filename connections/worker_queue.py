"""The worker's queue in PostgreSQL (settings.HUEY names it). No Django imports here: djhuey
loads this class while Django loads the apps."""

from typing import Any

import huey
from huey.storage import PostgresStorage

TABLES_LOCK = 0x68756579  # any fixed number: the advisory lock taken to create the tables


class LazyTablesPostgresStorage(PostgresStorage):
    """Huey's PostgreSQL storage, creating its tables when it first connects rather than when
    it is built. Huey's own connects as djhuey is imported, so that every command, gunicorn and
    a build step's collectstatic would fail to start while the database is unreachable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs | {"create_tables": False})
        self.tables_created = False

    def _create_connection(self) -> Any:
        connection = self._connect()
        if not self.tables_created:
            # "if not exists" still fails when two processes create the same table at once
            # (the first start of several servers): they take turns.
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", [TABLES_LOCK])
                for statement in self.ddl:
                    connection.execute(statement)
            self.tables_created = True
        return connection


class PostgresHuey(huey.PostgresHuey):
    storage_class = LazyTablesPostgresStorage
