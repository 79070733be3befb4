"""Issue #14: a bounded schemathesis run over every operation of ``openapi.json`` finds no 5xx and no answer that
breaks its documented schema (the error bodies included)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance
from support.instances import new_instance

pytestmark = pytest.mark.backends("embedded")

#: Examples per operation (bounded: the whole suite stays under 15 minutes).
EXAMPLES = 5


@pytest.fixture(scope="module")
def fuzz_app(request, tiny_template, tiny_rules_file, tmp_path_factory):
    """The tiny territory in a private copy (the run files orders and complaints), rate limits out of the way."""
    from gisportal.web import create_app

    instance = new_instance(request, "embedded", tmp_path_factory.mktemp("fuzz"), template=tiny_template)
    app = create_app({**instance.settings, "rules_file": tiny_rules_file, "TESTING": True,
                      "form_rate_limit": "100000 per hour", "lookup_rate_limit": "100000 per hour",
                      "note_issue_rate_limit": "100000 per day", "note_issue_parcel_limit": "100000 per day",
                      "wrong_code_rate_limit": "100000 per hour",
                      "staff_token": "fuzz-token"})
    yield app
    app.extensions["gisportal"].store.close()


def test_every_operation_answers_within_its_schema(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case) -> None:
            # identity: the bodies checked against their schema as sent (compression is tested in test_delivery)
            response = case.call(headers={"Authorization": "Bearer fuzz-token", "Accept-Encoding": "identity"})
            assert response.status_code < 500, (response.status_code, response.text[:300])
            case.validate_response(response, checks=[response_schema_conformance])

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert operations >= 10
    assert failures == [], "\n\n".join(failures)
