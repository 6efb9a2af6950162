"""Flags fixtures: an empty flags table and a fresh in-process cache for each test."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from boto3.dynamodb.conditions import Key

from bellyfed import flags
from bellyfed.dynamo import flags as storage
from bellyfed.dynamo import table
from bellyfed.flags.evaluate import Experiment, Flag, Variant

EXPOSED = ("home-search-placeholder", "test-exp")
BROWSER = {"User-Agent": "Mozilla/5.0 flags-test"}


def _empty(app) -> None:
    with app.app_context():
        items = table("flags")
        keys = items.scan(ProjectionExpression="pk, sk")["Items"]
        for name in EXPOSED:  # exposure counters this suite creates in the analytics table
            for variant in ("dish", "craving", "a", "b"):
                pk = f"metric#exposure:{name}:{variant}"
                found = table("analytics").query(KeyConditionExpression=Key("pk").eq(pk))
                for item in found["Items"]:
                    table("analytics").delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
        with items.batch_writer() as batch:
            for key in keys:
                batch.delete_item(Key={"pk": key["pk"], "sk": key["sk"]})
        flags.reset_cache()


@pytest.fixture
def flags_table(app):
    """The flags table emptied before and after (moto keeps items across tests)."""
    _empty(app)
    yield table
    _empty(app)


def store(record: Flag | Experiment) -> Flag | Experiment:
    """Write a new flag or experiment as an operator would, and drop the cached copy."""
    saved = storage.put(record, 0, "tester", "created by a test")
    flags.reset_cache()
    return saved


def on_for_everyone(name: str) -> Flag:
    return Flag(name=name, enabled=True, rollout=100)


def experiment(name: str = "test-exp", **weights: int) -> Experiment:
    variants = tuple(Variant(v, w) for v, w in (weights or {"a": 50, "b": 50}).items())
    return Experiment(name=name, variants=variants, enabled=True)


@contextmanager
def dynamodb_down(app):
    """Point the app at a port nobody listens on, with no cached resource or flags."""
    endpoint = app.config["AWS_ENDPOINT_URL_DYNAMODB"]
    app.config["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:1"
    resource = app.extensions.pop("dynamodb", None)
    flags_cache = app.extensions.pop("flags", None)
    try:
        yield
    finally:
        app.config["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        app.extensions.pop("dynamodb", None)
        if resource is not None:
            app.extensions["dynamodb"] = resource
        app.extensions.pop("flags", None)
        if flags_cache is not None:
            app.extensions["flags"] = flags_cache
