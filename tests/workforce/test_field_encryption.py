"""IBAN encryption keys: new keys in front, old ones read, `rotate_field_keys`, the start check."""

import datetime as dt
import io
import secrets
import subprocess
import xml.etree.ElementTree as ET

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.utils import timezone

from tests.deploy import PRODUCTION_ENV, run_manage
from tests.factories import UserFactory
from tests.workforce.factories import VALID_IBANS, active_courier, entry
from workforce import crypto, services
from workforce.models import Courier, PayoutBatch

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
MONDAY = dt.date(2026, 3, 2)

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
LOST_KEY = Fernet.generate_key().decode()


def _rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_field_keys", *args, stdout=out)
    return out.getvalue()


def _couriers_with_approved_batches(count: int) -> tuple[list[Courier], list[PayoutBatch]]:
    approver = UserFactory(username="approver", is_staff=True)
    couriers = [active_courier(n=n) for n in range(count)]
    for n, courier in enumerate(couriers):
        entry(
            courier,
            amount_minor=1000 + n,
            earned_at=dt.datetime.combine(
                MONDAY, dt.time(9), tzinfo=timezone.get_current_timezone()
            ),
            source_id=n + 1,
        )
    batches = services.payout_week_close(week_start=MONDAY).created
    return couriers, [services.payout_batch_approve(batch=b, actor=approver) for b in batches]


@pytest.mark.django_db
def test_ibans_and_the_sepa_export_survive_a_new_key_rotation_and_dropping_the_old_key(settings):
    # given IBANs (and the accounts approved on batches) stored under the old key
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    couriers, batches = _couriers_with_approved_batches(3)
    expected = {c.pk: VALID_IBANS[n] for n, c in enumerate(couriers)}

    # when a new key is put in front, every value is rotated, and the old key is dropped
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    first = _rotate("--batch-size", "2")
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    second = _rotate()

    # then every IBAN reads back, the bank file pays them, and a second run has nothing to do
    assert "workforce.Courier.iban_encrypted: 3 re-encrypted, 0 already current" in first
    assert "workforce.PayoutBatch.payee_iban_encrypted: 3 re-encrypted" in first
    assert "workforce.Courier.iban_encrypted: 0 re-encrypted, 3 already current" in second
    for courier in Courier.objects.filter(pk__in=expected):
        assert crypto.decrypt(courier.iban_encrypted) == expected[courier.pk]
    export = services.payout_export_sepa(
        batch_ids=[b.pk for b in batches], actor=UserFactory(username="exporter")
    )
    root = ET.fromstring(export.file.open("rb").read())  # noqa: S314 - our own file
    paid = {
        t.find("p:CdtrAcct/p:Id/p:IBAN", NS).text for t in root.iter(f"{{{NS['p']}}}CdtTrfTxInf")
    }
    assert paid == set(expected.values())


@pytest.mark.django_db
def test_setting_keys_for_the_first_time_keeps_ibans_under_the_derived_key_readable(settings):
    # given an IBAN stored while no key was configured (the key derived from SECRET_KEY)
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = []
    courier = active_courier(n=0)

    # when explicit keys are set for the first time
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    readable_before_rotation = crypto.decrypt(Courier.objects.get(pk=courier.pk).iban_encrypted)
    _rotate()
    settings.WORKFORCE_FIELD_ENCRYPTION_DERIVED_FALLBACK = False

    # then it reads before and after the rotation, and is now under the explicit key alone
    assert readable_before_rotation == VALID_IBANS[0]
    token = Courier.objects.get(pk=courier.pk).iban_encrypted
    assert Fernet(NEW_KEY).decrypt(token.encode()).decode() == VALID_IBANS[0]


@pytest.mark.django_db
def test_rotating_the_secret_key_keeps_ibans_readable_through_the_secret_key_fallbacks(settings):
    # given an IBAN under the key derived from the current secret key (the demo setup)
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = []
    old_secret = settings.SECRET_KEY
    courier = active_courier(n=1)

    # when the secret key rotates, the old one kept as a fallback as Django advises
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.SECRET_KEY_FALLBACKS = [old_secret]

    # then the IBAN still reads
    assert crypto.decrypt(Courier.objects.get(pk=courier.pk).iban_encrypted) == VALID_IBANS[1]


@pytest.mark.django_db
def test_a_rotation_stopped_half_way_keeps_its_committed_batches_and_finishes_on_rerun(
    settings, monkeypatch
):
    # given five IBANs under the old key, and a rotation that dies on its third value
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    couriers = [active_courier(n=n) for n in range(5)]
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    real_rotate, calls = crypto.rotate, []

    def dying_rotate(token: str) -> str:
        calls.append(token)
        if len(calls) == 3:
            raise ConnectionError("server closed the connection")
        return real_rotate(token)

    monkeypatch.setattr(crypto, "rotate", dying_rotate)
    with pytest.raises(ConnectionError):
        _rotate("--batch-size", "2")
    monkeypatch.setattr(crypto, "rotate", real_rotate)

    # when it is run again
    output = _rotate("--batch-size", "2")

    # then the first batch had been committed, the rest is done now, nothing twice
    assert "workforce.Courier.iban_encrypted: 3 re-encrypted, 2 already current" in output
    tokens = Courier.objects.filter(pk__in=[c.pk for c in couriers]).values_list(
        "iban_encrypted", flat=True
    )
    assert all(Fernet(NEW_KEY).decrypt(t.encode()) for t in tokens)


@pytest.mark.django_db
def test_a_value_no_key_can_read_is_named_by_the_rotation_and_the_others_are_rotated(settings):
    # given one IBAN written under a key that has since been lost
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [LOST_KEY]
    lost = active_courier(n=0)
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    kept = active_courier(n=1)

    # when the keys rotate without the lost one
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    with pytest.raises(CommandError) as excinfo:
        _rotate()

    # then the command names the unreadable row and still rotated the readable one
    assert f"workforce.Courier.iban_encrypted pk={lost.pk}" in str(excinfo.value)
    assert "cannot be decrypted" in str(excinfo.value)
    assert crypto.is_current(Courier.objects.get(pk=kept.pk).iban_encrypted)
    assert Courier.objects.get(pk=lost.pk).iban_encrypted == lost.iban_encrypted


# --- The start-up check ---------------------------------------------------------------------


def _manage_check(**env: str) -> subprocess.CompletedProcess:
    # Production's variables, with this test's encryption keys (none unless given).
    production = {k: v for k, v in PRODUCTION_ENV.items() if k != "WORKFORCE_FIELD_ENCRYPTION_KEYS"}
    return run_manage("check", "--deploy", "--fail-level", "WARNING", env={**production, **env})


def test_production_without_encryption_keys_refuses_to_start():
    # given production settings (DEBUG off) and no WORKFORCE_FIELD_ENCRYPTION_KEYS
    # when the deploy check runs
    result = _manage_check()

    # then it fails with the workforce error
    assert result.returncode != 0
    assert "workforce.E001" in result.stderr


def test_production_with_encryption_keys_passes_the_deploy_check():
    # given production settings with explicit keys
    # when the deploy check runs
    result = _manage_check(WORKFORCE_FIELD_ENCRYPTION_KEYS=f"{NEW_KEY},{OLD_KEY}")

    # then it is clean
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_debug_without_keys_passes_the_check_and_a_malformed_key_fails_it(settings):
    # given debug on (the demo, the tests) with the derived key
    settings.DEBUG = True
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = []
    call_command("check", stdout=io.StringIO())

    # when a key that is not a Fernet key is configured
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [NEW_KEY, "not-a-key"]
    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check", stdout=io.StringIO())

    # then the check names it
    assert "workforce.E002" in str(excinfo.value)
    assert "position 2" in str(excinfo.value)


def test_the_check_refuses_debug_off_without_keys_in_process(settings):
    # given debug off and no keys
    settings.DEBUG = False
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = []

    # when / then
    with pytest.raises(SystemCheckError, match=r"workforce\.E001"):
        call_command("check", stdout=io.StringIO())
    settings.WORKFORCE_FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    call_command("check", stdout=io.StringIO())
