"""Travel matrices for the routing problem: where distances and travel times come from.

A ``MatrixProvider`` turns locations into a ``TravelMatrix`` per vehicle profile, either by
great-circle estimate (``HaversineProvider``), from an OSRM server (``OsrmProvider``), or from
a cache in front of either (``CachedProvider``).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from lastmile.routing.problem import Location, TravelMatrix

logger = logging.getLogger(__name__)

# Mean radius of the WGS84 ellipsoid (IUGG), the usual sphere for great-circle distances.
EARTH_RADIUS_M = 6_371_008.8
SECONDS_PER_DAY = 86_400


class MatrixError(RuntimeError):
    """A travel matrix could not be obtained (the routing server failed or answered nonsense)."""


class MatrixProvider(Protocol):
    """Anything that can price travel between every pair of a set of locations."""

    def matrix(
        self, locations: Sequence[Location], *, profile: str, depart_at_s: int | None = None
    ) -> TravelMatrix: ...


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """How a kind of vehicle moves through a city, for straight-line estimates.

    ``speed_kmh`` is the average while moving between stops (lights and junctions included,
    time at the customer not: that is the job's ``service_s``). ``detour_factor`` stretches
    the straight line into the distance actually travelled along the network.
    """

    name: str
    speed_kmh: float
    detour_factor: float

    def __post_init__(self) -> None:
        if self.speed_kmh <= 0:
            raise ValueError(f"profile {self.name!r}: speed_kmh must be positive")
        if self.detour_factor < 1.0:
            raise ValueError(f"profile {self.name!r}: detour_factor cannot shorten the line")


# Urban averages, not top speeds. Road vehicles: European city-centre averages in the TomTom
# Traffic Index sit around 20-30 km/h, a van a little below a car (size, loading bays), and
# road circuity in cities measures 1.2-1.4 (Ballou et al. 2002; Boscoe et al. 2012). Cargo
# bikes and e-scooters are capped by their assist/legal limits (25 and 20 km/h in the EU/DE)
# and ride below them, but cut through contraflow lanes, parks and pedestrian zones, so their
# detour is smaller. A walking courier pushes a trolley: a little under normal walking pace.
PROFILES: dict[str, SpeedProfile] = {
    "van": SpeedProfile("van", speed_kmh=25.0, detour_factor=1.3),
    "car": SpeedProfile("car", speed_kmh=30.0, detour_factor=1.3),
    "cargo_bike": SpeedProfile("cargo_bike", speed_kmh=15.0, detour_factor=1.2),
    "e_scooter": SpeedProfile("e_scooter", speed_kmh=18.0, detour_factor=1.2),
    "walk": SpeedProfile("walk", speed_kmh=4.5, detour_factor=1.2),
}


@dataclass(frozen=True, slots=True)
class SpeedFactor:
    """Multiply speed by ``factor`` for departures in [start_s, end_s) seconds of the day.

    ``factor`` 0.7 makes travel 30 % slower (rush hour). A window may wrap past midnight
    (``start_s > end_s``). ``profiles`` limits it to some profiles (congestion slows vans, not
    bikes); ``None`` applies it to all.
    """

    start_s: int
    end_s: int
    factor: float
    profiles: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.start_s <= SECONDS_PER_DAY and 0 <= self.end_s <= SECONDS_PER_DAY):
            raise ValueError(f"speed factor window must lie within one day: {self}")
        if self.start_s == self.end_s:
            raise ValueError(f"speed factor window is empty: {self}")
        if self.factor <= 0:
            raise ValueError(f"speed factor must be positive: {self}")

    def applies(self, profile: str, second_of_day: int) -> bool:
        if self.profiles is not None and profile not in self.profiles:
            return False
        if self.start_s < self.end_s:
            return self.start_s <= second_of_day < self.end_s
        return second_of_day >= self.start_s or second_of_day < self.end_s


class HaversineProvider:
    """Great-circle distance stretched by the profile's detour factor, at the profile's speed.

    Needs no network, so it is the fallback and the test double; it knows nothing of one-way
    streets, rivers or bridges, which the detour factor only averages out.
    """

    def __init__(
        self,
        profiles: Mapping[str, SpeedProfile] = PROFILES,
        time_of_day_factors: Sequence[SpeedFactor] = (),
    ) -> None:
        # Copied so later edits to the caller's mapping cannot change a provider in use.
        self.profiles = dict(profiles)
        self.time_of_day_factors = tuple(time_of_day_factors)

    def speed_factor(self, profile: str, depart_at_s: int | None) -> float:
        """The first factor whose window holds the departure; 1.0 if none does."""
        if depart_at_s is None:
            return 1.0
        second_of_day = depart_at_s % SECONDS_PER_DAY
        for factor in self.time_of_day_factors:
            if factor.applies(profile, second_of_day):
                return factor.factor
        return 1.0

    def matrix(
        self, locations: Sequence[Location], *, profile: str, depart_at_s: int | None = None
    ) -> TravelMatrix:
        try:
            speed = self.profiles[profile]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ValueError(f"unknown profile {profile!r}; known profiles: {known}") from None
        distances = _great_circle_rows(locations, scale=speed.detour_factor)
        speed_m_s = speed.speed_kmh / 3.6 * self.speed_factor(profile, depart_at_s)
        s_per_m = 1.0 / speed_m_s
        return TravelMatrix(
            distances_m=tuple(tuple(row) for row in distances),
            durations_s=tuple(tuple([d * s_per_m for d in row]) for row in distances),
        )


def _great_circle_rows(locations: Sequence[Location], *, scale: float) -> list[list[float]]:
    """Haversine distances in metres times ``scale``, as mutable rows.

    Per-point sines and cosines of the half angles are computed once, so each pair costs
    multiplications, one sqrt and one asin instead of four trig calls (1,000 points, half a
    million pairs, in about a second). The matrix is symmetric, so only the upper half is
    computed.
    """
    n = len(locations)
    lat = [math.radians(p.lat) for p in locations]
    lng = [math.radians(p.lng) for p in locations]
    sin_lat2 = [math.sin(x / 2) for x in lat]
    cos_lat2 = [math.cos(x / 2) for x in lat]
    sin_lng2 = [math.sin(x / 2) for x in lng]
    cos_lng2 = [math.cos(x / 2) for x in lng]
    cos_lat = [math.cos(x) for x in lat]
    k = 2.0 * EARTH_RADIUS_M * scale
    sqrt, asin = math.sqrt, math.asin
    rows = [[0.0] * n for _ in range(n)]
    for i in range(n):
        si, ci, sgi, cgi, cli = sin_lat2[i], cos_lat2[i], sin_lng2[i], cos_lng2[i], cos_lat[i]
        row = rows[i]
        for j in range(i + 1, n):
            # sin((a - b) / 2) by the difference formula, from the precomputed halves.
            h_lat = si * cos_lat2[j] - ci * sin_lat2[j]
            h_lng = sgi * cos_lng2[j] - cgi * sin_lng2[j]
            a = h_lat * h_lat + cli * cos_lat[j] * h_lng * h_lng
            # Rounding can push a hair above 1 for antipodal points; asin would fail.
            d = k * asin(sqrt(a if a < 1.0 else 1.0))
            row[j] = d
            rows[j][i] = d
    return rows


class OsrmProvider:
    """Road distances and times from an OSRM-compatible ``/table`` service.

    Large matrices are fetched in blocks so that no request names more than
    ``max_table_size`` coordinates (OSRM's ``--max-table-size``, 100 by default) and stitched
    together. ``profile_names`` maps our profiles to the server's (``{"van": "driving"}``);
    without it the profile goes into the URL as is. OSRM has no time-dependent speeds, so
    ``depart_at_s`` is ignored. Unreachable pairs come back as ``math.inf``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        max_table_size: int = 100,
        profile_names: Mapping[str, str] | None = None,
    ) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme
        # urlopen also reads file:// and ftp:// URLs; a routing server is only ever HTTP(S).
        if scheme not in ("http", "https"):
            raise ValueError(f"OSRM base_url must be http(s), got {base_url!r}")
        if max_table_size < 2:
            raise ValueError("max_table_size must be at least 2 (one source, one destination)")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_table_size = max_table_size
        self.profile_names = dict(profile_names) if profile_names is not None else None

    def osrm_profile(self, profile: str) -> str:
        if self.profile_names is None:
            return profile
        try:
            return self.profile_names[profile]
        except KeyError:
            known = ", ".join(sorted(self.profile_names))
            raise ValueError(
                f"no OSRM profile for {profile!r} at {self.base_url}; mapped profiles: {known}"
            ) from None

    def matrix(
        self, locations: Sequence[Location], *, profile: str, depart_at_s: int | None = None
    ) -> TravelMatrix:
        osrm_profile = self.osrm_profile(profile)
        # Parcels often share an address; asking once per distinct point can save whole
        # requests. Points are compared as sent (6 decimals, ~0.1 m).
        unique: dict[str, int] = {}
        index = [unique.setdefault(_osrm_coordinate(p), len(unique)) for p in locations]
        coordinates = list(unique)
        m = len(coordinates)
        distances = [[0.0] * m for _ in range(m)]
        durations = [[0.0] * m for _ in range(m)]
        requests = 0
        started = time.monotonic()
        if m > 1:
            # A block of sources and a block of destinations share one request, so each block
            # takes half the budget; diagonal blocks name their points only once.
            block = m if m <= self.max_table_size else self.max_table_size // 2
            blocks = [list(range(s, min(s + block, m))) for s in range(0, m, block)]
            for sources in blocks:
                for destinations in blocks:
                    self._fetch_block(
                        osrm_profile, coordinates, sources, destinations, distances, durations
                    )
                    requests += 1
        logger.info(
            "osrm matrix fetched",
            extra={
                "base_url": self.base_url,
                "osrm_profile": osrm_profile,
                "points": len(locations),
                "distinct_points": m,
                "requests": requests,
                "elapsed_s": round(time.monotonic() - started, 3),
            },
        )
        return TravelMatrix(
            distances_m=tuple(tuple([distances[u][v] for v in index]) for u in index),
            durations_s=tuple(tuple([durations[u][v] for v in index]) for u in index),
        )

    def _fetch_block(
        self,
        osrm_profile: str,
        coordinates: list[str],
        sources: list[int],
        destinations: list[int],
        distances: list[list[float]],
        durations: list[list[float]],
    ) -> None:
        named = list(dict.fromkeys([*sources, *destinations]))
        position = {c: k for k, c in enumerate(named)}
        query = {"annotations": "distance,duration"}
        everything = list(range(len(named)))
        src_pos = [position[c] for c in sources]
        dst_pos = [position[c] for c in destinations]
        # OSRM's default is "all"; naming them anyway would only lengthen the URL.
        if src_pos != everything:
            query["sources"] = ";".join(map(str, src_pos))
        if dst_pos != everything:
            query["destinations"] = ";".join(map(str, dst_pos))
        path = ";".join(coordinates[c] for c in named)
        url = (
            f"{self.base_url}/table/v1/{urllib.parse.quote(osrm_profile, safe='')}/{path}"
            f"?{urllib.parse.urlencode(query, safe=',;')}"
        )
        payload = self._get_json(url)
        block_durations = self._rows(payload, "durations", len(sources), len(destinations))
        block_distances = self._rows(payload, "distances", len(sources), len(destinations))
        for r, source in enumerate(sources):
            dist_row, dur_row = distances[source], durations[source]
            for c, destination in enumerate(destinations):
                dist_row[destination] = block_distances[r][c]
                dur_row[destination] = block_durations[r][c]

    def _get_json(self, url: str) -> Mapping[str, Any]:
        # The scheme was checked in __init__, so this only ever speaks HTTP(S).
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        logger.debug("osrm table request", extra={"base_url": self.base_url, "url_len": len(url)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise self._error(f"HTTP {exc.code}{_osrm_message(exc)}") from exc
        except (OSError, http.client.HTTPException) as exc:
            # URLError, timeouts and dropped connections are all OSErrors; a half-sent
            # response is an HTTPException.
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise self._error(f"{type(exc).__name__}: {reason}") from exc
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._error(f"response is not JSON ({exc})") from exc
        if not isinstance(payload, dict):
            raise self._error("response is not a JSON object")
        if payload.get("code") != "Ok":
            message = payload.get("message")
            detail = f": {message}" if message else ""
            raise self._error(f"code {payload.get('code')!r}{detail}")
        return payload

    def _rows(
        self, payload: Mapping[str, Any], key: str, n_rows: int, n_cols: int
    ) -> list[list[float]]:
        rows = payload.get(key)
        if (
            not isinstance(rows, list)
            or len(rows) != n_rows
            or any(not isinstance(r, list) or len(r) != n_cols for r in rows)
        ):
            raise self._error(f"{key!r} missing or not a {n_rows}x{n_cols} table")
        try:
            return [[_osrm_value(v) for v in row] for row in rows]
        except TypeError as exc:
            raise self._error(f"{key!r}: {exc}") from exc

    def _error(self, cause: str) -> MatrixError:
        return MatrixError(f"OSRM table request to {self.base_url} failed: {cause}")


def _osrm_coordinate(location: Location) -> str:
    return f"{location.lng:.6f},{location.lat:.6f}"


def _osrm_value(value: object) -> float:
    # null is OSRM's word for "no route between these two points".
    if value is None:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number or null, got {value!r}")
    return float(value)


def _osrm_message(exc: urllib.error.HTTPError) -> str:
    """OSRM explains a 400 in a JSON body (``{"code": "InvalidQuery", "message": ...}``)."""
    try:
        payload = json.loads(exc.read())
    except (OSError, ValueError, http.client.HTTPException):
        return ""
    if not isinstance(payload, dict) or "code" not in payload:
        return ""
    message = payload.get("message")
    return f" ({payload['code']}: {message})" if message else f" ({payload['code']})"


_CacheKey: TypeAlias = tuple[str, int | None, tuple[tuple[float, float], ...]]


class CachedProvider:
    """An LRU cache in front of another provider, keyed by profile, hour of departure and points.

    Departures are bucketed by hour of the day, so time-of-day factors in the inner provider
    should change on whole hours. Points are rounded to 6 decimals (~0.1 m).
    """

    def __init__(self, inner: MatrixProvider, maxsize: int = 128) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.inner = inner
        self.maxsize = maxsize
        self._cache: OrderedDict[_CacheKey, TravelMatrix] = OrderedDict()
        self._lock = threading.Lock()

    def matrix(
        self, locations: Sequence[Location], *, profile: str, depart_at_s: int | None = None
    ) -> TravelMatrix:
        hour = None if depart_at_s is None else (depart_at_s % SECONDS_PER_DAY) // 3600
        points = tuple((round(p.lat, 6), round(p.lng, 6)) for p in locations)
        key: _CacheKey = (profile, hour, points)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        # Computed outside the lock: a slow OSRM call must not hold up lookups of other keys.
        # Two threads missing the same key at once both compute it; the result is the same.
        matrix = self.inner.matrix(locations, profile=profile, depart_at_s=depart_at_s)
        with self._lock:
            self._cache[key] = matrix
            self._cache.move_to_end(key)
            while len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        return matrix

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def build_matrices(
    locations: Sequence[Location],
    provider: MatrixProvider,
    profiles: Iterable[str],
    depart_at_s: int | None = None,
) -> dict[str, TravelMatrix]:
    """One matrix per distinct profile, as ``Problem.matrices`` wants them."""
    return {
        profile: provider.matrix(locations, profile=profile, depart_at_s=depart_at_s)
        for profile in dict.fromkeys(profiles)
    }
