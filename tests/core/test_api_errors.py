"""Every API error has one shape: {type, title, status, detail, code, errors}."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from lastmile.core.errors import InvalidTransition, NotFound

factory = APIRequestFactory()


class _Input(serializers.Serializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)


def _view(raise_exc):
    class View(APIView):
        permission_classes = [AllowAny]
        authentication_classes = []

        def post(self, request):
            if raise_exc == "serializer":
                _Input(data=request.data).is_valid(raise_exception=True)
            raise raise_exc

    return View.as_view()


def _call(exc, data=None):
    response = _view(exc)(factory.post("/x", data or {}, format="json"))
    response.render()
    return response


def test_serializer_errors_are_400_with_field_errors():
    response = _call("serializer", {"latitude": 123})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.data["code"] == "invalid"
    assert "latitude" in response.data["errors"]
    assert set(response.data) >= {"type", "title", "status", "detail", "code", "errors"}


def test_domain_transition_error_is_409_with_its_code():
    response = _call(InvalidTransition(entity="Order", current="delivered", target="cancelled"))

    assert response.status_code == 409
    assert response.data["code"] == "invalid_transition"
    assert response.data["context"] == {"entity": "Order", "from": "delivered", "to": "cancelled"}


def test_model_validation_error_is_400_per_field():
    response = _call(
        DjangoValidationError({"latitude": ["Ensure this value is less than or equal to 90."]})
    )

    assert response.status_code == 400
    assert response.data["errors"] == {
        "latitude": ["Ensure this value is less than or equal to 90."]
    }


@pytest.mark.parametrize("exc", [NotFound("No such order."), Http404()])
def test_not_found_is_404(exc):
    response = _call(exc)

    assert response.status_code == 404
    assert response.data["code"] == "not_found"
