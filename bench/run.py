"""Benchmarks: pages of this console against the Django admin on the same data, same run.

Builds a throwaway SQLite database (or uses DATABASE_URL), then times in-process requests:
- the Email Connections list vs the admin changelist, with 2,000 connections;
- a record's Versions tab vs the admin history page, with 1,000 versions.
Prints median and p95 milliseconds and the query count of each page.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("APP_VAR_DIR", tempfile.mkdtemp(prefix="bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import warnings

import django

warnings.filterwarnings("ignore", message="No directory at")

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from connections import records  # noqa: E402
from connections.models import BusinessService, EmailConnection  # noqa: E402

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "2000"))
VERSIONS = int(os.environ.get("BENCH_VERSIONS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))


def build() -> tuple[object, EmailConnection]:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-pass-1")
    services = [
        records.save_record(BusinessService(name=f"Service {i}"), user).record for i in range(5)
    ]
    EmailConnection.objects.bulk_create(
        EmailConnection(
            name=f"Connection {i:05}",
            smtp_server=f"smtp{i}.example.com",
            smtp_port=587,
            enable_starttls=True,
            email_address=f"robot{i}@example.com",
            user_name=f"robot{i}",
        )
        for i in range(CONNECTIONS)
    )
    through = EmailConnection.business_services.through
    through.objects.bulk_create(
        through(emailconnection_id=pk, businessservice_id=services[pk % 5].pk)
        for pk in EmailConnection.objects.values_list("pk", flat=True)
    )
    record = EmailConnection.objects.order_by("pk").first()
    for i in range(VERSIONS - 1):
        record = EmailConnection.objects.get(pk=record.pk)
        record.description = f"change {i}"
        records.save_record(record, user)
    return user, record


def measure(client: Client, url: str) -> tuple[float, float, int]:
    client.get(url)  # warm caches and templates
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], len(queries)


def main() -> None:
    started = time.perf_counter()
    user, record = build()
    print(
        f"data: {CONNECTIONS} connections, {VERSIONS} versions of one record, "
        f"{connection.vendor}, built in {time.perf_counter() - started:.1f} s, {ROUNDS} rounds"
    )
    client = Client()
    client.force_login(user)
    pairs = [
        (
            "connection list (25/page)",
            "/connections/",
            "admin changelist (100/page)",
            "/admin/connections/emailconnection/",
        ),
        (
            "connection list (100/page)",
            "/connections/?per_page=100",
            "admin changelist (100/page)",
            "/admin/connections/emailconnection/",
        ),
        (
            "versions tab (25/page)",
            f"/connections/{record.pk}/versions/",
            "admin history page",
            f"/admin/connections/emailconnection/{record.pk}/history/",
        ),
        (
            "versions tab, last page",
            f"/connections/{record.pk}/versions/?page=last",
            "admin history, last page",
            f"/admin/connections/emailconnection/{record.pk}/history/?p=10",
        ),
    ]
    print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for ours, our_url, theirs, their_url in pairs:
        reset_queries()
        for label, url in ((ours, our_url), (theirs, their_url)):
            median, p95, queries = measure(client, url)
            print(f"{label:34} {median:10.1f} {p95:8.1f} {queries:8d}")


if __name__ == "__main__":
    main()
