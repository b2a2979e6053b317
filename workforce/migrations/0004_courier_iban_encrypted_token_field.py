from django.db import migrations

import workforce.crypto


class Migration(migrations.Migration):
    """The IBAN column becomes an EncryptedTokenField (no change in the database), which is how
    ``rotate_field_keys`` finds it."""

    dependencies = [
        ("workforce", "0003_protect_history_rows"),
    ]

    operations = [
        migrations.AlterField(
            model_name="courier",
            name="iban_encrypted",
            field=workforce.crypto.EncryptedTokenField(blank=True, editable=False),
        ),
    ]
