"""The courier portal (``/courier/…``): server-rendered, mobile-first, thin over the services.

Every page that shows a courier's data is for the signed-in courier only: objects addressed
by id go through selectors scoped to them, so another courier's id is a 404. Anonymous
visitors are sent to the portal's sign-in page.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import (
    LoginView,
    LogoutView,
    PasswordResetCompleteView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
)
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lastmile.accounts.models import User
from lastmile.core.clientip import client_ip
from lastmile.core.errors import ApplicationError, NotFound
from lastmile.core.ratelimits import RateLimited, rate_limit_check
from lastmile.core.uploads import serve_upload
from workforce import selectors, services
from workforce.access import LOGIN_URL, courier_view
from workforce.forms import (
    AvailabilityForm,
    CourierLoginForm,
    CourierPasswordResetForm,
    CourierSetPasswordForm,
    DocumentForm,
    EligibilityForm,
    PayoutAccountForm,
    PersonalDetailsForm,
    PortalForm,
    ResendVerificationForm,
    SignUpForm,
    TermsForm,
    VehicleForm,
    initial_for,
)
from workforce.models import ApplicationStatus, Courier, CourierStatus
from workforce.panels import home_panels
from workforce.services.common import notify_after_commit
from workforce.tokens import email_verification_token

logger = logging.getLogger(__name__)


def _rate_limited(request: HttpRequest, form: PortalForm, *, group: str) -> RateLimited | None:
    """Count a submission of a mail-sending form per IP and per address; refuse past a limit.

    Every POST counts for the IP; a well-formed address also for itself. A refusal is shown
    above the form (the caller answers 429 with ``Retry-After``) and nothing is sent.
    """
    address = form.cleaned_data.get("email") if form.is_valid() else None
    limited = rate_limit_check(request, group=group, address=address)
    if limited is not None:
        form.add_error(None, limited.message)
        logger.warning(
            "workforce: portal form rate limited",
            extra={"group": group, "scope": limited.scope},
        )
    return limited


# --- Sign-up, verification, sign-in ---------------------------------------------------------


@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and hasattr(request.user, "courier"):
        return redirect("workforce:home")
    form = SignUpForm(request.POST or None)
    limited = None
    if request.method == "POST":
        limited = _rate_limited(request, form, group="courier_signup")
    if request.method == "POST" and limited is None and form.is_valid():
        try:
            services.courier_sign_up(
                email=form.cleaned_data["email"], password=form.cleaned_data["password"]
            )
        except ApplicationError as exc:
            form.add_service_error(exc)
        except ValidationError as exc:
            # Messages only: a dict of model fields the form does not have would raise.
            form.add_error(None, exc.messages)
        else:
            # The same page whether or not the address had an account (no enumeration).
            return redirect("workforce:signup_done")
    response = render(request, "workforce/portal/signup.html", {"form": form})
    return limited.apply(response) if limited else response


@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "workforce/portal/signup_done.html")


@never_cache
@require_GET
def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    courier = Courier.objects.filter(user=user).first() if user is not None else None
    if courier is not None and courier.email_verified_at is not None:
        messages.info(request, "Your email address is already confirmed. Sign in to continue.")
        return redirect("workforce:login")
    if courier is None or not email_verification_token.check_token(user, token):
        form = ResendVerificationForm()
        return render(request, "workforce/portal/verify_invalid.html", {"form": form}, status=400)
    services.courier_verify_email(user=user)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, "Email address confirmed. Let's fill in your application.")
    return redirect("workforce:home")


@require_http_methods(["GET", "POST"])
def resend_verification(request: HttpRequest) -> HttpResponse:
    form = ResendVerificationForm(request.POST or None)
    limited = None
    if request.method == "POST":
        limited = _rate_limited(request, form, group="courier_resend_verification")
    if request.method == "POST" and limited is None and form.is_valid():
        services.courier_resend_verification(email=form.cleaned_data["email"])
        return redirect("workforce:signup_done")
    response = render(request, "workforce/portal/resend.html", {"form": form})
    return limited.apply(response) if limited else response


class CourierLoginView(LoginView):
    template_name = "workforce/portal/login.html"
    authentication_form = CourierLoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("workforce:home")


class CourierLogoutView(LogoutView):
    next_page = reverse_lazy("workforce:login")


class CourierPasswordResetView(PasswordResetView):
    """Asks for a mail with a link to choose a new password (rate limited per IP and address).

    Nothing is mailed inside the request: a courier's reset mail is queued after commit to the
    ``notifications.courier_email`` task, which builds the link on ``SITE_URL`` (never on the
    request's Host header) and retries a failing mail server. So the page after is the same
    whether or not the address has an account, it never waits on the mail server (whose delay
    would tell the two apart), and a mail server error never reaches the person asking.
    """

    template_name = "workforce/portal/password_reset.html"
    form_class = CourierPasswordResetForm
    success_url = reverse_lazy("workforce:password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form()
        limited = _rate_limited(request, form, group="courier_password_reset")
        if limited is not None:
            return limited.apply(self.form_invalid(form))
        return self.form_valid(form) if form.is_valid() else self.form_invalid(form)

    def form_valid(self, form: CourierPasswordResetForm) -> HttpResponse:
        # Not ``PasswordResetForm.save``: it mails inside the request.
        for user in form.get_users(form.cleaned_data["email"]):
            notify_after_commit(user.courier.pk, "password_reset")
        return redirect(self.get_success_url())


class CourierPasswordResetDoneView(PasswordResetDoneView):
    template_name = "workforce/portal/password_reset_done.html"


class CourierPasswordResetConfirmView(PasswordResetConfirmView):
    template_name = "workforce/portal/password_reset_confirm.html"
    form_class = CourierSetPasswordForm
    success_url = reverse_lazy("workforce:password_reset_complete")


class CourierPasswordResetCompleteView(PasswordResetCompleteView):
    template_name = "workforce/portal/password_reset_complete.html"


# --- Status page ------------------------------------------------------------------------------


@courier_view
@require_GET
def home(request: HttpRequest, courier: Courier) -> HttpResponse:
    """Where the application stands and what is missing; for active couriers, their work."""
    application = courier.application
    checklist = selectors.application_checklist(courier=courier)
    context: dict[str, Any] = {
        "courier": courier,
        "application": application,
        "checklist": checklist,
        "missing": [item for item in checklist if not item.done],
        # An approved, active courier comes here for their day's work; the application
        # steps lead only while applying (what is missing still shows, e.g. an expired ID).
        "working": application.status == ApplicationStatus.APPROVED
        and courier.status == CourierStatus.ACTIVE,
    }
    if context["working"]:
        context["panels"] = home_panels(courier=courier)
        context["next_slot"] = selectors.courier_next_availability(courier=courier)
    if courier.status != CourierStatus.APPLICANT:
        context["performance"] = selectors.courier_performance(courier=courier)
        context["open_balance_minor"] = selectors.courier_open_balance(courier=courier)
    return render(request, "workforce/portal/home.html", context)


# --- Application steps ----------------------------------------------------------------------


def _step(
    request: HttpRequest,
    courier: Courier,
    *,
    form_class: type[PortalForm],
    title: str,
    initial: dict[str, Any],
    save: Callable[[dict[str, Any]], object],
    intro: str = "",
    editable: bool | None = None,
    form_kwargs: dict[str, Any] | None = None,
) -> HttpResponse:
    editable = courier.application.is_editable if editable is None else editable
    data = request.POST if request.method == "POST" and editable else None
    form = form_class(data, initial=initial, **(form_kwargs or {}))
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    if data is not None and form.is_valid():
        try:
            save(form.cleaned_data)
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"{title}: saved.")
            return redirect("workforce:home")
    return render(
        request,
        "workforce/portal/step.html",
        {"form": form, "title": title, "intro": intro, "editable": editable, "courier": courier},
        status=400 if form.errors else 200,
    )


@courier_view
@require_http_methods(["GET", "POST"])
def personal(request: HttpRequest, courier: Courier) -> HttpResponse:
    names = list(PersonalDetailsForm.base_fields)
    return _step(
        request,
        courier,
        form_class=PersonalDetailsForm,
        title="Personal details",
        initial=initial_for(courier.user, courier, names),
        save=lambda data: services.courier_update_details(
            courier=courier, changes=data, actor=request.user
        ),
    )


@courier_view
@require_http_methods(["GET", "POST"])
def eligibility(request: HttpRequest, courier: Courier) -> HttpResponse:
    names = list(EligibilityForm.base_fields)
    return _step(
        request,
        courier,
        form_class=EligibilityForm,
        title="Work eligibility",
        intro="Without EU/EEA or Swiss citizenship, you will upload your permit as well.",
        initial=initial_for(courier.user, courier, names),
        save=lambda data: services.courier_update_details(
            courier=courier, changes=data, actor=request.user
        ),
    )


@courier_view
@require_http_methods(["GET", "POST"])
def vehicle(request: HttpRequest, courier: Courier) -> HttpResponse:
    names = list(VehicleForm.base_fields)
    return _step(
        request,
        courier,
        form_class=VehicleForm,
        title="Vehicle and home hub",
        intro="A car or a fleet van needs a driving licence; your own car also its insurance.",
        initial=initial_for(courier.user, courier, names),
        save=lambda data: services.courier_update_details(
            courier=courier, changes=data, actor=request.user
        ),
    )


@sensitive_post_parameters("iban")
@courier_view
@require_http_methods(["GET", "POST"])
@sensitive_variables("data")
def payout(request: HttpRequest, courier: Courier) -> HttpResponse:
    editable = courier.application.is_editable or (
        courier.application.status == ApplicationStatus.APPROVED
        and courier.status == CourierStatus.ACTIVE
    )
    return _step(
        request,
        courier,
        form_class=PayoutAccountForm,
        title="Payout account",
        intro="Your earnings are paid weekly by SEPA transfer to this account.",
        initial={"account_holder": courier.account_holder, "bic": courier.bic},
        form_kwargs={"current_iban": courier.iban_masked},
        editable=editable,
        save=lambda data: services.courier_set_payout_account(
            courier=courier,
            account_holder=data["account_holder"],
            iban=data["iban"],
            bic=data["bic"],
            actor=request.user,
        ),
    )


@courier_view
@require_http_methods(["GET", "POST"])
def documents(request: HttpRequest, courier: Courier) -> HttpResponse:
    can_upload = (
        courier.application.is_editable or courier.application.status == ApplicationStatus.APPROVED
    )
    form = DocumentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and can_upload and form.is_valid():
        try:
            services.document_upload(
                courier=courier,
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                expires_on=form.cleaned_data["expires_on"],
                actor=request.user,
            )
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "Document uploaded.")
            return redirect("workforce:documents")
    context = {
        "form": form,
        "can_upload": can_upload,
        "documents": selectors.current_documents(courier=courier),
        "required": selectors.required_document_kinds(courier=courier),
        "courier": courier,
    }
    return render(
        request, "workforce/portal/documents.html", context, status=400 if form.errors else 200
    )


@courier_view
@require_http_methods(["GET", "POST"])
def terms(request: HttpRequest, courier: Courier) -> HttpResponse:
    form = TermsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.courier_accept_terms(courier=courier, ip_address=client_ip(request))
        messages.success(request, "Terms accepted.")
        return redirect("workforce:home")
    accepted = courier.terms_acceptances.filter(version=settings.WORKFORCE_TERMS_VERSION).first()
    return render(
        request,
        "workforce/portal/terms.html",
        {
            "form": form,
            "accepted": accepted,
            "version": settings.WORKFORCE_TERMS_VERSION,
            "courier": courier,
        },
    )


@courier_view
@require_POST
def submit(request: HttpRequest, courier: Courier) -> HttpResponse:
    try:
        services.application_submit(courier=courier, actor=request.user)
    except ApplicationError as exc:
        for message in exc.errors.get("__all__", []) or [exc.message]:
            messages.error(request, message)
    else:
        messages.success(request, "Application submitted: we will review it shortly.")
    return redirect("workforce:home")


@courier_view
@require_GET
def application_detail(request: HttpRequest, courier: Courier, pk: int) -> HttpResponse:
    """A summary of the courier's own application (another's id is a 404)."""
    if courier.application.pk != pk:
        raise Http404("No such application.")
    return render(
        request,
        "workforce/portal/application.html",
        {
            "courier": courier,
            "application": courier.application,
            "documents": selectors.current_documents(courier=courier),
            "events": selectors.courier_timeline(courier=courier),
        },
    )


@login_required(login_url=LOGIN_URL)
@require_GET
def document_file(request: HttpRequest, pk: int) -> FileResponse:
    """Serve a document to its owner or to staff allowed to view documents; else 404.

    Files live outside the web root; this view is the only way to them. ``serve_upload``
    shows images inline (the back-office previews them) and has PDFs downloaded, sandboxed.
    """
    try:
        document = selectors.document_get_for_viewer(user=request.user, document_id=pk)
    except NotFound:
        raise Http404("No such document.") from None
    response = serve_upload(document.file, download_name=f"{document.kind}-{document.pk}")
    logger.info(
        "workforce: document served",
        extra={"document_id": document.pk, "viewer_id": request.user.pk},
    )
    return response


# --- Availability, earnings ---------------------------------------------------------------


@courier_view
@require_http_methods(["GET", "POST"])
def availability(request: HttpRequest, courier: Courier) -> HttpResponse:
    active = courier.status == CourierStatus.ACTIVE
    form = AvailabilityForm(request.POST or None, initial={"hub": courier.home_hub_id})
    if request.method == "POST" and active and form.is_valid():
        try:
            services.availability_slot_add(courier=courier, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "Availability added.")
            return redirect("workforce:availability")
    return render(
        request,
        "workforce/portal/availability.html",
        {
            "form": form,
            "active": active,
            "slots": selectors.courier_upcoming_availability(courier=courier),
            "courier": courier,
        },
        status=400 if form.errors else 200,
    )


@courier_view
@require_POST
def availability_remove(request: HttpRequest, courier: Courier, pk: int) -> HttpResponse:
    try:
        services.availability_slot_remove(courier=courier, slot_id=pk)
    except NotFound:
        raise Http404("No such slot.") from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Slot withdrawn.")
    return redirect("workforce:availability")


@courier_view
@require_GET
def earnings(request: HttpRequest, courier: Courier) -> HttpResponse:
    return render(
        request,
        "workforce/portal/earnings.html",
        {
            "courier": courier,
            "entries": selectors.courier_earnings(courier=courier),
            "batches": selectors.courier_payout_batches(courier=courier),
            "open_balance_minor": selectors.courier_open_balance(courier=courier),
        },
    )


@courier_view
@require_GET
def payout_detail(request: HttpRequest, courier: Courier, pk: int) -> HttpResponse:
    try:
        batch = selectors.payout_batch_get_for_courier(courier=courier, batch_id=pk)
    except NotFound:
        raise Http404("No such payout.") from None
    return render(
        request,
        "workforce/portal/payout.html",
        {
            "courier": courier,
            "batch": batch,
            "entries": batch.entries.order_by("earned_at", "pk"),
        },
    )
