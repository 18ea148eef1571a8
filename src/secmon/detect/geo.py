"""Where an IP address is: a MaxMind GeoIP2/GeoLite2 database or the application's own resolver."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ConfigError
from .options import load_callable

if TYPE_CHECKING:
    from ..config import Settings

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Location:
    """A place on Earth as far as an IP address tells; ``country`` is an ISO 3166-1 code."""

    latitude: float | None = None
    longitude: float | None = None
    country: str | None = None

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


Resolver = Callable[[str], "Location | None"]


def distance_km(a: Location, b: Location) -> float:
    """Great-circle (haversine) distance between two located places."""
    assert a.has_coordinates and b.has_coordinates
    lat1, lon1, lat2, lon2 = map(
        math.radians, (a.latitude or 0.0, a.longitude or 0.0, b.latitude or 0.0, b.longitude or 0.0)
    )
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2
    ) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def as_location(value: Any) -> Location | None:
    """What a resolver may return: a Location, None, a mapping or ``(lat, lon[, country])``."""
    if value is None or isinstance(value, Location):
        return value
    if isinstance(value, Mapping):
        return _checked(value.get("latitude"), value.get("longitude"), value.get("country"))
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) in (2, 3):
        return _checked(value[0], value[1], value[2] if len(value) == 3 else None)
    raise TypeError(f"a geo resolver returned {type(value).__name__}, expected a Location or None")


def _checked(latitude: Any, longitude: Any, country: Any) -> Location:
    lat = None if latitude is None else float(latitude)
    lon = None if longitude is None else float(longitude)
    if (lat is None) != (lon is None) or (
        lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)
    ):
        raise ValueError(f"invalid coordinates {latitude!r}, {longitude!r}")
    return Location(lat, lon, None if country in (None, "") else str(country).upper())


class GeoIP2Resolver:
    """Looks addresses up in a MaxMind ``.mmdb`` file (City or Country, GeoIP2 or GeoLite2)."""

    def __init__(self, path: Path) -> None:
        try:
            import geoip2.database
            import geoip2.errors
            import maxminddb
        except ImportError:
            raise ConfigError(
                "GEOIP_DATABASE", "reading .mmdb files needs geoip2: pip install 'secmon[geo]'"
            ) from None
        try:
            self._reader = geoip2.database.Reader(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ConfigError("GEOIP_DATABASE", f"cannot open {str(path)!r}: {exc}") from None
        database_type = self._reader.metadata().database_type
        self._city = "City" in database_type
        if not self._city and "Country" not in database_type:
            self._reader.close()
            raise ConfigError(
                "GEOIP_DATABASE", f"expected a City or Country database, got {database_type!r}"
            )
        self._not_found = geoip2.errors.AddressNotFoundError

    def __call__(self, ip: str) -> Location | None:
        try:
            record: Any = self._reader.city(ip) if self._city else self._reader.country(ip)
        except (self._not_found, ValueError):
            return None
        country = record.country.iso_code
        if self._city and record.location.latitude is not None:
            return Location(record.location.latitude, record.location.longitude, country)
        return Location(country=country) if country else None

    def close(self) -> None:
        self._reader.close()


class CallableResolver:
    """Wraps the application's ``GEO_RESOLVER(ip)``, accepting the return shapes of as_location."""

    def __init__(self, function: Callable[[str], Any]) -> None:
        self._function = function

    def __call__(self, ip: str) -> Location | None:
        return as_location(self._function(ip))

    def close(self) -> None:
        pass


def build_resolver(settings: Settings) -> GeoIP2Resolver | CallableResolver | None:
    """``GEO_RESOLVER`` if set, else ``GEOIP_DATABASE`` if set, else None."""
    function = load_callable("GEO_RESOLVER", settings.geo_resolver)
    if function is not None:
        return CallableResolver(function)
    if settings.geoip_database is not None:
        return GeoIP2Resolver(settings.geoip_database)
    return None
