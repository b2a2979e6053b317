"""What the product says about itself names unbuilt features as planned.

The README's introduction, the package description and the API description are what an
operator or a partner reads first; a sentence there that mentions a feature not built yet
must say it is planned.
"""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Features of the design that do not exist yet; each mention must be called planned.
UNBUILT = re.compile(r"webhook|tracking page|locker|returns|partner order API", re.IGNORECASE)


def _unplanned_claims(text: str) -> list[str]:
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return [s for s in sentences if UNBUILT.search(s) and "planned" not in s.lower()]


def _readme_intro() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## ", 1)[0]


def test_readme_introduction_calls_unbuilt_features_planned():
    assert _unplanned_claims(_readme_intro()) == []


def test_package_description_claims_no_unbuilt_feature():
    description = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["description"]

    assert _unplanned_claims(description) == []


@pytest.mark.django_db
def test_api_description_names_only_what_the_api_serves(client):
    # given: the schema the API docs page renders
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)

    # then: its description claims nothing unbuilt, and the parts it names are served
    assert _unplanned_claims(schema["info"]["description"]) == []
    prefixes = {path.split("/")[3] for path in schema["paths"]}
    assert {"driver", "fleet"} <= prefixes
