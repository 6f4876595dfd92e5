"""Development: the web server (runserver) and the background worker (run_huey) in one command.

    python manage.py serve 127.0.0.1:8000      # what `make run` starts
    python manage.py serve --workers 4         # more worker threads for run_huey

Ctrl-C, SIGTERM or SIGHUP stops both; if either ends by itself the other is stopped too and
the command fails. Production runs gunicorn and `manage.py run_huey` as separate services.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 10


class Command(BaseCommand):
    help = "Run the development web server and the background worker together (Ctrl-C stops both)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=1, help="Worker threads of run_huey.")
        parser.add_argument("--noreload", action="store_true", help="Passed to runserver.")

    def handle(self, *args: Any, **options: Any) -> None:
        # The children inherit DJANGO_SETTINGS_MODULE; config.manage works in a checkout and
        # in an installed copy alike.
        manage = [sys.executable, "-m", "config.manage"]
        # -f: the only worker clears locks a killed run left behind (see connections/worker.py).
        worker = [*manage, "run_huey", "--workers", str(options["workers"]), "--flush-locks"]
        web = [*manage, "runserver", options["addrport"]]
        if options["noreload"]:
            web.append("--noreload")

        stop_signal: list[int] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop_signal.append(signum)

        # Before starting the children: they then start with default handlers, even when this
        # command was started with SIGINT ignored (in the background, from a script).
        for signum in STOP_SIGNALS:
            signal.signal(signum, on_signal)
        parent = os.getppid()
        # Each child leads its own process group, so a signal reaches runserver's reloader
        # child too, and a terminal's Ctrl-C reaches the children only through this command.
        children = {  # our own manage.py with fixed arguments
            "worker (run_huey)": subprocess.Popen(worker, start_new_session=True),  # noqa: S603
            "web server (runserver)": subprocess.Popen(web, start_new_session=True),  # noqa: S603
        }
        self.stderr.write(", ".join(f"{name}: pid {child.pid}" for name, child in children.items()))
        ended = None
        while not stop_signal and ended is None:
            ended = next((name for name, c in children.items() if c.poll() is not None), None)
            if os.getppid() != parent:  # whoever started us is gone: do not outlive it
                break
            time.sleep(0.2)
        stop(children.values())
        if ended is not None:
            raise CommandError(
                f"The {ended} exited with code {children[ended].returncode}; stopped the other.",
                returncode=1,
            )


def stop(children: Iterable[subprocess.Popen]) -> None:
    """SIGINT to each child's process group (the worker finishes its running jobs), then
    SIGKILL whatever is still there after GRACE_SECONDS."""
    for child in children:
        signal_group(child, signal.SIGINT)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(child, signal.SIGKILL)
            child.wait()


def signal_group(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(child.pid, signum)
