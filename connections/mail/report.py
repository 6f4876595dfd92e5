"""What a connection test found, stage by stage, and the clock that times each stage."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "failed", "skipped"]

MAX_REPLY = 600
MASK = "********"


@dataclass
class Stage:
    name: str
    status: Status = "skipped"
    duration_ms: float = 0.0
    reply: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    hint: str = ""


@dataclass
class Report:
    protocol: str
    host: str
    port: int
    ok: bool = False
    stages: list[Stage] = field(default_factory=list)
    sent: bool = False
    duration_ms: float = 0.0

    @property
    def failed_stage(self) -> Stage | None:
        return next((s for s in self.stages if s.status == "failed"), None)

    def stage(self, name: str) -> Stage | None:
        """The last stage of that name (after STARTTLS, "ehlo" runs twice)."""
        return next((s for s in reversed(self.stages) if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Failed(Exception):
    """The server answered, but not as the stage needs; `hint` tells the operator what to do."""

    def __init__(self, reply: str, hint: str) -> None:
        super().__init__(reply)
        self.reply = reply
        self.hint = hint


class Stop(Exception):
    """A stage failed or the time ran out: the remaining stages are skipped."""


def truncate(text: str, limit: int = MAX_REPLY) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def secret_forms(*secrets: str) -> list[str]:
    """Each secret as given and base64-encoded, the two ways it travels on the wire.

    A server that echoes the AUTH line back would otherwise leak it in base64.
    """
    forms = []
    for secret in secrets:
        if secret:
            forms += [secret, base64.b64encode(secret.encode()).decode()]
    return sorted(set(forms), key=len, reverse=True)


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every secret in strings nested anywhere in value."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    return value


def is_timeout(exc: BaseException) -> bool:
    """smtplib and imaplib re-raise socket timeouts as their own errors; look underneath."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, Failed) else f"{type(exc).__name__}: {text}"


class Recorder:
    """Runs a protocol's stages in order, timing each and turning exceptions into hints.

    `explain(stage_name, exc)` is the protocol's hint table. The whole run is bounded by
    total_timeout: every socket read gets at most the time left, and a watchdog shuts the
    socket down at the deadline so that a server trickling bytes cannot stretch it either.
    """

    def __init__(
        self,
        report: Report,
        plan: list[str],
        timeout: float,
        total_timeout: float,
        secrets: list[str],
    ) -> None:
        self.report = report
        self.plan = plan
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.secrets = secrets
        self.started = time.monotonic()
        self.deadline = self.started + total_timeout
        self.explain: Callable[[str, BaseException], str] = lambda name, exc: ""
        self.sock: Callable[[], socket.socket | None] = lambda: None
        self._watchdog: threading.Timer | None = None
        self.stopped = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def budget(self) -> float:
        """Seconds the next blocking step may take."""
        return max(0.001, min(self.timeout, self.remaining()))

    def expired(self) -> bool:
        return self.remaining() <= 0

    def arm(self, sock: Callable[[], socket.socket | None]) -> None:
        """Follow the live socket (it changes on STARTTLS) and cut it at the deadline."""
        self.sock = sock
        self._watchdog = threading.Timer(max(0.0, self.remaining()), self._cut)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _cut(self) -> None:
        sock = self.sock()
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        stage = Stage(name)
        if self.expired():
            # recorded as failed, so that a report that is not ok always names a failed stage
            stage.status, stage.hint = "failed", self._timeout_hint()
            self._keep(stage)
            raise Stop
        sock = self.sock()
        if sock is not None:
            sock.settimeout(self.budget())
        start = time.perf_counter()
        try:
            yield stage
        except Exception as exc:
            stage.status = "failed"
            if isinstance(exc, Failed):
                stage.reply, stage.hint = exc.reply, exc.hint
            else:
                stage.reply = stage.reply or describe(exc)
                stage.hint = self._timeout_hint() if self.expired() else self.explain(name, exc)
            raise Stop from exc
        else:
            stage.status = "ok"
        finally:
            stage.duration_ms = round((time.perf_counter() - start) * 1000, 1)
            self._keep(stage)

    def skip(self, name: str, reason: str) -> None:
        """A stage that does not apply (e.g. auth with Authentication None)."""
        self._keep(Stage(name, "skipped", hint=reason))

    def skip_rest(self) -> None:
        self.stopped = True
        for name in self.plan[len(self.report.stages) :]:
            self._keep(Stage(name, "skipped", hint="Not run: an earlier stage failed."))

    def finish(self) -> Report:
        if self._watchdog is not None:
            self._watchdog.cancel()
        report = self.report
        report.ok = not self.stopped and all(s.status != "failed" for s in report.stages)
        report.duration_ms = round((time.monotonic() - self.started) * 1000, 1)
        return report

    def _timeout_hint(self) -> str:
        return f"Stopped: the whole test may take at most {self.total_timeout:g} s."

    def _keep(self, stage: Stage) -> None:
        stage.reply = truncate(scrub(stage.reply, self.secrets))
        stage.hint = scrub(stage.hint, self.secrets)
        stage.detail = scrub(stage.detail, self.secrets)
        self.report.stages.append(stage)
