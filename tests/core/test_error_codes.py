"""Every error code is a member of an ``ErrorCode`` enum: none is typed as a free string.

Clients branch on codes and the API schema lists them, so a code spelled inline (two modules
spelling one error two ways, a code no list names) is a defect these tests catch.
"""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

from lastmile.core.errors import ApplicationError, BaseErrorCode

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("lastmile", "fleet", "workforce")
# Modules that configure or start the process rather than define code.
NOT_IMPORTED = {"lastmile.settings", "lastmile.test_settings", "lastmile.wsgi", "lastmile.asgi"}


def _product_files() -> list[Path]:
    return [
        path
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _import_product_modules() -> None:
    for package in PRODUCT_PACKAGES:
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" in module.name or module.name in NOT_IMPORTED:
                continue
            importlib.import_module(module.name)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def _error_names() -> set[str]:
    _import_product_modules()
    return {cls.__name__ for cls in _subclasses(ApplicationError)} | {
        "ApplicationError",
        "ValidationError",
    }


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_text(node: ast.AST | None) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _free_string_codes(tree: ast.AST, error_names: set[str]) -> list[tuple[int, str]]:
    """(line, what) for every code written as a string where an error or problem is made."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = _callee(node)
            raises_or_answers = callee in error_names or "problem" in callee.lower()
            for keyword in node.keywords:
                if keyword.arg == "code" and _is_text(keyword.value) and raises_or_answers:
                    found.append((node.lineno, f"{callee}(code=…)"))
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                targets = (
                    statement.targets
                    if isinstance(statement, ast.Assign)
                    else [statement.target]
                    if isinstance(statement, ast.AnnAssign)
                    else []
                )
                if any(getattr(t, "id", None) == "code" for t in targets) and _is_text(
                    statement.value
                ):
                    found.append((statement.lineno, f"class {node.name}: code = …"))
        elif isinstance(node, ast.Dict):
            keys = {
                k.value: v
                for k, v in zip(node.keys, node.values, strict=True)
                if k is not None and isinstance(k, ast.Constant)
            }
            # A problem body built by hand ({"type", "title", "status", "detail", "code"}).
            if "detail" in keys and _is_text(keys.get("code")):
                found.append((node.lineno, '{"code": …} problem body'))
    return found


def test_no_error_or_problem_in_product_code_is_given_a_free_string_code():
    # given: every error class of the product, by name
    error_names = _error_names()

    # when: every raise site, error class and hand-built problem body is read
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {what}"
        for path in _product_files()
        for line, what in _free_string_codes(ast.parse(path.read_text()), error_names)
    ]

    # then: each takes its code from an ErrorCode enum
    assert offenders == []


def test_the_source_check_catches_a_free_string_code():
    # given: each shape a free-string code takes, and two that are not one
    source = """
raise Conflict("Taken.", code="route_taken")
class Refused(Conflict):
    code = "refused"
problem_response(status=401, detail="Sign in.", code="not_authenticated")
body = {"type": "x", "detail": "Too large", "code": "request_too_large"}
raise Conflict("Taken.", code=DispatchErrorCode.ROUTE_TAKEN)
Hub.objects.filter(code="BER-TH")
"""
    # when
    found = _free_string_codes(ast.parse(source), {"Conflict"})

    # then: the four free strings, not the enum member nor a hub looked up by its code
    assert sorted(line for line, _ in found) == [2, 4, 5, 6]


def test_every_domain_error_class_takes_its_code_from_an_enum():
    # given: every ApplicationError subclass in the product
    _import_product_modules()
    classes = _subclasses(ApplicationError) | {ApplicationError}

    # then
    free = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in classes
        if not isinstance(cls.code, BaseErrorCode)
    )
    assert free == []
    assert len(classes) > 15


def test_each_code_is_defined_once_and_states_its_meaning():
    # given: every app's ErrorCode enum
    _import_product_modules()
    enums = _subclasses(BaseErrorCode)
    members = [member for enum in enums for member in enum]

    # then: one definition per value, so two modules cannot spell one error two ways
    values = [member.value for member in members]
    assert sorted({v for v in values if values.count(v) > 1}) == []
    # and a label written by hand (Django derives "Offer Expired" from the name otherwise)
    derived = [m.name for m in members if m.label == m.name.replace("_", " ").title()]
    assert derived == []
    assert {e.__module__ for e in enums} >= {
        "lastmile.core.errors",
        "lastmile.dispatch.errors",
        "fleet.errors",
        "workforce.errors",
    }


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("lastmile.dispatch.errors:DispatchErrorCode.OFFER_EXPIRED", "offer_expired"),
        (
            "lastmile.dispatch.errors:DispatchErrorCode.ROUTE_NOT_IN_PROGRESS",
            "route_not_in_progress",
        ),
        ("lastmile.dispatch.errors:DispatchErrorCode.ORDER_STOP", "order_stop"),
        ("lastmile.core.errors:ErrorCode.INVALID_TRANSITION", "invalid_transition"),
        ("workforce.errors:WorkforceErrorCode.COURIER_INACTIVE", "courier_inactive"),
        ("fleet.errors:FleetErrorCode.NO_VEHICLES", "no_vehicles"),
    ],
)
def test_codes_keep_the_values_clients_already_branch_on(code, value):
    module, name = code.split(":")
    enum_name, member = name.split(".")
    enum = getattr(importlib.import_module(module), enum_name)

    assert enum[member] == value
    assert str(enum[member]) == value
