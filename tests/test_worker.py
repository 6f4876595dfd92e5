"""The background worker: real `run_huey` and `serve` processes on the test database, the
periodic jobs' locks, the queue chosen from the environment, enqueueing after commit."""

import contextlib
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from huey import crontab
from huey.signals import SIGNAL_COMPLETE, SIGNAL_LOCKED
from huey.storage import BaseStorage, RedisStorage, SqliteStorage
from oauth2_provider.models import AccessToken, set_token_value

import connections.tasks  # noqa: F401 - registers every job, as run_huey's autodiscovery does
from config.settings import postgres_dsn
from connections.tasks import jobs
from connections.worker import HUEY, enqueue_after_commit, periodic
from connections.worker_queue import LazyTablesPostgresStorage
from tests.mailservers import free_port

BASE_DIR = Path(settings.BASE_DIR)
POSTGRES = connection.vendor == "postgresql"
CHILDREN = re.compile(r"worker \(run_huey\): pid (\d+), web server \(runserver\): pid (\d+)")


def wait_until(condition: Callable[[], object], what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{log.read_text()}"
        time.sleep(0.05)


def url_of_the_test_database() -> str:
    """DATABASE_URL of the database this test runs on, for the processes it starts."""
    db = connection.settings_dict
    if POSTGRES:
        auth = f"{quote(db['USER'], safe='')}:{quote(db['PASSWORD'], safe='')}"
        return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{quote(db['NAME'], safe='')}"
    return f"sqlite:///{db['NAME']}"


@pytest.fixture
def worker_env(tmp_path: Path) -> dict[str, str]:
    """Environment of a process of this app on the test database, its var/ in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUEY_")}
    oidc_key = settings.OAUTH2_PROVIDER.get("OIDC_RSA_PRIVATE_KEY")
    return env | {
        "DATABASE_URL": url_of_the_test_database(),
        "APP_VAR_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        **({"OIDC_RSA_PRIVATE_KEY": oidc_key} if oidc_key else {}),
    }


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[BaseStorage]:
    """This process's Huey on the storage a worker started with `worker_env` uses: the
    test database on PostgreSQL, else a SQLite file in tmp_path (never the real var/)."""
    if POSTGRES:
        dsn = postgres_dsn(connection.settings_dict)
        storage = LazyTablesPostgresStorage(HUEY.name, dsn=dsn)
    else:
        storage = SqliteStorage(HUEY.name, filename=str(tmp_path / "huey.sqlite3"))
    immediate, original = HUEY.immediate, HUEY.storage
    HUEY.immediate = False
    HUEY.storage = storage
    yield storage
    HUEY.immediate = immediate
    HUEY.storage = original
    storage.close()  # PostgreSQL cannot drop the test database while it is connected


@pytest.fixture
def run_here(queue: BaseStorage) -> Iterator[None]:
    """Jobs executed in this process, on `queue`, as a worker would, except that they keep
    this test's database connection open (djhuey closes it after each job otherwise)."""
    HUEY.immediate_use_memory = False
    HUEY.immediate = True
    yield
    HUEY.immediate = False
    HUEY.immediate_use_memory = True


def stop(process: subprocess.Popen, signum: int = signal.SIGINT) -> int:
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@pytest.fixture
def worker(
    transactional_db: None, queue: BaseStorage, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[subprocess.Popen]:
    """A real `manage.py run_huey` (no scheduler) on the test database and `queue`."""
    log = (tmp_path / "run_huey.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "1", "--no-periodic"],
        cwd=BASE_DIR,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    stop(process)
    log.close()


def expiring_token(expires: datetime.datetime) -> AccessToken:
    token = AccessToken(scope="read", expires=expires)
    set_token_value(token, f"token-{expires.timestamp()}")
    token.save()
    return token


def test_a_job_enqueued_here_runs_in_a_real_worker_process(
    worker: subprocess.Popen, tmp_path: Path
) -> None:
    expired = expiring_token(timezone.now() - datetime.timedelta(hours=1))
    valid = expiring_token(timezone.now() + datetime.timedelta(hours=1))

    jobs.clear_expired_api_tokens()

    log = tmp_path / "run_huey.log"

    def expired_token_gone() -> bool:
        assert worker.poll() is None, log.read_text()
        return not AccessToken.objects.filter(pk=expired.pk).exists()

    wait_until(expired_token_gone, "the worker to delete the expired token", log)
    assert AccessToken.objects.filter(pk=valid.pk).exists()
    assert stop(worker) == 0  # SIGINT: a graceful stop
    assert "Executing connections.tasks.jobs.clear_expired_api_tokens" in log.read_text()


release_slow_job = threading.Event()
slow_job_started = threading.Event()


@periodic(crontab(minute="0", hour="0", day="1", month="1"), name="test_worker_slow_job")
def slow_job() -> str:
    slow_job_started.set()
    assert release_slow_job.wait(10)
    return "ran"


@pytest.fixture
def outcomes() -> Iterator[dict[str, str]]:
    """What became of each task this process executes: task id -> "complete" or "locked"."""
    seen: dict[str, str] = {}

    def record(signal_name: str, task: object, *args: object) -> None:
        seen[task.id] = signal_name

    HUEY.signal(SIGNAL_COMPLETE, SIGNAL_LOCKED)(record)
    yield seen
    HUEY.disconnect_signal(record)


def test_two_runs_of_a_periodic_job_at_once_run_it_once_and_skip_the_other(
    run_here: None, outcomes: dict[str, str]
) -> None:
    release_slow_job.clear()
    slow_job_started.clear()
    first, second = slow_job.s(), slow_job.s()
    running = threading.Thread(target=HUEY.execute, args=(first,))
    running.start()
    try:
        assert slow_job_started.wait(10)
        HUEY.execute(second)  # as a second worker would, while the first run holds the lock
    finally:
        release_slow_job.set()
        running.join(10)

    assert outcomes == {first.id: SIGNAL_COMPLETE, second.id: SIGNAL_LOCKED}
    assert not HUEY.is_locked("test_worker_slow_job")  # released after the run


@pytest.mark.django_db
def test_every_periodic_job_takes_a_lock_of_its_own_name(
    run_here: None, outcomes: dict[str, str]
) -> None:
    periodic_jobs = HUEY._registry._periodic_tasks
    assert "clear_expired_api_tokens" in {job.__name__ for job in periodic_jobs}
    expired = expiring_token(timezone.now() - datetime.timedelta(hours=1))
    for job in periodic_jobs:
        task = job()
        with HUEY.lock_task(job.__name__):
            HUEY.execute(task)
        assert outcomes[task.id] == SIGNAL_LOCKED, job.__name__
    assert AccessToken.objects.filter(pk=expired.pk).exists()  # skipped, not run


@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_in_a_transaction_reaches_the_queue_only_at_commit(
    queue: BaseStorage,
) -> None:
    with transaction.atomic():
        enqueue_after_commit(jobs.clear_expired_api_tokens)
        assert HUEY.pending_count() == 0
    assert HUEY.pending_count() == 1
    assert HUEY.pending()[0].name == "clear_expired_api_tokens"


@pytest.mark.django_db(transaction=True)
def test_a_queue_out_of_reach_is_logged_and_the_transaction_still_commits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    immediate, original = HUEY.immediate, HUEY.storage
    HUEY.immediate = False
    closed = free_port()  # nothing listens there
    HUEY.storage = RedisStorage(HUEY.name, url=f"redis://127.0.0.1:{closed}/0")
    try:
        with transaction.atomic():
            token = expiring_token(timezone.now())
            enqueue_after_commit(jobs.clear_expired_api_tokens)
    finally:
        HUEY.immediate = immediate
        HUEY.storage = original
    assert AccessToken.objects.filter(pk=token.pk).exists()
    assert "Could not enqueue the background job clear_expired_api_tokens" in caplog.text


def settings_in_subprocess(env: dict[str, str], tmp_path: Path, code: str) -> dict:
    """settings.HUEY (and what `code` adds to `out`) as a fresh process builds them."""
    script = f"""
import json
import config.settings
out = dict(config.settings.HUEY)
{code}
print(json.dumps(out))
"""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HUEY_", "DATABASE_URL"))}
    base |= {
        "APP_VAR_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "k",
        "FIELD_ENCRYPTION_KEYS": settings.FIELD_ENCRYPTION_KEYS[0],
        "OIDC_RSA_PRIVATE_KEY": "unused",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


BUILD_HUEY = """
import django
django.setup()
from huey.contrib.djhuey import HUEY
out["storage"] = type(HUEY.storage).__name__
out["immediate_now"] = HUEY.immediate
"""


def test_the_queue_is_a_sqlite_file_in_var_by_default(tmp_path: Path) -> None:
    huey = settings_in_subprocess({}, tmp_path, BUILD_HUEY)
    assert huey["huey_class"] == "huey.SqliteHuey"
    assert huey["filename"] == str(tmp_path / "huey.sqlite3")
    assert huey["storage"] == "SqliteStorage"
    assert huey["name"] == "email-connections"
    assert huey["immediate"] is False
    assert (tmp_path / "huey.sqlite3").exists()


def test_huey_immediate_runs_jobs_inline_for_tests(tmp_path: Path) -> None:
    huey = settings_in_subprocess({"HUEY_IMMEDIATE": "1"}, tmp_path, BUILD_HUEY)
    assert huey["immediate"] is True
    assert huey["storage"] == "MemoryStorage"


def test_the_queue_is_the_postgresql_database_of_database_url(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: building the queue must not connect
    url = f"postgres://app:p%40ss@127.0.0.1:{port}/console?sslmode=require"
    huey = settings_in_subprocess(
        {"DATABASE_URL": url},
        tmp_path,
        BUILD_HUEY + "from psycopg.conninfo import conninfo_to_dict\n"
        "out['dsn'] = conninfo_to_dict(out['dsn'])",
    )
    assert huey["huey_class"] == "connections.worker_queue.PostgresHuey"
    assert huey["storage"] == "LazyTablesPostgresStorage"
    assert huey["dsn"] == {
        "dbname": "console",
        "user": "app",
        "password": "p@ss",
        "host": "127.0.0.1",
        "port": str(port),
        "sslmode": "require",
        "options": "-c jit=off",  # the app's own connection options (config/settings.py)
    }
    assert huey["immediate"] is False


@pytest.mark.skipif(not POSTGRES, reason="the queue is in PostgreSQL only there")
@pytest.mark.django_db
def test_servers_starting_at_once_create_the_queue_tables_without_errors() -> None:
    dsn = postgres_dsn(connection.settings_dict)
    starting = threading.Barrier(8)
    errors: list[Exception] = []

    def first_use() -> None:
        storage = LazyTablesPostgresStorage(HUEY.name, dsn=dsn, table_prefix="huey_race")
        starting.wait(10)
        try:
            storage.queue_size()
        except Exception as error:  # collected for the assertion
            errors.append(error)
        finally:
            storage.close()

    servers = [threading.Thread(target=first_use) for _ in range(8)]
    for server in servers:
        server.start()
    for server in servers:
        server.join(30)
    assert errors == []


def test_commands_start_while_the_postgresql_queue_is_unreachable(
    worker_env: dict[str, str],
) -> None:
    url = f"postgres://app:pw@127.0.0.1:{free_port()}/app"
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=worker_env | {"DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_the_queue_is_redis_with_huey_redis_url_even_on_postgresql(tmp_path: Path) -> None:
    env = {
        "HUEY_REDIS_URL": "redis://127.0.0.1:6390/3",
        "DATABASE_URL": "postgres://app:pw@127.0.0.1:5432/app",
    }
    huey = settings_in_subprocess(
        env,
        tmp_path,
        BUILD_HUEY
        + "kwargs = HUEY.storage.conn.connection_pool.connection_kwargs\n"
        + "out['redis'] = {k: kwargs[k] for k in ('host', 'port', 'db')}",
    )
    assert huey["huey_class"] == "huey.RedisHuey"
    assert huey["storage"] == "RedisStorage"
    assert huey["redis"] == {
        "host": "127.0.0.1",
        "port": 6390,
        "db": 3,
    }
    assert huey["immediate"] is False


@dataclass
class Launcher:
    process: subprocess.Popen
    port: int
    worker_pid: int
    web_pid: int
    log: Path

    def web_answers(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=2).ok
        except requests.ConnectionError:
            return False


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def launcher(
    transactional_db: None, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Launcher]:
    """`manage.py serve` (what `make run` starts) on a free port, both children up."""
    port, log_path = free_port(), tmp_path / "serve.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    pids: list[int] = []
    try:

        def started() -> bool:
            assert process.poll() is None, log_path.read_text()
            return CHILDREN.search(log_path.read_text()) is not None

        wait_until(started, "serve to start its children", log_path)
        pids += map(int, CHILDREN.search(log_path.read_text()).groups())
        running = Launcher(process, port, *pids, log_path)
        wait_until(running.web_answers, "the web server to answer", log_path)
        wait_until(lambda: "Huey consumer started" in log_path.read_text(), "the worker", log_path)
        yield running
    finally:
        stop(process)
        for pid in pids:  # each child leads its own process group: nothing may outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        log.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_the_web_server_and_the_worker_on_ctrl_c_or_sigterm(
    launcher: Launcher, signum: int
) -> None:
    launcher.process.send_signal(signum)

    assert launcher.process.wait(15) == 0
    assert gone(launcher.worker_pid)
    assert gone(launcher.web_pid)
    assert not launcher.web_answers()  # runserver's reloader child is gone too
    assert "Consumer exiting" in launcher.log.read_text()  # the worker stopped gracefully


def test_serve_stops_the_web_server_and_fails_when_the_worker_dies(launcher: Launcher) -> None:
    os.kill(launcher.worker_pid, signal.SIGKILL)

    assert launcher.process.wait(15) == 1
    assert gone(launcher.web_pid)
    assert not launcher.web_answers()
    assert "The worker (run_huey) exited with code -9" in launcher.log.read_text()
