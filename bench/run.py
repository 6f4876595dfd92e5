"""Performance at scale (issue 13): the goals table, measured through gunicorn.

For each database (SQLite, and PostgreSQL on a throwaway loopback server) and each size
(1k, 10k, 100k connections) it builds a database through bulk paths with the real shape
(mixed types and authentication, 5 Business Services, one connection in six unassigned,
history rows), serves each with gunicorn (2 workers) on 127.0.0.1, and times requests of a
logged-in scoped operator (a non-superuser in one Business Service), interleaving the sizes
and pages in every round. Then it prints every row of the issue's goals table: both numbers,
the ratio and the goal.

    make bench                     # 1k/10k/100k, SQLite and PostgreSQL (a few minutes)
    BENCH_QUICK=1 make bench       # 1k/10k, SQLite only, fewer rounds: a first look
    BENCH_SIZES=1000,20000 BENCH_DATABASES=sqlite,postgresql BENCH_ROUNDS=9 ...

`run.py build` is the internal step that fills one database (run in a process of its own,
with that database's environment) and prints what the measuring needs as JSON.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SIZES = [
    int(s)
    for s in os.environ.get("BENCH_SIZES", "1000,10000" if QUICK else "1000,10000,100000").split(
        ","
    )
]
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite" if QUICK else "sqlite,postgresql").split(",")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3" if QUICK else "21"))
RSS_REQUESTS = int(os.environ.get("BENCH_RSS_REQUESTS", "1000" if QUICK else "10000"))
SEARCH = "smtp7"
SEED_PAGE = 100


# ---------------------------------------------------------------- building one database


def build() -> None:
    """Fill the database of this process's environment; print cookies, token, ids as JSON."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from oauth2_provider.models import AccessToken, Application
    from simple_history.utils import bulk_create_with_history

    from connections import crypto, records, service_sort
    from connections.models import BusinessService, EmailConnection, OAuthClient

    size = int(os.environ["BENCH_SIZE"])
    call_command("migrate", verbosity=0)
    users = get_user_model().objects
    admin = users.create_superuser("bench-admin", "admin@example.com", "bench-pass-1")
    operator = users.create_user("bench-operator", "operator@example.com", "bench-pass-1")
    operator.user_permissions.set(Permission.objects.filter(content_type__app_label="connections"))
    services = bulk_create_with_history(
        [BusinessService(name=f"Service {i}") for i in range(5)], BusinessService
    )
    services = list(BusinessService.objects.order_by("pk"))
    services[0].users.add(operator)
    client_record = records.save_record(
        OAuthClient(name="Bench OAuth", provider="google", client_id="bench-client"), admin
    ).record
    password = crypto.encrypt("Bench-Pa55")  # one ciphertext for all: the cost is the rows
    words = ["Billing", "Alerts", "Reports", "Robots", "Invoices", "Payroll", "Support"]

    def make(i: int) -> EmailConnection:
        outgoing = i % 3 != 2
        auth = ["none", "password", "oauth2"][i % 3] if outgoing else ["password", "oauth2"][i % 2]
        tested = i % 4
        return EmailConnection(
            # names not in pk order, so that sorting by name is real work
            name=f"{words[(i * 7919) % len(words)]} {(i * 104729) % 1000003:07} {i}",
            description=f"Connection number {i} of the bench data.",
            connection_type="outgoing" if outgoing else "incoming",
            smtp_server=f"smtp{i}.example.com" if outgoing else "",
            smtp_port=587,
            imap_server="" if outgoing else f"imap{i}.example.com",
            imap_port=993,
            enable_starttls=outgoing,
            enable_ssl=not outgoing,
            email_address=f"robot{i}@example.com",
            authentication=auth,
            user_name=f"robot{i}" if auth != "none" else "",
            password_enc=password if auth == "password" else "",
            oauth_client=client_record if auth == "oauth2" else None,
            oauth_authorized=auth == "oauth2",
            oauth_needs_reauth=auth == "oauth2" and i % 10 == 0,
            last_test_ok=None if tested == 0 else tested != 3,
            last_test_at=None if tested == 0 else django.utils.timezone.now(),
            last_test_summary="" if tested == 0 else "All stages passed.",
        )

    started = time.perf_counter()
    batch = 5000
    for first in range(0, size, batch):
        bulk_create_with_history(
            [make(i) for i in range(first, min(first + batch, size))],
            EmailConnection,
            batch_size=batch,
            default_user=admin,
        )
    through = EmailConnection.business_services.through
    pks = list(EmailConnection.objects.order_by("pk").values_list("pk", flat=True))
    through.objects.bulk_create(
        (
            through(emailconnection_id=pk, businessservice_id=services[n % 5].pk)
            for n, pk in enumerate(pks)
            if n % 6 != 5
        ),
        batch_size=batch,
    )
    service_sort.refresh(EmailConnection)  # bulk inserts send no m2m_changed
    built = time.perf_counter() - started

    # Two records with 10 and 1,000 versions for the admin history page (on the first size).
    history_queries = {}
    if os.environ.get("BENCH_VERSIONS") == "1":
        for count, pk in ((10, pks[0]), (1000, pks[1])):
            record = EmailConnection.objects.get(pk=pk)
            for i in range(count - 1):
                record.description = f"change {i}"
                record = records.save_record(record, admin).record
        client = Client()
        client.force_login(admin)
        for count, pk in ((10, pks[0]), (1000, pks[1])):
            url = f"/admin/connections/emailconnection/{pk}/history/"
            client.get(url)
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            history_queries[count] = len(queries)

    def cookie(user: object) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    app = Application.objects.create(
        name="bench",
        user=operator,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    token = AccessToken.objects.create(
        application=app,
        token=f"bench-token-{size}",
        scope="read write test",
        expires=django.utils.timezone.now() + django.utils.timezone.timedelta(days=1),
    )
    result = {
        "operator": cookie(operator),
        "admin": cookie(admin),
        "token": token.token,
        "service": services[0].pk,
        "built": built,
        "history_queries": history_queries,
        "vendor": connection.vendor,
    }
    if os.environ.get("BENCH_PROBE") == "1":
        result["probe"] = probe_vs_smtplib()
    print(json.dumps(result))


def probe_vs_smtplib() -> dict:
    """The Test probe and raw smtplib doing the same exchange with a loopback aiosmtpd."""
    import smtplib

    from aiosmtpd.controller import Controller

    from connections.mail import probe

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    params = probe.ProbeParams(
        "smtp", "127.0.0.1", port, email_address="bench@example.com", recipient=""
    )

    def ours() -> None:
        assert probe.run(params).ok

    def raw() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("bench@example.com")
            smtp.rcpt("bench@example.com")

    timings: dict[str, list[float]] = {"probe": [], "smtplib": []}
    try:
        for _ in range(5):
            ours(), raw()
        for _ in range(60):
            for name, call in (("probe", ours), ("smtplib", raw)):
                started = time.perf_counter()
                call()
                timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        controller.stop()
    return {name: statistics.median(values) for name, values in timings.items()}


# ---------------------------------------------------------------- serving and measuring


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One database served by gunicorn (2 workers) on 127.0.0.1."""

    def __init__(self, db: str, size: int, env: dict[str, str], info: dict) -> None:
        self.db, self.size, self.env, self.info = db, size, env, info
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "config.wsgi",
                "--chdir",
                str(ROOT),
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            env={**env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
            cwd=ROOT,
        )
        for _ in range(200):
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn on {self.port} did not start")

    def get(self, path: str, who: str = "", token: bool = False) -> tuple[float, int, bytes, dict]:
        headers = {"Host": "127.0.0.1"}
        if who:
            headers["Cookie"] = f"sessionid={self.info[who]}"
        if token:
            headers["Authorization"] = f"Bearer {self.info['token']}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        conn.close()
        return elapsed, response.status, body, dict(response.getheaders())

    def timed(self, path: str, who: str = "operator", token: bool = False) -> float:
        elapsed, status, body, _ = self.get(path, who, token)
        if status != 200:
            raise RuntimeError(f"{path} on {self.db} {self.size}: {status} {body[:300]!r}")
        return elapsed

    def worker_rss(self) -> int:
        """Kilobytes of resident memory of the workers (not the master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        total = 0
        for pid in children.read_text().split():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        shutil.rmtree(self.env["APP_VAR_DIR"], ignore_errors=True)  # the database, 100k rows


def interleaved(variants: list[tuple[str, Server, str, str]], rounds: int) -> dict[str, float]:
    """p50 ms of each (label, server, path, who), all variants requested once per round."""
    for _, server, path, who in variants:
        server.timed(path, who)  # warm up templates, caches, the database's pages
    timings: dict[str, list[float]] = {label: [] for label, *_ in variants}
    for _ in range(rounds):
        for label, server, path, who in variants:
            timings[label].append(server.timed(path, who))
    return {label: statistics.median(values) for label, values in timings.items()}


def requests_per_second(server: Server, path: str, seconds: float) -> float:
    """Two client threads asking as fast as they get answers (gunicorn has 2 workers)."""
    done = [0, 0]
    stop = time.perf_counter() + seconds

    def loop(n: int) -> None:
        while time.perf_counter() < stop:
            server.timed(path, "", token=True)
            done[n] += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - started)


def start_postgres() -> tuple[str, callable]:
    """A throwaway PostgreSQL on 127.0.0.1, as .ci/with-postgres does; returns its base URL."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    pg = str(bins[-1])
    folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    port = free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)

    as_postgres(
        f"{pg}/initdb",
        "-D",
        f"{folder}/data",
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    as_postgres(
        f"{pg}/pg_ctl",
        "-D",
        f"{folder}/data",
        "-l",
        f"{folder}/server.log",
        "-w",
        "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off "
        "-c synchronous_commit=off -c shared_buffers=256MB",
        "start",
    )
    as_postgres(
        "psql",
        "-q",
        "-h",
        str(folder),
        "-p",
        str(port),
        "-U",
        "postgres",
        "-c",
        "CREATE ROLE bench LOGIN PASSWORD 'bench-pw' CREATEDB SUPERUSER",
    )

    def stop() -> None:
        as_postgres(f"{pg}/pg_ctl", "-D", f"{folder}/data", "-m", "fast", "stop")
        shutil.rmtree(folder, ignore_errors=True)

    def database(name: str) -> str:
        as_postgres(
            "psql",
            "-q",
            "-h",
            str(folder),
            "-p",
            str(port),
            "-U",
            "postgres",
            "-c",
            f"CREATE DATABASE {name} OWNER bench",
        )
        return f"postgres://bench:bench-pw@127.0.0.1:{port}/{name}"

    return database, stop


def serve(db: str, size: int, database_url: str, first: bool) -> Server:
    var = tempfile.mkdtemp(prefix=f"bench-{db}-{size}-")
    env = {**os.environ, "APP_VAR_DIR": var, "BENCH_SIZE": str(size), "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["DATABASE_URL"] = database_url or f"sqlite:///{var}/db.sqlite3"
    if db == "postgresql":
        env["DB_CONN_MAX_AGE"] = "60"  # persistent connections, as in production
    if first:
        env["BENCH_VERSIONS"] = "1"
        env["BENCH_PROBE"] = "1" if db == DATABASES[0] else "0"
    started = time.perf_counter()
    out = subprocess.run(
        [PY, __file__, "build"], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"  {db} {size:>7,} connections: built in {time.perf_counter() - started:.0f} s "
        f"(rows {info['built']:.0f} s)",
        flush=True,
    )
    return Server(db, size, env, info)


SORTS = [
    "name",
    "connection_type",
    "server",
    "port",
    "email_address",
    "authentication",
    "system_connection",
    "last_test_ok",
    "last_test_at",
    "business_services",
    "updated_at",
]
FILTERS = [
    "connection_type=outgoing",
    "authentication=password",
    "business_services={service}",
    "status=ok",
]


def measure(db: str, servers: list[Server]) -> dict:
    small, large = servers[0], servers[-1]
    results: dict = {"db": db, "small": small.size, "large": large.size}
    service = small.info["service"]
    pages = {"default sort": "/connections/", "last page": "/connections/?page=last"}
    pages |= {f"sort {s}": f"/connections/?sort={s}" for s in SORTS}
    pages |= {f"sort -{s}": f"/connections/?sort=-{s}" for s in ("name", "updated_at")}
    pages |= {f"filter {f.split('=')[0]}": f"/connections/?{f}" for f in FILTERS}
    pages["search"] = f"/connections/?q={SEARCH}"
    variants = []
    for label, path in pages.items():
        for server in (small, large):
            own = path.replace("{service}", str(server.info["service"]))
            variants.append(((label, server.size), server, own, "operator"))
    variants += [
        (("superuser list", large.size), large, "/connections/", "admin"),
        (("bare view", large.size), large, "/bench/bare/", "operator"),
        (("list 50/page superuser", large.size), large, "/connections/?per_page=50", "admin"),
        (
            ("admin changelist 50/page", large.size),
            large,
            "/admin/connections/emailconnection/",
            "admin",
        ),
    ]
    del service
    results["p50"] = interleaved(variants, ROUNDS)
    seconds = 2.0 if QUICK else 4.0
    api = {"api": [], "bare": []}
    for _ in range(2):
        api["api"].append(requests_per_second(large, "/api/v1/connections/", seconds))
        api["bare"].append(requests_per_second(large, "/bench/bare-api/", seconds))
    results["api"] = {k: statistics.median(v) for k, v in api.items()}
    results["seed"] = seed_list(large)
    results["rss"] = rss(small)
    return results


def seed_list(server: Server) -> dict:
    """The seed list at the largest size: a page, the last page, memory across many pages."""
    url = "/cam/api/v1/smtpconnections"
    _, status, body, headers = server.get(url, token=True)
    total = int(headers.get("X-Total-Count", "0"))
    first_ms = statistics.median(server.timed(url, "", token=True) for _ in range(5))
    last = f"{url}?offset={max(total - SEED_PAGE, 0)}"
    last_ms = statistics.median(server.timed(last, "", token=True) for _ in range(5))
    offsets = range(0, total, max(total // 100, SEED_PAGE))
    for offset in offsets:  # a first walk across the list warms the workers up
        server.timed(f"{url}?offset={offset}", "", token=True)
    before = server.worker_rss()
    for offset in offsets:
        server.timed(f"{url}?offset={offset}", "", token=True)
    pages = len(offsets)
    return {
        "paged": "X-Total-Count" in headers,
        "status": status,
        "bytes": len(body),
        "total": total,
        "first_ms": first_ms,
        "last_ms": last_ms,
        "rss_before": before,
        "rss_after": server.worker_rss(),
        "pages": pages,
    }


def rss(server: Server) -> dict:
    """Workers' memory after a warm-up, halfway through RSS_REQUESTS more list requests and at
    their end. A worker's caches (templates, URL resolvers, the allocator's pools) settle over
    its first couple of thousand requests (measured: 98, 102, 103, 104 MB after 200, 1,000,
    2,000, 4,000 requests, then 104 MB up to 10,000), so the warm-up is 2,000 requests."""
    warm_up = 200 if QUICK else 2000

    def requests(count: int) -> None:
        def loop() -> None:
            for _ in range(count // 2):
                server.timed("/connections/")

        threads = [threading.Thread(target=loop) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    requests(warm_up)
    warm = server.worker_rss()
    requests(RSS_REQUESTS // 2)
    middle = server.worker_rss()
    requests(RSS_REQUESTS // 2)
    return {
        "warm": warm,
        "middle": middle,
        "after": server.worker_rss(),
        "requests": RSS_REQUESTS,
        "warm_up": warm_up,
    }


# ---------------------------------------------------------------- the table


def row(measure: str, cells: list[str], goal: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("meets" if ok else "MISSES")
    print(f"| {measure} | {' | '.join(cells)} | {goal} | {verdict} |")


def table(all_results: list[dict], probe: dict, history: dict) -> None:
    print()
    print("| measure | database | numbers | ratio | goal | |")
    print("|---|---|---|---|---|---|")
    for r in all_results:
        p50, small, large = r["p50"], r["small"], r["large"]
        labels = sorted(
            {label for label, _ in p50 if label.startswith(("default", "sort", "filter", "last"))},
            key=lambda s: (not s.startswith("default"), s),
        )
        for label in labels:
            a, b = p50[(label, small)], p50[(label, large)]
            row(
                f"list p50 {large // 1000}k / {small // 1000}k, scoped, {label}",
                [r["db"], f"{b:.1f} / {a:.1f} ms", f"{b / a:.2f}"],
                "<= 1.3",
                b / a <= 1.3,
            )
    for r in all_results:
        p50, small, large = r["p50"], r["small"], r["large"]
        a, b = p50[("search", small)], p50[("search", large)]
        goal = "<= 3" if r["db"] == "postgresql" else "(say what SQLite gives)"
        row(
            f"search p50 {large // 1000}k / {small // 1000}k",
            [r["db"], f"{b:.1f} / {a:.1f} ms", f"{b / a:.2f}"],
            goal,
            b / a <= 3 if r["db"] == "postgresql" else None,
        )
    for measure, (below, above), goal, limit in (
        ("scoped / superuser, list", ("superuser list", "default sort"), "<= 1.2", 1.2),
        ("list / bare view", ("bare view", "default sort"), "<= 3", 3),
        (
            "list / admin changelist, 50/page",
            ("admin changelist 50/page", "list 50/page superuser"),
            "<= 0.5",
            0.5,
        ),
    ):
        for r in all_results:
            p50, large = r["p50"], r["large"]
            a, b = p50[(below, large)], p50[(above, large)]
            row(
                f"{measure} at {large // 1000}k",
                [r["db"], f"{b:.1f} / {a:.1f} ms", f"{b / a:.2f}"],
                goal,
                b / a <= limit,
            )
    if probe:
        a, b = probe["smtplib"], probe["probe"]
        row(
            "Test probe / raw smtplib (loopback aiosmtpd)",
            ["-", f"{b:.2f} / {a:.2f} ms", f"{b / a:.2f}"],
            "<= 1.3",
            b / a <= 1.3,
        )
    for r in all_results:
        a, b = r["api"]["bare"], r["api"]["api"]
        row(
            f"/api/v1/connections/ / bare DRF req/s at {r['large'] // 1000}k",
            [r["db"], f"{b:.0f} / {a:.0f} req/s", f"{b / a:.2f}"],
            ">= 0.5",
            b / a >= 0.5,
        )
    for r in all_results:
        s = r["seed"]
        flat = s["rss_after"] / s["rss_before"]
        row(
            f"seed list at {r['large'] // 1000}k",
            [
                r["db"],
                f"{s['total']:,} in pages of {SEED_PAGE}; first {s['first_ms']:.1f} ms, last "
                f"{s['last_ms']:.1f} ms, {s['bytes']:,} bytes a page; worker RSS "
                f"{s['rss_before'] // 1024} -> {s['rss_after'] // 1024} MB over "
                f"{s['pages']} more pages",
                f"{flat:.2f}",
            ],
            "paged, memory flat",
            s["paged"] and s["status"] == 200 and flat <= 1.05,
        )
    if history:
        a, b = history["10"], history["1000"]
        row(
            "admin history page queries, 10 / 1,000 versions",
            ["-", f"{a} / {b}", f"{b / a:.2f}"],
            "constant",
            a == b,
        )
    for r in all_results:
        m = r["rss"]
        ratio = m["after"] / m["warm"]
        row(
            f"worker RSS after {m['requests']:,} list requests / after a warm-up of "
            f"{m['warm_up']:,}",
            [
                r["db"],
                f"{m['after'] // 1024} / {m['warm'] // 1024} MB ({m['middle'] // 1024} MB halfway)",
                f"{ratio:.3f}",
            ],
            "<= 1.05",
            ratio <= 1.05,
        )


def main() -> None:
    started = time.perf_counter()
    print(f"bench: sizes {SIZES}, databases {DATABASES}, {ROUNDS} rounds", flush=True)
    results, probe, history = [], {}, {}
    for db in DATABASES:
        servers, stop_pg = [], None
        try:
            database = None
            if db == "postgresql":
                database, stop_pg = start_postgres()
            for n, size in enumerate(SIZES):
                url = database(f"bench_{size}") if database else ""
                servers.append(serve(db, size, url, first=n == 0))
            first = servers[0].info
            probe = probe or first.get("probe", {})
            history = history or first["history_queries"]
            results.append(measure(db, servers))
        finally:
            for server in servers:
                server.stop()
            if stop_pg:
                stop_pg()
    table(results, probe, history)
    print(f"\nbench ran {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if sys.argv[1:] == ["build"]:
        build()
    else:
        main()
