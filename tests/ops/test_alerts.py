"""docs/alerts.yml is valid rule YAML, and every metric its expressions use is one /metrics serves."""

from __future__ import annotations

import re

import yaml

from bellyfed import PROJECT_ROOT
from tests.ops.conftest import scrape

RULES = PROJECT_ROOT / "docs" / "alerts.yml"
MONITORING = PROJECT_ROOT / "docs" / "monitoring.md"
METRIC = re.compile(r"\bbellyfed_[a-z0-9_]+")
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_is_complete_and_has_a_runbook_entry():
    runbook = MONITORING.read_text()
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)) >= 10
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("page", "warn", "info")
        assert rule["annotations"]["summary"]
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert f"### {rule['alert']}" in runbook
        assert anchor == rule["alert"].lower()
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")")
        assert expr.count("{") == expr.count("}")


def test_every_metric_in_an_expression_is_served(client):
    served = scrape(client).families
    used = {name for rule in rules() for name in METRIC.findall(rule["expr"])}
    assert len(used) >= 12
    for name in sorted(used):
        family = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
        assert family in served, f"{name} is used by docs/alerts.yml but /metrics has no {family}"
