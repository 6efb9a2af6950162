"""Reading /metrics the way Prometheus does: the text format, parsed into samples."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bellyfed.ops import capacity


@pytest.fixture(autouse=True)
def no_buffered_capacity() -> None:
    """Units that earlier tests' requests buffered would reach Redis in the middle of this one."""
    capacity.discard_pending()


class Scrape(dict):
    """``{(sample name, frozenset(labels)): value}`` of one /metrics body."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self.families: set[str] = set()
        for family in text_string_to_metric_families(body):
            self.families.add(family.name)
            for sample in family.samples:
                self[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is not there (a counter that never moved)."""
        return self.get((name, frozenset(labels.items())), 0.0)

    def since(self, before: Scrape, name: str, **labels: str) -> float:
        """How much a sample grew between ``before`` and this scrape."""
        return self.value(name, **labels) - before.value(name, **labels)

    def names(self) -> set[str]:
        return {name for name, _ in self}


def scrape(client, **kwargs) -> Scrape:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content_type.startswith("text/plain")
    return Scrape(response.get_data(as_text=True))
