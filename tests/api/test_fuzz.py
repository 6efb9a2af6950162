"""The whole API fuzzed from its own OpenAPI document with schemathesis, in process against the
real app, PostgreSQL, Redis and DynamoDB (moto): no 5xx, and every response matches the document.

Every check of schemathesis runs but ``positive_data_acceptance``: a schema-valid request can
still name a city that doesn't exist or a cursor we never issued, and the API rightly answers 400
(or 422 for a dish of another restaurant); the statuses must still be documented ones. For
multipart bodies ``negative_data_rejection`` is off too: it calls a form value of "12" a number
where the schema says string, but on the wire every form value is text.

Each operation gets ``FUZZ_EXAMPLES`` generated cases, valid and invalid, with a real token of a
diner who has a review, rankings and votes, so writes reach the services and not just the 401.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.factories import (
    DishFactory,
    DishTypeFactory,
    OperatingHoursFactory,
    PhotoFactory,
    RestaurantFactory,
    ReviewFactory,
    UserFactory,
)

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))


@pytest.fixture
def fuzz_world(app, db_session, redis_client, token_for):
    """A few restaurants with dishes, hours and reviews, and the token the fuzzer writes with."""
    kind = DishTypeFactory(slug="laksa", name="Laksa")
    for n in range(3):
        restaurant = RestaurantFactory(slug=f"place-{n}")
        OperatingHoursFactory(restaurant=restaurant, weekday=n)
        DishFactory(id=n + 1, restaurant=restaurant, dish_type=kind)
        ReviewFactory(id=n + 1, restaurant=restaurant)
    diner = UserFactory()
    PhotoFactory(id=1, uploader_id=diner.id)  # so fuzzed top-5 places can pass photo_id=1
    db_session.flush()
    for table in ("dishes", "reviews", "photos"):  # rows the fuzzer creates come after these ids
        db_session.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        ))  # fmt: skip
    return token_for(diner)


def cases() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for every operation, read from the document of an app built for it.

    Negative cases only where something can be invalid: a query parameter, a body or a number in
    the path (any string is a valid slug, so there is no invalid request to make of those).
    """
    from bellyfed import create_app

    spec = create_app({"TESTING": True}).extensions["bellyfed_api"].spec.to_dict()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            found.append((method.upper(), path, GenerationMode.POSITIVE))
            parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
            constrained = "requestBody" in operation or any(
                p["in"] == "query" or p.get("schema", {}).get("type") == "integer"
                for p in parameters
            )
            if constrained:
                found.append((method.upper(), path, GenerationMode.NEGATIVE))
    return found


# schemathesis's own pytest loader needs pytest < 9 (it reads a removed private attribute), so
# each operation is its own test here, driven by hypothesis directly.
@pytest.mark.parametrize(("method", "path", "mode"), cases())
def test_api_never_fails_and_matches_its_document(app, fuzz_world, method, path, mode):
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method]
    statuses: list[int] = []
    excluded = [positive_data_acceptance]
    body = operation.definition.raw.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in body:  # on the wire every form value is text: "12" is a string
        excluded.append(negative_data_rejection)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def fuzz(case) -> None:
        response = case.call_and_validate(headers=fuzz_world, excluded_checks=excluded)
        statuses.append(response.status_code)

    fuzz()
    assert statuses, "no case was generated"
    # `pytest -s tests/api/test_fuzz.py` prints how many cases each operation ran, and their answers.
    print(f"\nfuzz {method} {path} {mode.value}: {len(statuses)} cases, "
          f"statuses {sorted(set(statuses))}")  # fmt: skip
