"""The courier portal under ``/courier/``."""

from django.urls import path

from workforce import views

app_name = "workforce"

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("signup/done/", views.signup_done, name="signup_done"),
    path("verify/<str:uidb64>/<str:token>/", views.verify_email, name="verify_email"),
    path("verify/resend/", views.resend_verification, name="resend_verification"),
    path("login/", views.CourierLoginView.as_view(), name="login"),
    path("logout/", views.CourierLogoutView.as_view(), name="logout"),
    path("password/reset/", views.CourierPasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        views.CourierPasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<str:uidb64>/<str:token>/",
        views.CourierPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        views.CourierPasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("application/<int:pk>/", views.application_detail, name="application"),
    path("application/personal/", views.personal, name="personal"),
    path("application/eligibility/", views.eligibility, name="eligibility"),
    path("application/vehicle/", views.vehicle, name="vehicle"),
    path("application/payout/", views.payout, name="payout"),
    path("application/documents/", views.documents, name="documents"),
    path("application/terms/", views.terms, name="terms"),
    path("application/submit/", views.submit, name="submit"),
    path("documents/<int:pk>/file/", views.document_file, name="document_file"),
    path("availability/", views.availability, name="availability"),
    path("availability/<int:pk>/remove/", views.availability_remove, name="availability_remove"),
    path("earnings/", views.earnings, name="earnings"),
    path("earnings/payouts/<int:pk>/", views.payout_detail, name="payout_detail"),
]
