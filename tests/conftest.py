import os

import pytest
from django.contrib.auth.models import Permission

# Playwright's sync API runs an event loop in the main thread; Django's ORM would refuse to
# run next to it in the live_server/browser tests without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["tests.mailservers", "tests.api_fixtures", "tests.browser"]


@pytest.fixture(autouse=True)
def _fast_hashing_and_fresh_cache(settings: object) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def operator(django_user_model: type) -> object:
    """A non-superuser with every permission of the app (add, change, delete, test, restore)."""
    user = django_user_model.objects.create_user("operator", "operator@example.com", "pw")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="connections"))
    return user


@pytest.fixture
def viewer(django_user_model: type) -> object:
    user = django_user_model.objects.create_user("viewer", "viewer@example.com", "pw")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="connections", codename__startswith="view_"
        )
    )
    return user


@pytest.fixture
def admin_client_logged(client: object, admin_user: object) -> object:
    client.force_login(admin_user)
    return client
