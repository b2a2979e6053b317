"""Couriers and their onboarding: the profile, the application state machine, the timeline."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from lastmile.core.models import AppendOnlyModel, EventModel, TimeStampedModel
from lastmile.core.skills import validate_skills
from lastmile.core.state import validate_table
from workforce.crypto import EncryptedTokenField


class CourierKind(models.TextChoices):
    EMPLOYEE = "employee", "Employee driver"  # employed; drives on planned shifts
    CROWD = "crowd", "Crowd courier"  # self-employed; books slots, mostly paid per stop


class Vehicle(models.TextChoices):
    BIKE = "bike", "Bicycle"
    E_CARGO_BIKE = "e_cargo_bike", "E-cargo bike"
    CAR = "car", "Car"
    NONE = "none", "None (uses a fleet vehicle)"


class WorkEligibility(models.TextChoices):
    EU_CITIZEN = "eu_citizen", "EU/EEA or Swiss citizen"  # the ID proves it
    RESIDENCE_PERMIT = "residence_permit", "Residence permit that allows work"
    WORK_PERMIT = "work_permit", "Work permit or visa"


class CourierStatus(models.TextChoices):
    APPLICANT = "applicant", "Applicant"  # signed up; the application is not approved yet
    ACTIVE = "active", "Active"  # approved: may declare availability, work and be paid
    SUSPENDED = "suspended", "Suspended"  # barred for now (expired document, complaint)
    OFFBOARDED = "offboarded", "Offboarded"  # left, or the application was rejected (final)


CS = CourierStatus
COURIER_TRANSITIONS: dict[str, frozenset[str]] = {
    CS.APPLICANT: frozenset({CS.ACTIVE, CS.OFFBOARDED}),
    CS.ACTIVE: frozenset({CS.SUSPENDED, CS.OFFBOARDED}),
    CS.SUSPENDED: frozenset({CS.ACTIVE, CS.OFFBOARDED}),
    CS.OFFBOARDED: frozenset(),
}
validate_table(COURIER_TRANSITIONS, set(CS.values))


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # the courier is filling it in
    SUBMITTED = "submitted", "Submitted"  # complete; waits in the vetting queue
    UNDER_REVIEW = "under_review", "Under review"  # a workforce manager is checking it
    CHANGES_REQUESTED = "changes_requested", "Changes requested"  # sent back with a note
    APPROVED = "approved", "Approved"  # the courier is active (final)
    REJECTED = "rejected", "Rejected"  # refused with a reason (final)


AS = ApplicationStatus
APPLICATION_TRANSITIONS: dict[str, frozenset[str]] = {
    AS.DRAFT: frozenset({AS.SUBMITTED}),
    AS.SUBMITTED: frozenset({AS.UNDER_REVIEW}),
    AS.UNDER_REVIEW: frozenset({AS.APPROVED, AS.REJECTED, AS.CHANGES_REQUESTED}),
    AS.CHANGES_REQUESTED: frozenset({AS.SUBMITTED}),
    AS.APPROVED: frozenset(),
    AS.REJECTED: frozenset(),
}
validate_table(APPLICATION_TRANSITIONS, set(AS.values))

# The courier may edit their application only while it is with them.
EDITABLE_APPLICATION_STATUSES = frozenset({AS.DRAFT, AS.CHANGES_REQUESTED})


class Courier(TimeStampedModel):
    """A person who delivers for us: one per user account, created at sign-up."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="courier"
    )
    kind = models.CharField(max_length=16, choices=CourierKind.choices, default=CourierKind.CROWD)
    status = models.CharField(
        max_length=16, choices=CourierStatus.choices, default=CourierStatus.APPLICANT
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    home_hub = models.ForeignKey(
        "hubs.Hub", on_delete=models.PROTECT, null=True, blank=True, related_name="couriers"
    )
    vehicle = models.CharField(max_length=16, choices=Vehicle.choices, blank=True)
    skills = models.JSONField(default=list, blank=True, validators=[validate_skills])
    email_verified_at = models.DateTimeField(null=True, blank=True)

    # Personal details (name and phone live on the user).
    date_of_birth = models.DateField(null=True, blank=True)
    street_address = models.CharField(max_length=255, blank=True)
    postcode = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code, e.g. DE")

    # Work eligibility.
    work_eligibility = models.CharField(max_length=24, choices=WorkEligibility.choices, blank=True)
    nationality = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code")

    # Payout account. The IBAN is stored encrypted (``workforce.crypto``); only its country
    # and last four characters are kept in clear, for the masked display.
    account_holder = models.CharField(max_length=70, blank=True)
    iban_encrypted = EncryptedTokenField(blank=True, editable=False)
    iban_country = models.CharField(max_length=2, blank=True, editable=False)
    iban_last4 = models.CharField(max_length=4, blank=True, editable=False)
    bic = models.CharField(max_length=11, blank=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CourierStatus.values), name="workforce_courier_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CourierKind.values), name="workforce_courier_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=CourierStatus.ACTIVE)
                | (Q(home_hub__isnull=False) & ~Q(vehicle="")),
                name="workforce_courier_active_has_hub_and_vehicle",
                violation_error_message="An active courier needs a home hub and a vehicle.",
            ),
            models.CheckConstraint(
                condition=(Q(iban_encrypted="") & Q(iban_last4="") & Q(iban_country=""))
                | (
                    ~Q(iban_encrypted="")
                    & Q(iban_last4__regex=r"^[0-9A-Z]{4}$")
                    & Q(iban_country__regex=r"^[A-Z]{2}$")
                ),
                name="workforce_courier_iban_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind"], name="workforce_courier_status_kind"),
            models.Index(fields=["home_hub", "status"], name="workforce_courier_hub_status"),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.email or self.user.username

    @property
    def iban_masked(self) -> str:
        """What every screen shows of the IBAN: country and last four, nothing in between."""
        if not self.iban_last4:
            return ""
        return f"{self.iban_country}•• •••• •••• •••• {self.iban_last4}"


class CourierApplication(TimeStampedModel):
    """The courier's application: filled in by them, decided by a workforce manager."""

    courier = models.OneToOneField(Courier, on_delete=models.PROTECT, related_name="application")
    status = models.CharField(
        max_length=24, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="Last submission")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(
        blank=True, help_text="Why it was rejected or what to change; shown to the courier"
    )

    class Meta:
        ordering = ["submitted_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ApplicationStatus.values),
                name="workforce_application_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(
                    status__in=[ApplicationStatus.REJECTED, ApplicationStatus.CHANGES_REQUESTED]
                )
                | ~Q(decision_note=""),
                name="workforce_application_decision_has_note",
                violation_error_message="Say why, so the courier knows what to do.",
            ),
            models.CheckConstraint(
                condition=Q(status=ApplicationStatus.DRAFT) | Q(submitted_at__isnull=False),
                name="workforce_application_submitted_at_set",
            ),
        ]
        indexes = [
            # The vetting queue: by status, oldest submission first.
            models.Index(fields=["status", "submitted_at"], name="workforce_application_queue"),
        ]

    def __str__(self) -> str:
        return f"Application of {self.courier} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_APPLICATION_STATUSES


class CourierEvent(EventModel):
    """The courier's timeline: application and profile moves, uploads, shifts. Never edited."""

    class Kind(models.TextChoices):
        SIGNED_UP = "signed_up", "Signed up"
        EMAIL_VERIFIED = "email_verified", "Email verified"
        DETAILS_UPDATED = "details_updated", "Details updated"
        PAYOUT_ACCOUNT_CHANGED = "payout_account_changed", "Payout account changed"
        DOCUMENT_UPLOADED = "document_uploaded", "Document uploaded"
        DOCUMENT_EXPIRED = "document_expired", "Document expired"
        TERMS_ACCEPTED = "terms_accepted", "Terms accepted"
        APPLICATION_STATUS = "application_status", "Application status changed"
        COURIER_STATUS = "courier_status", "Courier status changed"
        SHIFT_STATUS = "shift_status", "Shift status changed"

    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["courier", "occurred_at", "pk"]
        indexes = [
            models.Index(fields=["courier", "occurred_at"], name="workforce_event_timeline"),
        ]


class TermsAcceptance(AppendOnlyModel):
    """A courier accepted a version of the terms at a moment (kept as evidence)."""

    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="terms_acceptances")
    version = models.CharField(max_length=32)
    accepted_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["courier", "-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["courier", "version"], name="workforce_terms_once_per_version"
            )
        ]

    def __str__(self) -> str:
        return f"Terms {self.version} accepted {self.accepted_at:%Y-%m-%d %H:%M}"
