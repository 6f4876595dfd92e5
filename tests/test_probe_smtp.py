import base64
import json
import time

from connections.mail.probe import ProbeParams, run
from connections.mail.report import Recorder, Report, secret_forms
from connections.mail.smtp import SUBJECT
from tests.mailservers import Endpoint, SmtpServer

SENDER = "alice@example.com"


def smtp(server: SmtpServer | Endpoint, **options: object) -> ProbeParams:
    values: dict = {
        "auth": "password", "username": "alice", "password": "s3cret",
        "email_address": SENDER, "timeout": 5.0,
    }  # fmt: skip
    values.update(options)
    return ProbeParams("smtp", server.host, server.port, **values)


def statuses(report: object) -> dict[str, str]:
    return {stage.name: stage.status for stage in report.stages}


def test_a_dry_run_over_plain_smtp_passes_every_stage_and_delivers_nothing(smtp_plain):
    report = run(smtp(smtp_plain))

    assert report.ok
    assert [s.name for s in report.stages] == [
        "dns", "connect", "greeting", "ehlo", "auth", "mail_from", "rcpt_to", "data", "abort",
    ]  # fmt: skip
    assert report.stage("data").reply.startswith("354")
    assert not report.sent
    assert smtp_plain.messages == []


def test_a_dry_run_with_starttls_reports_the_certificate_and_ehlo_twice(
    smtp_starttls, mail_ca_file
):
    report = run(smtp(smtp_starttls, starttls=True, ca_file=mail_ca_file))

    assert report.ok
    names = [s.name for s in report.stages]
    assert names[2:6] == ["greeting", "ehlo", "tls", "ehlo"]
    tls = report.stage("tls").detail
    assert tls["subject"] == "CN=localhost"
    assert tls["version"].startswith("TLSv1.")
    assert tls["verified"]
    assert tls["not_after"]
    assert "PLAIN" in report.stage("ehlo").detail["auth_mechanisms"]
    assert report.stage("data").status == "ok"
    assert smtp_starttls.messages == []


def test_a_dry_run_over_implicit_tls_passes(smtp_ssl, mail_ca_file):
    report = run(smtp(smtp_ssl, ssl=True, ca_file=mail_ca_file))

    assert report.ok
    assert report.stages[2].name == "tls"
    assert report.stage("data").status == "ok"
    assert smtp_ssl.messages == []


def test_a_recipient_gets_one_clearly_labelled_test_mail(smtp_starttls, mail_ca_file):
    params = smtp(smtp_starttls, starttls=True, ca_file=mail_ca_file, recipient="bob@example.com")

    report = run(params)

    assert report.ok
    assert report.sent
    assert report.stages[-1].name == "send"
    [received] = smtp_starttls.messages
    assert received.rcpt_tos == ["bob@example.com"]
    assert received.message["Subject"] == SUBJECT
    assert received.message["From"] == SENDER
    assert received.message["Message-ID"]
    assert "test" in received.message.get_content()


def test_xoauth2_with_a_valid_token_logs_in(smtp_ssl, mail_ca_file):
    params = smtp(
        smtp_ssl, ssl=True, ca_file=mail_ca_file, auth="oauth2", password="",
        username="alice@example.com", access_token="tok-123",
    )  # fmt: skip

    report = run(params)

    assert report.ok
    assert report.stage("auth").detail["mechanism"] == "XOAUTH2"


def test_xoauth2_with_a_refused_token_asks_to_reauthorize(smtp_ssl, mail_ca_file):
    params = smtp(
        smtp_ssl, ssl=True, ca_file=mail_ca_file, auth="oauth2", password="",
        username="alice@example.com", access_token="expired-token",
    )  # fmt: skip

    report = run(params)

    assert not report.ok
    assert report.failed_stage.name == "auth"
    assert "Reauthorize" in report.failed_stage.hint
    assert report.failed_stage.detail["error"]["status"] == "401"
    assert "expired-token" not in json.dumps(report.to_dict())


def test_a_wrong_password_fails_auth_and_never_shows_the_password(smtp_plain):
    report = run(smtp(smtp_plain, password="wrong-pw-1"))

    assert report.failed_stage.name == "auth"
    assert report.failed_stage.reply.startswith("535")
    assert "User Name and Password" in report.failed_stage.hint
    assert statuses(report)["mail_from"] == "skipped"
    assert "wrong-pw-1" not in json.dumps(report.to_dict())


def test_a_server_that_wants_starttls_says_to_enable_it(smtp_starttls):
    report = run(smtp(smtp_starttls))

    assert report.failed_stage.name == "auth"
    assert "turn on Enable STARTTLS" in report.failed_stage.hint


def test_ssl_against_a_plain_port_fails_the_tls_stage(smtp_plain, mail_ca_file):
    report = run(smtp(smtp_plain, ssl=True, ca_file=mail_ca_file))

    assert report.failed_stage.name == "tls"
    assert "turn off Enable SSL" in report.failed_stage.hint


def test_plain_smtp_against_an_implicit_tls_port_says_to_enable_ssl(smtp_ssl):
    report = run(smtp(smtp_ssl, timeout=1.0))

    assert report.failed_stage.name == "greeting"
    assert "turn on Enable SSL" in report.failed_stage.hint


def test_an_untrusted_certificate_fails_the_tls_stage(smtp_ssl):
    report = run(smtp(smtp_ssl, ssl=True))

    assert report.failed_stage.name == "tls"
    assert report.failed_stage.hint.startswith("Certificate not trusted")
    assert smtp_ssl.messages == []


def test_a_closed_port_fails_the_connect_stage(closed_port):
    report = run(smtp(Endpoint("127.0.0.1", closed_port)))

    assert report.failed_stage.name == "connect"
    assert "Nothing is listening on 127.0.0.1" in report.failed_stage.hint
    assert report.stages[-1].status == "skipped"


def test_a_server_that_never_greets_fails_in_bounded_time(silent_server):
    started = time.monotonic()

    report = run(smtp(silent_server, timeout=2.0))

    assert time.monotonic() - started < 5
    assert report.failed_stage.name == "greeting"
    assert "no greeting within 2 s" in report.failed_stage.hint


def test_the_whole_test_stops_at_total_timeout(silent_server):
    started = time.monotonic()

    report = run(smtp(silent_server, timeout=5.0, total_timeout=1.0))

    assert time.monotonic() - started < 2
    assert not report.ok
    assert report.failed_stage.name == "greeting"
    assert "at most 1 s" in report.failed_stage.hint


def test_an_unknown_host_fails_the_dns_stage():
    report = run(ProbeParams("smtp", "no-such-host.invalid", 25, timeout=2.0))

    assert report.failed_stage.name == "dns"
    assert "check the server name" in report.failed_stage.hint
    assert report.stage("connect").status == "skipped"


def test_a_password_echoed_by_the_server_is_masked_in_the_report():
    secret = "hunter2-xyz"
    recorder = Recorder(Report("smtp", "h", 25), ["auth"], 1.0, 1.0, secret_forms(secret))

    with recorder.stage("auth") as stage:
        encoded = base64.b64encode(secret.encode()).decode()
        stage.reply = f"535 bad password {secret} ({encoded})"
        stage.detail["echo"] = [secret]
    text = json.dumps(recorder.finish().to_dict())

    assert secret not in text
    assert encoded not in text
    assert "535 bad password ********" in text
