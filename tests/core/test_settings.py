"""Settings come from the environment; production settings pass Django's deploy checks."""

import secrets

from tests.deploy import PRODUCTION_ENV, run_manage


def test_deploy_check_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off" in result.stderr


def _print_settings(env: dict[str, str]) -> str:
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL)"
    )
    result = run_manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_without_urls_the_app_runs_on_sqlite_with_in_process_tasks():
    assert _print_settings({"DJANGO_DEBUG": "1"}) == "django.db.backends.sqlite3 True memory://"


def test_database_and_broker_come_from_the_environment():
    line = _print_settings(PRODUCTION_ENV)

    assert line == "django.db.backends.postgresql False redis://redis.internal:6379/0"


def test_deploy_check_warns_when_https_is_enforced_without_trusting_the_proxy():
    # given production settings that redirect to HTTPS but do not trust X-Forwarded-Proto
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "USE_X_FORWARDED_HEADERS"}

    # when
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    # then
    assert result.returncode != 0
    assert "core.W001" in result.stderr + result.stdout


def _scheme_seen_by_the_app(env: dict[str, str]) -> str:
    """A request sent straight to the app claiming ``X-Forwarded-Proto: https``: is it secure,
    and what does the app answer (a redirect to HTTPS, or the page itself)?"""
    code = (
        "from django.test import Client, RequestFactory; "
        "secure = RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https').is_secure(); "
        "status = Client().get('/no-such-page/', HTTP_X_FORWARDED_PROTO='https').status_code; "
        "print(secure, status)"
    )
    result = run_manage("shell", "-c", code, env={**env, "DJANGO_ALLOWED_HOSTS": "testserver"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_forwarded_proto_header_is_ignored_unless_the_app_is_behind_a_proxy():
    # given production settings without USE_X_FORWARDED_HEADERS
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "USE_X_FORWARDED_HEADERS"}

    # when / then: the request is plain HTTP and is redirected to HTTPS
    assert _scheme_seen_by_the_app(env) == "False 301"


def test_forwarded_proto_header_is_honoured_behind_a_proxy():
    # given production settings with USE_X_FORWARDED_HEADERS=1

    # when / then: the request counts as HTTPS and reaches the app (a 404 for this path)
    assert _scheme_seen_by_the_app(PRODUCTION_ENV) == "True 404"


_SIGN_UNDER_THE_KEY = (
    "from django.core import signing; "
    "from lastmile.accounts.models import User; "
    "from workforce import crypto; "
    "from workforce.tokens import email_verification_token as t; "
    "u = User(pk=7, email='ada@example.com', is_active=False); "
    "print(signing.dumps('courier-7'), t.make_token(u), crypto.encrypt('DE89370400440532013000'))"
)


def _under_the_key(env: dict[str, str], signed: str, link: str, iban: str) -> list[str]:
    code = (
        "from django.core import signing\n"
        "from lastmile.accounts.models import User\n"
        "from workforce import crypto\n"
        "from workforce.tokens import email_verification_token as t\n"
        "u = User(pk=7, email='ada@example.com', is_active=False)\n"
        f"try:\n    print('signed', signing.loads({signed!r}))\n"
        "except signing.BadSignature:\n    print('signed refused')\n"
        f"print('link', t.check_token(u, {link!r}))\n"
        f"try:\n    print('iban', crypto.decrypt({iban!r}))\n"
        "except crypto.InvalidToken:\n    print('iban refused')\n"
    )
    result = run_manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-3:]


def test_after_a_secret_key_rotation_the_old_key_in_the_fallbacks_keeps_links_working():
    # given a signed value, a sign-up link and an IBAN stored under the old secret key (the
    # demo's encryption key is derived from it)
    old_key, new_key = secrets.token_urlsafe(50), secrets.token_urlsafe(50)
    before = run_manage(
        "shell", "-c", _SIGN_UNDER_THE_KEY, env={"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY": old_key}
    )
    assert before.returncode == 0, before.stderr
    signed, link, iban = before.stdout.strip().splitlines()[-1].split()

    # when the key is rotated with the old one kept as a fallback, and without it
    rotated = {"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY": new_key}
    with_fallback = _under_the_key(
        {**rotated, "DJANGO_SECRET_KEY_FALLBACKS": old_key}, signed, link, iban
    )
    without = _under_the_key(rotated, signed, link, iban)

    # then the fallback keeps all three valid; without it the old key's work is refused
    assert with_fallback == ["signed courier-7", "link True", "iban DE89370400440532013000"]
    assert without == ["signed refused", "link False", "iban refused"]
