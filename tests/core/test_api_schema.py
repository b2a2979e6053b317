"""The OpenAPI schema lists every problem answer the API gives, and is valid."""

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import EndpointEnumerator

from lastmile.core.errors import BaseErrorCode
from tests.api_schema import listed_codes

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _throttled_endpoints() -> set[tuple[str, str]]:
    """(method, path) of every API operation whose view has a rate limit, read from the code."""
    return {
        (method, path)
        for path, _regex, method, view in EndpointEnumerator().get_api_endpoints()
        if getattr(view.cls, "throttle_classes", None)
    }


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    docs = client.get("/api/v1/docs/")

    assert schema.status_code == 200
    assert b"openapi: 3" in schema.content
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_every_throttled_operation_documents_429_with_retry_after(schema):
    # given: the operations whose views are rate limited (driver API, telematics ingest)
    throttled = _throttled_endpoints()
    operations = _operations(schema)
    ids = {operations[endpoint]["operationId"] for endpoint in throttled}
    assert "fleet_telematics_pings_ingest" in ids
    assert {op["operationId"] for (_, path), op in operations.items() if "/driver/" in path} <= ids

    # then: each lists the 429 problem and its Retry-After header
    for endpoint in throttled:
        responses = operations[endpoint]["responses"]
        assert "429" in responses, endpoint
        assert "Retry-After" in responses["429"].get("headers", {}), endpoint
        assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
        assert "Problem" in str(responses["429"]["content"]), endpoint
        # a response header, not a request parameter the client would be asked to send
        names = [p["name"] for p in operations[endpoint].get("parameters", [])]
        assert "Retry-After" not in names, endpoint


def test_every_operation_with_a_body_documents_413(schema):
    with_body = {
        endpoint: op for endpoint, op in _operations(schema).items() if "requestBody" in op
    }
    assert len(with_body) >= 7  # four stop updates, pings, charging sessions and plans

    missing = [op["operationId"] for op in with_body.values() if "413" not in op["responses"]]

    assert missing == []


def test_driver_operations_document_403_courier_not_active(schema):
    driver = {
        endpoint: op for endpoint, op in _operations(schema).items() if "/driver/" in endpoint[1]
    }
    assert len(driver) == 10

    for op in driver.values():
        assert "`courier_not_active`" in op["responses"]["403"]["description"], op["operationId"]


def test_offer_operations_document_each_409_code(schema):
    ops = {op["operationId"]: op for op in _operations(schema).values()}

    accept = ops["driver_offers_accept"]["responses"]["409"]["description"]
    decline = ops["driver_offers_decline"]["responses"]["409"]["description"]

    for code in ("offer_closed", "offer_expired", "route_taken", "courier_unfit", "courier_busy"):
        assert f"`{code}`" in accept
    assert "`offer_closed`" in decline


def test_problem_body_documents_the_context_of_domain_errors(schema):
    problem = schema["components"]["schemas"]["Problem"]

    assert "context" in problem["properties"]
    assert "context" not in problem["required"]
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(problem["required"])


def test_schema_generates_without_warnings_and_validates(tmp_path):
    # given: warnings counted by earlier generations in this process are not ours
    GENERATOR_STATS.reset()

    # when / then: the command raises on any warning or an invalid OpenAPI document
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def _known_codes() -> set[str]:
    from tests.core.test_error_codes import _import_product_modules, _subclasses

    _import_product_modules()
    return {member.value for enum in _subclasses(BaseErrorCode) for member in enum}


def test_every_error_response_lists_its_codes_and_each_is_a_defined_code(schema):
    # given: every code an ErrorCode enum defines
    known = _known_codes()
    listed: set[str] = set()

    # then: each 4xx answer of every operation names at least one code, and only defined ones
    for op in _operations(schema).values():
        for status, response in op["responses"].items():
            if not status.startswith("4"):
                continue
            codes = listed_codes(response["description"])
            assert codes, (op["operationId"], status)
            assert codes <= known, (op["operationId"], status, codes - known)
            listed |= codes
    assert {"offer_expired", "order_stop", "session_overlap", "no_charging_site"} <= listed


@pytest.mark.parametrize(
    ("operation_id", "status", "codes"),
    [
        ("driver_routes_start", "409", {"invalid_transition"}),
        ("driver_stops_arrive", "409", {"route_not_in_progress", "invalid_transition"}),
        (
            "driver_stops_complete",
            "409",
            {"order_stop", "route_not_in_progress", "invalid_transition"},
        ),
        ("driver_stops_deliver", "409", {"route_not_in_progress", "invalid_transition"}),
        ("driver_stops_fail", "409", {"route_not_in_progress", "invalid_transition"}),
        ("driver_routes_list", "403", {"courier_not_active", "not_authenticated"}),
        ("fleet_charging_sessions_record", "409", {"session_exists", "session_overlap"}),
        ("fleet_charging_sessions_record", "400", {"invalid", "tariff_incomplete"}),
        (
            "fleet_charging_plans_request",
            "400",
            {"invalid", "no_charging_site", "no_vehicles", "tariff_incomplete"},
        ),
        ("fleet_telematics_pings_ingest", "401", {"authentication_failed"}),
        ("fleet_telematics_pings_ingest", "429", {"throttled"}),
        ("fleet_telematics_pings_ingest", "413", {"request_too_large"}),
    ],
)
def test_operations_list_the_codes_their_services_give(schema, operation_id, status, codes):
    ops = {op["operationId"]: op for op in _operations(schema).values()}

    listed = listed_codes(ops[operation_id]["responses"][status]["description"])

    assert codes <= listed


def test_operations_that_change_nothing_document_no_conflict(schema):
    ops = {op["operationId"]: op for op in _operations(schema).values()}

    for operation_id in (
        "driver_routes_list",
        "driver_offers_list",
        "fleet_vehicles_list",
        "fleet_charging_plans_retrieve",
        "fleet_telematics_pings_ingest",
    ):
        assert "409" not in ops[operation_id]["responses"], operation_id


def test_the_api_description_says_where_the_error_codes_are_listed(schema):
    description = schema["info"]["description"]

    assert "`code`" in description
    assert "error responses list the codes" in description
    assert "`ErrorCode`" in description
