"""Signed, expiring email-verification links (Django's token generator, our own salt).

The token hashes the user's active flag and email, so it stops working once used (the
account becomes active) or when the address changes; it expires after
``PASSWORD_RESET_TIMEOUT`` (three days by default).
"""

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "workforce.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp: int) -> str:
        return f"{user.pk}{user.is_active}{user.email}{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()
