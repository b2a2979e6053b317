"""Forms of the courier portal: input parsing and labels only; the rules live in services.

Every form marks invalid inputs with ``aria-invalid`` and links inputs to their help text and
error list with ``aria-describedby``, so screen readers announce the message next to the field.
"""

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.contrib.auth.password_validation import password_validators_help_text_html

from lastmile.accounts.models import User
from lastmile.core.errors import ApplicationError
from lastmile.core.skills import Skill
from lastmile.core.uploads import MAX_DOCUMENT_BYTES
from lastmile.hubs.models import Hub
from workforce.models import CourierKind, DocumentKind, Vehicle, WorkEligibility


class PortalForm(forms.Form):
    """Accessible rendering: ids of help text and errors wired to each input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            ids = []
            if field.help_text:
                ids.append(f"id_{name}_helptext")
            ids.append(f"id_{name}_error")
            field.widget.attrs.setdefault("aria-describedby", " ".join(ids))

    def full_clean(self) -> None:
        super().full_clean()
        self._mark_invalid()

    def _mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"

    def add_service_error(self, exc: ApplicationError) -> None:
        """Show a service's refusal next to the fields it names (the rest above the form)."""
        if not exc.errors:
            self.add_error(None, exc.message)
        for name, messages in exc.errors.items():
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
        self._mark_invalid()


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class SignUpForm(PortalForm):
    email = forms.EmailField(
        max_length=150, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password_again = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class CourierLoginForm(AuthenticationForm):
    # Couriers sign up with their email as the username; the demo courier is plain "courier".
    username = forms.CharField(
        label="Email",
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Email or password is wrong, or the email address is not confirmed yet.",
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class ResendVerificationForm(PortalForm):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class CourierPasswordResetForm(PortalForm, PasswordResetForm):
    """Mails a reset link to a courier's active account; anyone else's address gets nothing.

    Back-office accounts are not reset from the courier portal: their password is an admin's
    business (``manage.py changepassword``), and a public form should not reach them.
    """

    def get_users(self, email: str):  # type: ignore[no-untyped-def]
        return (user for user in super().get_users(email) if hasattr(user, "courier"))


class CourierSetPasswordForm(PortalForm, SetPasswordForm):
    pass


class PersonalDetailsForm(PortalForm):
    first_name = forms.CharField(
        max_length=150, widget=forms.TextInput({"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=150, widget=forms.TextInput({"autocomplete": "family-name"})
    )
    phone = forms.CharField(
        max_length=32,
        help_text="Mobile number, e.g. +49 151 23456789",
        widget=forms.TextInput({"autocomplete": "tel", "inputmode": "tel"}),
    )
    date_of_birth = forms.DateField(widget=_date_input())
    street_address = forms.CharField(
        label="Street and number",
        max_length=255,
        widget=forms.TextInput({"autocomplete": "street-address"}),
    )
    postcode = forms.CharField(
        max_length=16, widget=forms.TextInput({"autocomplete": "postal-code"})
    )
    city = forms.CharField(
        max_length=120, widget=forms.TextInput({"autocomplete": "address-level2"})
    )
    country = forms.CharField(
        max_length=2,
        min_length=2,
        initial="DE",
        help_text="Two-letter code, e.g. DE",
        widget=forms.TextInput({"autocomplete": "country", "size": 2}),
    )


class EligibilityForm(PortalForm):
    work_eligibility = forms.ChoiceField(
        label="Your right to work here", choices=WorkEligibility.choices, widget=forms.RadioSelect
    )
    nationality = forms.CharField(
        max_length=2, min_length=2, help_text="Two-letter code, e.g. DE, PL, TR"
    )


class VehicleForm(PortalForm):
    kind = forms.ChoiceField(
        label="How you want to work", choices=CourierKind.choices, widget=forms.RadioSelect
    )
    home_hub = forms.ModelChoiceField(
        label="Home hub", queryset=Hub.objects.filter(is_active=True).order_by("name")
    )
    vehicle = forms.ChoiceField(
        label="Vehicle you bring", choices=Vehicle.choices, widget=forms.RadioSelect
    )
    skills = forms.MultipleChoiceField(
        choices=Skill.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only what you are trained or equipped for",
    )


class IbanInput(forms.TextInput):
    """Never renders a value back: the IBAN is not echoed into the page, even after an error."""

    def format_value(self, value: Any) -> None:
        return None


class PayoutAccountForm(PortalForm):
    account_holder = forms.CharField(
        max_length=70, widget=forms.TextInput({"autocomplete": "name"})
    )
    iban = forms.CharField(
        label="IBAN",
        max_length=42,
        widget=IbanInput(
            {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
    )
    bic = forms.CharField(label="BIC (optional)", max_length=11, required=False)

    def __init__(self, *args: Any, current_iban: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if current_iban:
            self.fields["iban"].help_text = f"On file: {current_iban}. Type it again to change it."


class DocumentForm(PortalForm):
    kind = forms.ChoiceField(label="Document", choices=DocumentKind.choices)
    expires_on = forms.DateField(
        label="Valid until",
        required=False,
        widget=_date_input(),
        help_text="Required for ID, driving licence and insurance",
    )
    file = forms.FileField(
        help_text="PDF, JPEG, PNG or WebP, at most 10 MB",
        widget=forms.ClearableFileInput(
            attrs={
                "accept": "application/pdf,image/jpeg,image/png,image/webp",
                "data-max-bytes": str(MAX_DOCUMENT_BYTES),
            }
        ),
    )


class TermsForm(PortalForm):
    accept = forms.BooleanField(label="I have read and accept these terms")


class AvailabilityForm(PortalForm):
    hub = forms.ModelChoiceField(queryset=Hub.objects.filter(is_active=True).order_by("name"))
    day = forms.DateField(widget=_date_input())
    starts_at = forms.TimeField(label="From", widget=_time_input())
    ends_at = forms.TimeField(label="Until", widget=_time_input())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The slot must end after it starts.")
        return data


def initial_for(user: User, courier: Any, names: list[str]) -> dict[str, Any]:
    """The current answers of a step, read from the user or the courier profile."""
    initial: dict[str, Any] = {}
    for name in names:
        source = user if name in ("first_name", "last_name", "phone") else courier
        value = getattr(source, name)
        if value not in ("", None, []):
            initial[name] = value
    return initial
