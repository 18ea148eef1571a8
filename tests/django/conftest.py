"""Django settings for the adapter's tests, configured when this package is collected.

Only this package sees Django configured; the database is created once per session and each
test runs in a transaction that is rolled back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import django
import pytest
from django.conf import settings

from secmon import pipeline as _pipeline

HERE = Path(__file__).parent

SETTINGS = {
    "DEBUG": False,
    "SECRET_KEY": "secmon-tests-only-0123456789abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": ["testserver", "localhost"],
    "INSTALLED_APPS": [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "rest_framework",
        "secmon.django",
    ],
    "MIDDLEWARE": [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "secmon.django.SecurityMiddleware",
    ],
    "ROOT_URLCONF": "tests.django.urls",
    "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    "TEMPLATES": [{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ]},
    }],
    # Fast hashing for tests; test_iam switches hashers to see an upgrade on login.
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
    "USE_TZ": True,
    "SECMON": {"ENVIRONMENT": "test"},
    "REST_FRAMEWORK": {
        "EXCEPTION_HANDLER": "secmon.django.rest_framework.exception_handler",
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
        "DEFAULT_THROTTLE_RATES": {"burst": "2/min"},
    },
    "SILENCED_SYSTEM_CHECKS": [],
}

if not settings.configured:
    settings.configure(**SETTINGS)
    # SecmonConfig.ready() reads SECMON_* from the environment, where the suite's own
    # options (SECMON_TEST_PG_DATABASE, ...) are no settings of secmon's.
    hidden = {name: os.environ.pop(name) for name in list(os.environ)
              if name.startswith("SECMON_")}
    try:
        django.setup()
    finally:
        os.environ.update(hidden)
    # SecmonConfig.ready() configured secmon; each test starts from none, as elsewhere.
    if _pipeline._current is not None:
        _pipeline._current.close(timeout=1.0)
        _pipeline._current = None


@pytest.fixture(scope="session")
def _django_db() -> Iterator[None]:
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    yield
    connection.creation.destroy_test_db(old_name, verbosity=0)
    teardown_test_environment()


@pytest.fixture(autouse=True)
def _rollback(_django_db: None) -> Iterator[None]:
    from django.core.cache import cache
    from django.db import transaction

    with transaction.atomic():
        yield
        transaction.set_rollback(True)
    cache.clear()
