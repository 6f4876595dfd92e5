"""Helpers for the background worker (Huey, configured by settings.HUEY).

Jobs live in connections/tasks/jobs.py. Periodic jobs go through `periodic`, so that each
takes a lock and never runs twice at once, however many workers (and their schedulers) run.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from huey import crontab
from huey.api import TaskWrapper
from huey.contrib.djhuey import HUEY, db_periodic_task, lock_task

logger = logging.getLogger(__name__)

__all__ = ["HUEY", "crontab", "enqueue_after_commit", "periodic"]


def periodic(schedule: Callable[..., bool], name: str) -> Callable[[Callable], TaskWrapper]:
    """A periodic job run on `schedule` (a huey crontab), named `name`, under the lock `name`.

    Every worker runs a scheduler, so with several workers the job is enqueued several times
    at its hour; the lock (a row in the queue's storage, shared by all of them) makes a run
    that starts while another is running skip with "unable to acquire lock". The stable
    name keeps queued messages and locks valid when code moves.
    """

    def decorator(fn: Callable) -> TaskWrapper:
        # The lock sits inside the task, so it is taken by whichever worker runs the job.
        job = db_periodic_task(schedule, name=name)(lock_task(name)(fn))
        job.lock_name = name
        return job

    return decorator


def enqueue_after_commit(job: TaskWrapper, *args: Any, **kwargs: Any) -> None:
    """Enqueue `job(*args, **kwargs)` once the current transaction commits (at once outside
    one): a worker must not pick a job up before the rows it reads are visible. A queue that
    cannot be reached is logged, never turned into an error of the page that asked."""

    def enqueue() -> None:
        try:
            job(*args, **kwargs)
        except Exception:
            logger.exception("Could not enqueue the background job %s", job.name)

    transaction.on_commit(enqueue)
