"""Tokens from the app's own OAuth server: who they act as, what their scopes allow."""

import base64
import datetime
import hashlib
import io
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from connections.models import EmailConnection
from tests.api_fixtures import Api, basic_auth, make_app

pytestmark = pytest.mark.django_db

CONNECTIONS = "/api/v1/connections/"
NEW = {"name": "Relay", "smtp_server": "h.example.com", "email_address": "a@example.com"}
NEW_WITHOUT_LOGIN = {**NEW, "authentication": "none"}


def test_o_token_issues_a_bearer_token_for_client_credentials(
    client: Any, operator_app: Application
) -> None:
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=basic_auth(operator_app),
    )
    assert (response.json()["token_type"], response.json()["scope"]) == ("Bearer", "read")


def test_no_token_is_a_401_with_a_bearer_challenge(client: Any) -> None:
    response = client.get(CONNECTIONS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_a_401(client: Any) -> None:
    assert Api(client, "not-a-token").get(CONNECTIONS).status_code == 401


def test_an_expired_token_is_a_401(client: Any, api: Any) -> None:
    AccessToken.objects.update(expires=timezone.now() - datetime.timedelta(seconds=1))
    assert api.get(CONNECTIONS).status_code == 401


def test_a_token_without_write_gets_403_on_post(api_as: Any, operator: Any) -> None:
    response = api_as(operator, "read").post(CONNECTIONS, NEW_WITHOUT_LOGIN)
    assert response.status_code == 403
    assert response.json()["message"] == 'This token lacks the "write" scope.'
    assert not EmailConnection.objects.exists()


def test_a_token_without_read_gets_403_on_get(api_as: Any, operator: Any) -> None:
    assert api_as(operator, "write").get(CONNECTIONS).status_code == 403


def test_a_token_without_test_gets_403_on_a_test(api_as: Any, operator: Any, outgoing: Any) -> None:
    response = api_as(operator, "read write").post(f"{CONNECTIONS}{outgoing.pk}/test/", {})
    assert response.status_code == 403


def test_a_user_without_the_add_permission_gets_403(api_as: Any, viewer: Any) -> None:
    response = api_as(viewer).post(CONNECTIONS, NEW_WITHOUT_LOGIN)
    assert response.status_code == 403
    assert "connections.add_emailconnection" in response.json()["message"]


def test_a_user_with_view_permission_reads(api_as: Any, viewer: Any, outgoing: Any) -> None:
    assert api_as(viewer, "read").get(CONNECTIONS).json()["count"] == 1


def test_testing_needs_the_test_permission(api_as: Any, viewer: Any, outgoing: Any) -> None:
    response = api_as(viewer).post(f"{CONNECTIONS}{outgoing.pk}/test/", {})
    assert "connections.test_emailconnection" in response.json()["message"]


def test_a_client_credentials_token_acts_as_its_applications_owner(api: Any) -> None:
    body = api.post(CONNECTIONS, NEW_WITHOUT_LOGIN).json()
    assert (body["created_by"], body["updated_by"]) == ("operator", "operator")


def test_an_application_without_an_owner_cannot_use_the_api(
    client: Any, issue: Any, operator_app: Application
) -> None:
    token = issue(operator_app)
    Application.objects.filter(pk=operator_app.pk).update(user=None)
    response = Api(client, token).get(CONNECTIONS)
    assert response.status_code == 401
    assert "Application an active User" in response.json()["message"]


def test_a_revoked_token_is_refused(client: Any, issue: Any, operator_app: Application) -> None:
    token = issue(operator_app)
    client.post(
        "/o/revoke_token/",
        {"token": token, "token_type_hint": "access_token"},
        HTTP_AUTHORIZATION=basic_auth(operator_app),
    )
    assert Api(client, token).get(CONNECTIONS).status_code == 401


def test_introspection_says_a_token_is_active(
    client: Any, issue: Any, operator_app: Application
) -> None:
    token = issue(operator_app, "read")
    response = client.post(
        "/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=basic_auth(operator_app)
    )
    assert (response.json()["active"], response.json()["scope"]) == (True, "read")


def test_authorization_code_with_pkce_gives_a_token_for_the_signed_in_user(
    client: Any, operator: Any
) -> None:
    app = Application.objects.create(
        name="cli",
        user=operator,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1:8765/callback",
        skip_authorization=True,
    )
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    client.force_login(operator)
    authorize = client.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": "http://127.0.0.1:8765/callback",
            "scope": "read",
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlparse(authorize["Location"]).query)["code"][0]
    client.logout()
    token = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:8765/callback",
            "client_id": app.client_id,
            "code_verifier": verifier,
        },
    ).json()["access_token"]
    assert Api(client, token).get(CONNECTIONS).status_code == 200


def issue_token(*args: str) -> str:
    out = io.StringIO()
    call_command("issue_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_issue_token_prints_a_token_acting_for_the_user(client: Any, operator: Any) -> None:
    token = issue_token("--user", "operator", "--scopes", "read")
    assert Api(client, token).get(CONNECTIONS).status_code == 200


def test_issue_token_gives_the_scopes_asked_for(client: Any, operator: Any) -> None:
    token = issue_token("--user", "operator", "--scopes", "read")
    assert Api(client, token).post(CONNECTIONS, NEW_WITHOUT_LOGIN).status_code == 403


def test_issue_token_sets_the_expiry_in_days(operator: Any) -> None:
    token = issue_token("--user", "operator", "--expires-days", "2")
    expires = AccessToken.objects.get(token_checksum=checksum(token)).expires
    assert (
        timezone.now() + datetime.timedelta(days=1)
        < expires
        < timezone.now() + (datetime.timedelta(days=2))
    )


def test_issue_token_refuses_an_unknown_user() -> None:
    with pytest.raises(CommandError, match="No active user"):
        issue_token("--user", "nobody")


def test_issue_token_refuses_an_unknown_scope(operator: Any) -> None:
    with pytest.raises(CommandError, match="Unknown scopes admin"):
        issue_token("--user", "operator", "--scopes", "read admin")


def test_a_token_of_another_application_acts_as_that_owner(
    client: Any, issue: Any, viewer: Any
) -> None:
    token = issue(make_app(viewer, "viewer scripts"), "read")
    assert Api(client, token).get(CONNECTIONS).status_code == 200


def checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def test_an_issued_token_is_stored_only_as_a_checksum(operator: Any) -> None:
    raw = issue_token("--user", "operator")
    stored = AccessToken.objects.get(token_checksum=checksum(raw))
    assert stored.token == ""
    assert not AccessToken.objects.filter(token=raw).exists()


def test_o_token_tokens_work_but_are_not_stored_usable(
    client: Any, operator_app: Application
) -> None:
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=basic_auth(operator_app),
    )
    raw = response.json()["access_token"]
    assert Api(client, raw).get(CONNECTIONS).status_code == 200
    assert AccessToken.objects.get(token_checksum=checksum(raw)).token == ""


def test_the_one_query_permission_check_answers_as_has_perm(django_user_model: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    from connections.api.permissions import has_perm

    view = Permission.objects.get(codename="view_emailconnection")
    change = Permission.objects.get(codename="change_emailconnection")
    direct = django_user_model.objects.create_user("direct")
    direct.user_permissions.add(view)
    grouped = django_user_model.objects.create_user("grouped")
    group = Group.objects.create(name="Operators")
    group.permissions.add(change)
    grouped.groups.add(group)
    inactive = django_user_model.objects.create_user("inactive", is_active=False)
    inactive.user_permissions.add(view)
    nobody = django_user_model.objects.create_user("nobody")
    admin = django_user_model.objects.create_superuser("root")
    wanted = ["connections.view_emailconnection", "connections.change_emailconnection", "x.y"]
    for user in (direct, grouped, inactive, nobody, admin):
        fresh = django_user_model.objects.get(pk=user.pk)
        assert [has_perm(fresh, p) for p in wanted] == [fresh.has_perm(p) for p in wanted]
