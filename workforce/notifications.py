"""Mails to couriers, rendered from ``workforce/email/<template>.txt`` (first line: subject).

Called by the ``notifications.courier_email`` task, after the change that caused them has
committed. Context never carries an IBAN (only its masked form) nor a password.
"""

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from workforce.models import Courier
from workforce.tokens import email_verification_token

logger = logging.getLogger(__name__)

TEMPLATES = frozenset(
    {
        "verify_email",
        "account_exists",
        "application_received",
        "application_approved",
        "application_rejected",
        "changes_requested",
        "courier_suspended",
        "document_expired",
        "payout_account_changed",
        "password_reset",
    }
)


def verification_url(courier: Courier) -> str:
    user = courier.user
    path = reverse(
        "workforce:verify_email",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": email_verification_token.make_token(user),
        },
    )
    return settings.SITE_URL.rstrip("/") + path


def password_reset_url(courier: Courier) -> str:
    """The link to choose a new password, on ``SITE_URL``: Django's reset token, which stops
    working once the password changes and after ``PASSWORD_RESET_TIMEOUT``."""
    user = courier.user
    path = reverse(
        "workforce:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return settings.SITE_URL.rstrip("/") + path


def send_courier_email(*, courier_id: int, template: str, context: dict[str, Any]) -> bool:
    """Render and send one mail; ``False`` when there is nothing to do: the courier no longer
    exists or has no address, or (``password_reset``) the account was closed meanwhile.

    Links carrying a token are made here, at sending, so no token travels through the broker.
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown courier mail template {template!r}")
    courier = Courier.objects.select_related("user").filter(pk=courier_id).first()
    if courier is None or not courier.user.email:
        return False
    site = settings.SITE_URL.rstrip("/")
    full_context = {
        **context,
        "courier": courier,
        "site_url": site,
        "portal_url": site + reverse("workforce:home"),
    }
    if template == "verify_email":
        full_context["verification_url"] = verification_url(courier)
    if template == "password_reset":
        # The portal's reset form offers a link only to such accounts; one closed since then
        # gets none (the confirm view would not refuse its token).
        if not (courier.user.is_active and courier.user.has_usable_password()):
            return False
        full_context["reset_url"] = password_reset_url(courier)
    subject, _, body = render_to_string(f"workforce/email/{template}.txt", full_context).partition(
        "\n"
    )
    send_mail(subject.strip(), body.strip() + "\n", None, [courier.user.email])
    logger.info("workforce: mail sent", extra={"courier_id": courier_id, "template": template})
    return True
