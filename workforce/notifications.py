"""Mails to couriers, rendered from ``workforce/email/<template>.txt`` (first line: subject).

Called by the ``notifications.courier_email`` task, after the change that caused them has
committed. Context never carries an IBAN (only its masked form) nor a password.
"""

import logging
from typing import Any

from django.conf import settings
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


def send_courier_email(*, courier_id: int, template: str, context: dict[str, Any]) -> bool:
    """Render and send one mail; ``False`` when the courier no longer exists (nothing to do)."""
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
    subject, _, body = render_to_string(f"workforce/email/{template}.txt", full_context).partition(
        "\n"
    )
    send_mail(subject.strip(), body.strip() + "\n", None, [courier.user.email])
    logger.info("workforce: mail sent", extra={"courier_id": courier_id, "template": template})
    return True
