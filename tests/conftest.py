"""Shared fixtures: small worlds written to a temporary folder by the builders in builders.py."""

import pytest


@pytest.fixture(scope="session")
def osm_city_path(tmp_path_factory):
    """The OSM test city (buildings of every tag kind, a street with sidewalks, park, water, trees)
    with two street lamps."""
    from builders import _city

    city = _city()
    city.node(0, -26, {"highway": "street_lamp"})
    city.node(40, -26, {"highway": "street_lamp"})
    path = tmp_path_factory.mktemp("osm_city") / "city.osm"
    path.write_text(city.xml())
    return path


def pytest_configure(config):
    """No disk cache of derived light data in tests (each bakes afresh, as the tests expect), in
    this process and the CLI processes the tests start; test_memo_disk turns one on in a
    temporary folder."""
    import os

    os.environ["CITYWALK_CACHE_DIR"] = "off"
