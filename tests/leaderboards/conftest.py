"""Two cities and a dish type, for boards built in the tests."""

import pytest

from tests.factories import CityFactory, DishTypeFactory


@pytest.fixture
def kl(db_session):
    return CityFactory(slug="kuala-lumpur", name="Kuala Lumpur")


@pytest.fixture
def penang(db_session):
    return CityFactory(slug="penang", name="Penang")


@pytest.fixture
def nasi_lemak(db_session):
    return DishTypeFactory(slug="nasi-lemak", name="Nasi Lemak")
