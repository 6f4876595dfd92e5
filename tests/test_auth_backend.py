"""connections.auth.ModelBackend reads permissions in one query and answers as Django's does."""

from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from connections.auth import ModelBackend

pytestmark = pytest.mark.django_db

WANTED = [
    "connections.view_emailconnection",
    "connections.change_emailconnection",
    "connections.delete_emailconnection",
    "auth.view_user",
    "x.y",
]


def test_the_answers_are_django_model_backends(django_user_model: Any) -> None:
    view = Permission.objects.get(codename="view_emailconnection")
    change = Permission.objects.get(codename="change_emailconnection")
    direct = django_user_model.objects.create_user("direct")
    direct.user_permissions.add(view)
    grouped = django_user_model.objects.create_user("grouped")
    group = Group.objects.create(name="Operators")
    group.permissions.add(change, view)
    grouped.groups.add(group)
    both = django_user_model.objects.create_user("both")
    both.user_permissions.add(Permission.objects.get(codename="view_user"))
    both.groups.add(group)
    inactive = django_user_model.objects.create_user("inactive", is_active=False)
    inactive.user_permissions.add(view)
    nobody = django_user_model.objects.create_user("nobody")
    admin = django_user_model.objects.create_superuser("root")
    for user in (direct, grouped, both, inactive, nobody, admin):
        ours = django_user_model.objects.get(pk=user.pk)
        theirs = django_user_model.objects.get(pk=user.pk)
        assert ModelBackend().get_all_permissions(ours) == DjangoModelBackend().get_all_permissions(
            theirs
        ), user.username
        assert [ModelBackend().has_perm(ours, p) for p in WANTED] == [
            DjangoModelBackend().has_perm(theirs, p) for p in WANTED
        ], user.username


def test_a_page_asking_several_permissions_reads_them_once(django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("operator")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="connections"))
    fresh = django_user_model.objects.get(pk=user.pk)
    with CaptureQueriesContext(db) as queries:
        assert all(fresh.has_perm(p) for p in WANTED[:3])
        assert not fresh.has_perm("auth.view_user")
    assert len(queries) == 1


def test_the_session_user_comes_with_their_permissions_in_one_query(
    django_user_model: Any,
) -> None:
    group = Group.objects.create(name="Operators")
    group.permissions.add(Permission.objects.get(codename="change_emailconnection"))
    user = django_user_model.objects.create_user("operator")
    user.user_permissions.add(Permission.objects.get(codename="view_emailconnection"))
    user.groups.add(group)
    bare = django_user_model.objects.create_user("bare")
    admin = django_user_model.objects.create_superuser("root")
    inactive = django_user_model.objects.create_user("gone", is_active=False)
    for person in (user, bare, admin):
        with CaptureQueriesContext(db) as queries:
            loaded = ModelBackend().get_user(person.pk)
            answers = [loaded.has_perm(p) for p in WANTED]
        assert len(queries) == 1, person.username
        theirs = django_user_model.objects.get(pk=person.pk)
        expected = [person.is_superuser or DjangoModelBackend().has_perm(theirs, p) for p in WANTED]
        assert answers == expected, person.username
    assert ModelBackend().get_user(inactive.pk) is None
    assert ModelBackend().get_user(10**9) is None
