"""The OpenAPI schema as the tests read it: which problem codes an operation documents."""

import re
from functools import cache

from django.http import HttpResponse
from drf_spectacular.generators import SchemaGenerator

# ``core.api.problem`` lists each code as a line "- `code`: meaning".
_CODE_LINE = re.compile(r"^- `([a-z_]+)`: ", re.M)


@cache
def api_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def listed_codes(description: str) -> set[str]:
    return set(_CODE_LINE.findall(description))


def _operation(method: str, path: str) -> dict:
    for template, item in api_schema()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the API schema")


def documented_codes(method: str, path: str, status: int) -> set[str]:
    """The codes the schema lists for ``status`` of the operation at ``method path``."""
    responses = _operation(method, path)["responses"]
    assert str(status) in responses, f"{method} {path} does not document {status}"
    return listed_codes(responses[str(status)]["description"])


def assert_code_documented(response: HttpResponse) -> None:
    """The problem ``response`` gave is listed, under its status, for the operation asked."""
    request = response.wsgi_request
    code = response.json()["code"]
    codes = documented_codes(request.method, request.path, response.status_code)
    assert code in codes, (
        f"{request.method} {request.path}: {response.status_code} {code} not in {codes}"
    )
