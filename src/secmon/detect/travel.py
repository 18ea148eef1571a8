"""Impossible travel: two logins of one user too far apart for the time between them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ..state import Hit, Op, Replace
from . import options as opt
from .geo import CallableResolver, GeoIP2Resolver, Location, build_resolver, distance_km
from .rule import Detection, Rule, format_duration, member, subject_of

MAX_COUNTRIES = 64


class ImpossibleTravel(Rule):
    """Remembers each user's last successful login (place and server time) for ``window``.

    Fires when the next login implies a speed above ``speed`` km/h over at least
    ``min_distance`` km (reason ``impossible_speed``), or comes from a country the user
    has not logged in from within ``window`` (reason ``new_country``).
    """

    name = "impossible_travel"
    event_type = "authn_impossible_travel"
    triggers = frozenset({"authn_login_success"})
    keys = ("user",)
    defaults = {"window": 30 * 86400.0, "speed": 1000.0, "min_distance": 100.0,
                "new_country": True}
    converters = {"speed": opt.positive_number, "min_distance": opt.positive_number,
                  "new_country": opt.flag}

    def __init__(self, options: Mapping[str, Any], settings: Any) -> None:
        super().__init__(options, settings)
        self.resolver: GeoIP2Resolver | CallableResolver | None = build_resolver(settings)
        self.speed: float = self.options["speed"]

    def ops(self, event: Mapping[str, Any]) -> Sequence[Op]:
        fields = self.key_fields(event)
        ip = event.get("source_ip")
        if fields is None or not ip or self.resolver is None:
            return ()
        here = self.resolver(str(ip))
        if here is None:
            return ()
        subject = subject_of(fields)
        value = orjson.dumps([here.latitude, here.longitude, here.country])
        ops: list[Op] = [Replace(self.state_key(subject), value, self.window)]
        if self.options["new_country"] and here.country:
            ops.append(Hit(self.state_key(subject, ".countries"), self.window,
                           member(here.country), MAX_COUNTRIES))
        return ops

    def judge(
        self, event: Mapping[str, Any], ops: Sequence[Op], results: Sequence[Any]
    ) -> Detection | None:
        assert isinstance(ops[0], Replace)
        here = Location(*orjson.loads(ops[0].value))
        fields = self.key_fields(event) or {}
        subject = subject_of(fields)
        before: Location | None = None
        if results[0] is not None:
            previous, elapsed = results[0]
            before = Location(*orjson.loads(previous))
            if here.has_coordinates and before.has_coordinates:
                distance = distance_km(before, here)
                speed = distance / (max(elapsed, 1.0) / 3600)
                if distance >= self.options["min_distance"] and speed > self.speed:
                    fields.update(
                        reason="impossible_speed", distance_km=round(distance),
                        elapsed=round(elapsed), speed_kmh=round(speed), threshold=self.speed,
                        country=here.country, previous_country=before.country,
                    )
                    summary = (
                        f"impossible travel: {distance:.0f} km in {format_duration(round(elapsed))}"
                        f" ({speed:.0f} km/h) for {subject}"
                    )
                    return Detection(subject, summary, fields)
        if len(results) > 1:
            countries, added = results[1]
            if added and countries > 1:
                fields.update(reason="new_country", country=here.country, countries=countries)
                if before is not None and before.country:
                    fields["previous_country"] = before.country
                summary = f"login from a new country ({here.country}) for {subject}"
                return Detection(subject, summary, fields)
        return None
