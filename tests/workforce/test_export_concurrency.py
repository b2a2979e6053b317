"""Two SEPA exports of one payout batch at once, on PostgreSQL with real threads: one file."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.test import Client

from lastmile.accounts.roles import Role
from tests.factories import StaffFactory
from tests.races import race
from tests.workforce.test_payouts import _approved_batches
from workforce.models import PayoutBatch, PayoutExport, PayoutStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _files(path: str = "workforce/payouts") -> list[str]:
    if not default_storage.exists(path):
        return []
    folders, files = default_storage.listdir(path)
    return [f"{path}/{f}" for f in files] + [
        name for folder in folders for name in _files(f"{path}/{folder}")
    ]


def test_two_concurrent_sepa_exports_of_one_batch_write_one_file():
    # given: an approved batch, and two workforce managers about to export it
    managers = [StaffFactory(role=Role.WORKFORCE_MANAGER) for _ in range(2)]
    batch = _approved_batches(managers[0], count=1)[0]
    files_before = _files()
    admins = []
    for manager in managers:
        admin = Client()
        admin.force_login(manager)
        admins.append(admin)

    # when: both press "Download a SEPA transfer file" at the same moment
    answers = race(
        *(
            lambda admin=admin: admin.post(
                "/admin/workforce/payoutbatch/",
                {"action": "export_sepa", ACTION_CHECKBOX_NAME: [batch.pk]},
            )
            for admin in admins
        )
    )

    # then: one download, one refusal shown to the person, one export and one file
    assert sorted(getattr(a, "status_code", 0) for a in answers) == [200, 302], answers
    refused = next(a for a in answers if a.status_code == 302)
    shown = " ".join(str(m) for m in get_messages(refused.wsgi_request))
    assert "exported" in shown.lower(), shown
    export = PayoutExport.objects.get()
    batch.refresh_from_db()
    assert batch.status == PayoutStatus.EXPORTED
    assert batch.export == export
    assert PayoutBatch.objects.filter(export__isnull=False).count() == 1
    assert len(_files()) == len(files_before) + 1
