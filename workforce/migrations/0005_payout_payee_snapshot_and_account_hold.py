from django.conf import settings
from django.db import migrations, models

import workforce.crypto


def snapshot_approved_payees(apps, schema_editor):
    """Batches approved (or exported, which can come back to approved) before snapshots
    existed get the account their export would have read: the courier's current one."""
    PayoutBatch = apps.get_model("workforce", "PayoutBatch")
    batches = PayoutBatch.objects.filter(
        status__in=["approved", "exported"], payee_iban_encrypted=""
    ).select_related("courier__user")
    for batch in batches.iterator(chunk_size=500):
        courier = batch.courier
        if not courier.iban_encrypted:
            continue  # the export refuses it, naming the batch, as it did before
        user = courier.user  # historical models have no get_full_name()
        full_name = f"{user.first_name} {user.last_name}".strip()
        batch.payee_name = (courier.account_holder or full_name or user.email)[:70]
        batch.payee_iban_encrypted = courier.iban_encrypted
        batch.payee_iban_country = courier.iban_country
        batch.payee_iban_last4 = courier.iban_last4
        batch.payee_bic = courier.bic
        batch.save(
            update_fields=[
                "payee_name",
                "payee_iban_encrypted",
                "payee_iban_country",
                "payee_iban_last4",
                "payee_bic",
            ]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("workforce", "0004_courier_iban_encrypted_token_field"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="payoutbatch",
            name="workforce_payout_status_valid",
        ),
        migrations.AddField(
            model_name="payoutbatch",
            name="hold_reason",
            field=models.CharField(
                blank=True,
                help_text="Why the batch is held (on hold, account changed)",
                max_length=255,
            ),
        ),
        migrations.AddField(
            model_name="payoutbatch",
            name="payee_bic",
            field=models.CharField(blank=True, max_length=11),
        ),
        migrations.AddField(
            model_name="payoutbatch",
            name="payee_iban_country",
            field=models.CharField(blank=True, editable=False, max_length=2),
        ),
        migrations.AddField(
            model_name="payoutbatch",
            name="payee_iban_encrypted",
            field=workforce.crypto.EncryptedTokenField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="payoutbatch",
            name="payee_iban_last4",
            field=models.CharField(blank=True, editable=False, max_length=4),
        ),
        migrations.AddField(
            model_name="payoutbatch",
            name="payee_name",
            field=models.CharField(blank=True, max_length=70),
        ),
        migrations.AlterField(
            model_name="payoutbatch",
            name="status",
            field=models.CharField(
                choices=[
                    ("closed", "Closed"),
                    ("on_hold", "On hold"),
                    ("approved", "Approved"),
                    ("account_changed", "Held: account changed"),
                    ("exported", "Exported"),
                    ("paid", "Paid"),
                ],
                default="closed",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="payoutbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        ["closed", "on_hold", "approved", "account_changed", "exported", "paid"],
                    )
                ),
                name="workforce_payout_status_valid",
            ),
        ),
        migrations.RunPython(snapshot_approved_payees, migrations.RunPython.noop),
    ]
