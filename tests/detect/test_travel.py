"""Impossible travel and new countries, located by a real .mmdb file or a resolver callable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MmdbF64, MMDBWriter
from netaddr import IPSet

from secmon.config import ConfigError
from secmon.detect.geo import GeoIP2Resolver, Location, as_location, distance_km
from secmon.testing import CapturedEvents

from .conftest import Backend, succeed_login

PLACES: dict[str, tuple[str, float, float, str]] = {
    # network: (city, latitude, longitude, country)
    "198.51.100.0/24": ("Paris", 48.8566, 2.3522, "FR"),
    "203.0.113.0/24": ("Sydney", -33.8688, 151.2093, "AU"),
    "192.0.2.0/24": ("Berlin", 52.52, 13.405, "DE"),
    "2001:db8::/32": ("New York", 40.7128, -74.006, "US"),
}
PARIS, SYDNEY, BERLIN, NEW_YORK = "198.51.100.7", "203.0.113.7", "192.0.2.7", "2001:db8::7"


def write_mmdb(path: Path, database_type: str) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type,
                        languages=["en"], description="secmon test locations")
    for network, (city, lat, lon, country) in PLACES.items():
        record: dict[str, Any] = {"country": {"iso_code": country, "names": {"en": country}}}
        if "City" in database_type:
            record["city"] = {"names": {"en": city}}
            record["location"] = {"latitude": MmdbF64(lat), "longitude": MmdbF64(lon)}
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="module")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mmdb(tmp_path_factory.mktemp("geo") / "City.mmdb", "GeoLite2-City")


@pytest.fixture(scope="module")
def country_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mmdb(tmp_path_factory.mktemp("geo") / "Country.mmdb", "GeoLite2-Country")


def resolve(ip: str) -> tuple[float, float, str] | None:
    """A GEO_RESOLVER as an application would write it (here: the same table as the .mmdb)."""
    for network, (_, lat, lon, country) in PLACES.items():
        if ip in IPSet([network]):
            return lat, lon, country
    return None


def test_geoip2_city_database(city_db: Path) -> None:
    resolver = GeoIP2Resolver(city_db)
    try:
        assert resolver(PARIS) == Location(48.8566, 2.3522, "FR")
        assert resolver(NEW_YORK) == Location(40.7128, -74.006, "US")
        assert resolver("10.1.2.3") is None  # not in the database
        assert resolver("not an address") is None
    finally:
        resolver.close()


def test_geoip2_country_database_gives_countries_only(country_db: Path) -> None:
    resolver = GeoIP2Resolver(country_db)
    try:
        assert resolver(SYDNEY) == Location(country="AU")
    finally:
        resolver.close()


def test_unreadable_databases_name_the_setting(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a maxmind database")
    for path in (tmp_path / "missing.mmdb", junk):
        with pytest.raises(ConfigError) as caught:
            GeoIP2Resolver(path)
        assert caught.value.key == "GEOIP_DATABASE"


def test_distance() -> None:
    paris, sydney = Location(48.8566, 2.3522), Location(-33.8688, 151.2093)
    assert 16_900 < distance_km(paris, sydney) < 17_000
    assert distance_km(paris, paris) == 0


@pytest.mark.parametrize(
    "value",
    [Location(1.0, 2.0, "FR"), (1, 2, "fr"), {"latitude": 1, "longitude": 2, "country": "FR"}],
)
def test_resolver_return_shapes(value: Any) -> None:
    assert as_location(value) == Location(1.0, 2.0, "FR")


@pytest.mark.parametrize("value", [(91, 0), {"latitude": 1}, "Paris"])
def test_bad_resolver_results_raise(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        as_location(value)


def travel(**options: Any) -> dict[str, Any]:
    return {"impossible_travel": options or True, "success_after_fail": False}


def test_impossible_speed_from_a_real_database(backend: Backend, city_db: Path,
                                               secmon_events: CapturedEvents) -> None:
    backend.configure(geoip_database=city_db, detection=travel())
    succeed_login("alice", ip=PARIS)
    succeed_login("alice", ip=PARIS)
    assert secmon_events.of_type("authn_impossible_travel") == []
    succeed_login("alice", ip=SYDNEY)  # ~17,000 km a moment later
    [event] = secmon_events.of_type("authn_impossible_travel")
    assert event["reason"] == "impossible_speed"
    assert event["level"] == "critical"
    assert event["category"] == "intrusion_detection"
    assert (event["previous_country"], event["country"]) == ("FR", "AU")
    assert 16_900 < event["distance_km"] < 17_000
    assert event["speed_kmh"] > 1000
    assert event["threshold"] == 1000


def test_new_country_at_a_plausible_speed(memory: Backend, secmon_events: CapturedEvents) -> None:
    memory.configure(geo_resolver=resolve, detection=travel())
    succeed_login("alice", ip=PARIS)
    memory.advance(10 * 3600)  # Paris -> Berlin (~880 km) in 10 hours: possible
    succeed_login("alice", ip=BERLIN)
    [event] = secmon_events.of_type("authn_impossible_travel")
    assert event["reason"] == "new_country"
    assert (event["previous_country"], event["country"]) == ("FR", "DE")
    memory.advance(10 * 3600)
    succeed_login("alice", ip=PARIS)  # France is known for alice
    succeed_login("bob", ip=BERLIN)  # a first login has nothing to compare with
    assert len(secmon_events.of_type("authn_impossible_travel")) == 1


def test_new_country_on_redis(backend: Backend, secmon_events: CapturedEvents) -> None:
    # Windows on Redis run on the server clock: make speed irrelevant instead of waiting.
    backend.configure(geo_resolver=resolve, detection=travel(speed=10**9))
    succeed_login("alice", ip=PARIS)
    succeed_login("alice", ip=BERLIN)
    [event] = secmon_events.of_type("authn_impossible_travel")
    assert event["reason"] == "new_country"


def test_nearby_logins_are_not_travel(memory: Backend, secmon_events: CapturedEvents) -> None:
    near = {"192.0.2.1": (48.85, 2.35, "FR"), "192.0.2.2": (48.90, 2.60, "FR")}
    memory.configure(geo_resolver=near.get, detection=travel(min_distance=50))
    succeed_login("alice", ip="192.0.2.1")
    succeed_login("alice", ip="192.0.2.2")  # ~20 km at once: below min_distance
    assert secmon_events.of_type("authn_impossible_travel") == []


def test_resolver_by_dotted_path(memory: Backend, secmon_events: CapturedEvents) -> None:
    memory.configure(geo_resolver="tests.detect.test_travel:resolve", detection=travel())
    succeed_login("alice", ip=PARIS)
    succeed_login("alice", ip=NEW_YORK)
    assert len(secmon_events.of_type("authn_impossible_travel")) == 1


def test_a_failing_resolver_never_breaks_the_request(
    memory: Backend, secmon_events: CapturedEvents, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(ip: str) -> Any:
        raise RuntimeError("geo service down")

    pipeline = memory.configure(geo_resolver=broken, detection=travel())
    succeed_login("alice", ip=PARIS)
    succeed_login("alice", ip=SYDNEY)
    assert secmon_events.types().count("authn_login_success") == 2
    assert pipeline.stats()["errors.detection.impossible_travel"] == 2
    assert "geo service down" in capfd.readouterr().err


def test_travel_without_a_resolver(memory: Backend) -> None:
    pipeline = memory.configure()  # on by default, inactive without a resolver
    assert pipeline.engine is not None
    with pytest.raises(ConfigError) as caught:
        memory.configure(detection=travel())
    assert caught.value.key == "DETECTION.impossible_travel"
    with pytest.raises(ConfigError) as caught:
        memory.configure(geo_resolver="tests.detect.nowhere:resolve")
    assert caught.value.key == "GEO_RESOLVER"
