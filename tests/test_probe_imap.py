import json
import time

from connections.mail.imap import decode_utf7
from connections.mail.probe import ProbeParams, run
from tests.mailservers import Endpoint, ImapServer


def imap(server: ImapServer | Endpoint, port: int | None = None, **options: object) -> ProbeParams:
    values: dict = {
        "auth": "password", "username": "alice", "password": "s3cret",
        "email_address": "alice@example.com", "timeout": 5.0,
    }  # fmt: skip
    values.update(options)
    return ProbeParams("imap", server.host, port or server.port, **values)


def test_a_plain_login_lists_the_folders(imap_server):
    report = run(imap(imap_server))

    assert report.ok
    assert [s.name for s in report.stages] == [
        "dns", "connect", "greeting", "capability", "auth", "list", "trash_folder",
    ]  # fmt: skip
    assert report.stage("list").detail["folders"] == ["INBOX", "Trash"]
    assert report.stage("trash_folder").status == "skipped"


def test_starttls_upgrades_before_login(imap_server, mail_ca_file):
    report = run(imap(imap_server, starttls=True, ca_file=mail_ca_file))

    assert report.ok
    assert [s.name for s in report.stages][2:5] == ["greeting", "tls", "capability"]
    assert report.stage("tls").detail["subject"] == "CN=localhost"
    assert report.stage("capability").detail["tls"]


def test_imaps_logs_in_over_implicit_tls(imap_server, mail_ca_file):
    report = run(imap(imap_server, imap_server.ssl_port, ssl=True, ca_file=mail_ca_file))

    assert report.ok
    assert report.stages[2].name == "tls"
    assert report.stage("tls").detail["verified"]


def test_a_wrong_password_fails_auth_and_never_shows_the_password(imap_server):
    report = run(imap(imap_server, password="wrong-pw-2"))

    assert report.failed_stage.name == "auth"
    assert "User Name and Password" in report.failed_stage.hint
    assert report.stage("list").status == "skipped"
    assert "wrong-pw-2" not in json.dumps(report.to_dict())


def test_xoauth2_with_a_valid_token_logs_in(imap_server, mail_ca_file):
    params = imap(
        imap_server, imap_server.ssl_port, ssl=True, ca_file=mail_ca_file,
        auth="oauth2", password="", access_token="tok-123",
    )  # fmt: skip

    report = run(params)

    assert report.ok
    assert report.stage("auth").detail["mechanism"] == "XOAUTH2"


def test_xoauth2_with_a_refused_token_asks_to_reauthorize(imap_server):
    report = run(imap(imap_server, auth="oauth2", password="", access_token="stale-token"))

    assert report.failed_stage.name == "auth"
    assert "Reauthorize" in report.failed_stage.hint
    assert "stale-token" not in json.dumps(report.to_dict())


def test_an_existing_trash_folder_passes(imap_server):
    report = run(imap(imap_server, trash_folder=imap_server.trash))

    assert report.ok
    assert report.stage("trash_folder").status == "ok"


def test_a_missing_trash_folder_names_the_existing_ones(imap_server):
    report = run(imap(imap_server, trash_folder=imap_server.missing))

    assert not report.ok
    assert report.failed_stage.name == "trash_folder"
    assert report.failed_stage.hint == (
        "Folder 'Deleted Items' does not exist; existing folders: INBOX, Trash."
    )


def test_a_server_that_never_greets_fails_in_bounded_time(silent_server):
    started = time.monotonic()

    report = run(imap(silent_server, timeout=2.0))

    assert time.monotonic() - started < 5
    assert report.failed_stage.name == "greeting"


def test_an_untrusted_certificate_fails_the_tls_stage(imap_server):
    report = run(imap(imap_server, starttls=True))

    assert report.failed_stage.name == "tls"
    assert "Certificate not trusted" in report.failed_stage.hint
    assert report.stage("auth").status == "skipped"


def test_folder_names_are_decoded_from_modified_utf7():
    assert decode_utf7("Gel&APY-schte Elemente") == "Gelöschte Elemente"
    assert decode_utf7("R&-D") == "R&D"
