"""The admin's connection form: the pages' grouping and show/hide rules."""

import json
import re

import pytest
from django.urls import reverse

from connections.models import EmailConnection
from tests.factories import make_connection, make_oauth_client, make_service, text

pytestmark = pytest.mark.django_db


def change_page(client: object, connection: object) -> str:
    url = reverse("admin:connections_emailconnection_change", args=[connection.pk])
    response = client.get(url)
    assert response.status_code == 200
    return text(response)


def test_server_and_port_share_a_row_and_ssl_sits_beside_starttls(
    admin_client_logged: object,
) -> None:
    page = change_page(admin_client_logged, make_connection())
    assert re.search(r'class="form-row[^"]*field-smtp_server field-smtp_port"', page)
    assert re.search(r'class="form-row[^"]*field-imap_server field-imap_port"', page)
    assert re.search(r'class="form-row[^"]*field-enable_ssl field-enable_starttls"', page)
    assert ">Last Test</h2>" in page
    assert ">Metadata</h2>" in page


def test_the_change_form_carries_the_models_field_rules_and_the_script(
    admin_client_logged: object,
) -> None:
    page = change_page(admin_client_logged, make_connection())
    rules = json.loads(page.split('id="field-rules" type="application/json">')[1].split("<")[0])
    assert rules["rules"]["outgoing|password"][0] == "authentication"
    assert "imap_server" in rules["rules"]["incoming|password"]
    assert "connections/record_form.js" in page


def test_the_authorization_group_is_shown_for_oauth_connections_only(
    admin_client_logged: object,
) -> None:
    assert ">Authorization</h2>" not in change_page(admin_client_logged, make_connection())
    oauth = make_connection(
        name="OAuth",
        authentication="oauth2",
        oauth_client=make_oauth_client(),
        password="",
    )
    assert ">Authorization</h2>" in change_page(admin_client_logged, oauth)


def test_the_add_form_saves_through_the_grouped_fields(admin_client_logged: object) -> None:
    response = admin_client_logged.post(
        reverse("admin:connections_emailconnection_add"),
        {
            "name": "From the admin",
            "connection_type": "outgoing",
            "smtp_server": "smtp.example.com",
            "smtp_port": "587",
            "imap_port": "143",
            "enable_starttls": "on",
            "email_address": "robot@example.com",
            "authentication": "password",
            "user_name": "robot",
            "password": "pa55-word",
        },
    )
    assert response.status_code == 302
    assert EmailConnection.objects.get(name="From the admin").smtp_port == 587


def test_business_services_are_checkboxes_without_a_multi_select_hint(
    admin_client_logged: object,
) -> None:
    make_service()
    page = text(admin_client_logged.get(reverse("admin:connections_emailconnection_add")))
    assert re.search(r'<input type="checkbox" name="business_services"', page)
    assert "Hold down" not in page
