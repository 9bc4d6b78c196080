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
