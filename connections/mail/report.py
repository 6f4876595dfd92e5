"""What a connection test found, stage by stage, and the clock that times each stage."""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import quote, quote_plus

from connections.mail import labels

Status = Literal["ok", "failed", "skipped"]

MAX_REPLY = 600
MASK = "********"
# What one test reads from a server at most: a hostile server streaming endless lines
# must fail its stage, not grow the worker. LIST may be long on a mailbox with many folders.
STAGE_BYTES = 64 * 1024
STAGE_BYTES_FOR = {"list": 192 * 1024}
TEST_BYTES = 256 * 1024
# A piece of a secret's base64 shorter than this is too common to mask on its own
MIN_BASE64_CORE = 4
URL_SAFE = str.maketrans("+/", "-_")


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


class Overflow(Failed):
    """The server sent more than a stage or a test reads."""


class Stop(Exception):
    """A stage failed or the time ran out: the remaining stages are skipped."""


class Own(str):
    """The app's own words in a reply or detail: never scrubbed, so that a password which is
    an ordinary word is not revealed by where the stars land."""

    __slots__ = ()


def truncate(text: str, limit: int = MAX_REPLY) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def secret_forms(*secrets: str) -> list[str]:
    """Every form in which a server could echo a secret back, longest first.

    As is and IMAP-quoted; base64, standard and URL-safe, padded or not, including the part
    that encodes the secret inside a longer base64 text at each of the three byte alignments
    (a server echoing "AUTH PLAIN <...>" re-encoded); hex; percent-encoded.
    """
    forms: set[str] = set()
    for secret in filter(None, secrets):
        raw = secret.encode()
        forms |= {
            secret,
            secret.replace("\\", "\\\\").replace('"', '\\"'),
            raw.hex(),
            raw.hex().upper(),
        }
        for percent in _percent_forms(secret):
            forms |= {percent, re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), percent)}
        for encoded in _base64_forms(raw):
            forms |= {encoded, encoded.translate(URL_SAFE)}
    return sorted(forms, key=len, reverse=True)


def _percent_forms(secret: str) -> list[str]:
    # encoders differ in what they leave as is: "/" (URLs), space as "+" (forms), nothing
    every = "".join(f"%{byte:02X}" for byte in secret.encode())
    return [
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote_plus(secret, "/"),
        every,
    ]


def _base64_forms(raw: bytes) -> list[str]:
    whole = base64.b64encode(raw).decode()
    forms = [whole, whole.rstrip("=")]
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw).decode()
        # characters wholly made of the secret's bits: none of the bytes before or after
        core = encoded[(8 * offset + 5) // 6 : 8 * (offset + len(raw)) // 6]
        if len(core) >= MIN_BASE64_CORE:
            forms.append(core)
    return forms


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every secret in strings nested anywhere in value; the app's Own words stay."""
    if isinstance(value, Own):
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
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
    The protocol clients report every read to `received`, which bounds the bytes as well.

    Replies and details are scrubbed of secrets when kept; hints are the app's own words and
    are not, so a hint that quotes the server quotes it through `scrub`.
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
        self.current = ""  # the stage running now
        self.stage_bytes = 0
        self.test_bytes = 0
        self.overflowed = False

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

    def scrub(self, server_text: str) -> str:
        """Server-sent text about to be quoted in a hint, masked of every secret."""
        return scrub(server_text, self.secrets)

    def received(self, size: int, line_limit: int = 0) -> None:
        """Count `size` bytes read (one line, when line_limit is given) against the limits.

        Raises Overflow, which fails the running stage, as soon as a limit is passed.
        """
        if line_limit and size > line_limit:
            self._overflow(f"a line longer than {_kib(line_limit)}")
        self.stage_bytes += size
        self.test_bytes += size
        stage_limit = STAGE_BYTES_FOR.get(self.current, STAGE_BYTES)
        if self.stage_bytes > stage_limit:
            self._overflow(f"more than {_kib(stage_limit)}")
        if self.test_bytes > TEST_BYTES:
            self._overflow(f"more than {_kib(TEST_BYTES)} in this test", whole_test=True)

    def _overflow(self, what: str, whole_test: bool = False) -> None:
        self.overflowed = True
        stage = labels.stage(self.current) if self.current else "the goodbye"
        where = f"(the limit was reached during {stage})" if whole_test else f"during {stage}"
        protocol = self.report.protocol.upper()
        raise Overflow(
            Own(f"Stopped reading: {what} received."),
            f"The server sent {what} {where}: this is not a well-behaved {protocol} server. "
            "Check the server name and port.",
        )

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
        self.current, self.stage_bytes = name, 0
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
            self.current = ""
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
        stage.detail = scrub(stage.detail, self.secrets)
        self.report.stages.append(stage)


def _kib(size: int) -> str:
    return f"{size // 1024} KiB"
