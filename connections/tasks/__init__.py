"""Background work. `run_huey` imports this package (djhuey autodiscovers `<app>.tasks`),
which registers every worker job."""

from connections.tasks import jobs

__all__ = ["jobs"]
