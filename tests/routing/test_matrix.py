"""Travel matrix providers: great-circle estimates, the OSRM table contract, and the cache."""

import json
import math
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from lastmile.routing.matrix import (
    PROFILES,
    CachedProvider,
    HaversineProvider,
    MatrixError,
    OsrmProvider,
    SpeedFactor,
    build_matrices,
)
from lastmile.routing.problem import Location, TravelMatrix

ALEXANDERPLATZ = Location(52.521918, 13.413215)
BRANDENBURGER_TOR = Location(52.516275, 13.377704)
# Straight line between the two, measured independently on a map: about 2.48 km.
ALEX_TO_TOR_STRAIGHT_M = 2_480.0

BERLIN = [
    ALEXANDERPLATZ,
    BRANDENBURGER_TOR,
    Location(52.507530, 13.390388),  # Checkpoint Charlie
    Location(52.525084, 13.369402),  # Hauptbahnhof
    Location(52.509663, 13.376481),  # Potsdamer Platz
    Location(52.520815, 13.409419),  # Fernsehturm
    Location(52.500000, 13.443000),  # Oberbaumbrücke
]
# A point the test server treats as unreachable from everywhere else (an island).
ISLAND = Location(52.431000, 13.171000)

RUSH_HOUR = SpeedFactor(start_s=7 * 3600, end_s=9 * 3600, factor=0.7)


# --- great-circle provider -----------------------------------------------------------------


def test_haversine_distance_is_straight_line_times_detour():
    # given
    provider = HaversineProvider()

    # when
    matrix = provider.matrix([ALEXANDERPLATZ, BRANDENBURGER_TOR], profile="van")

    # then
    expected_m = ALEX_TO_TOR_STRAIGHT_M * PROFILES["van"].detour_factor
    assert matrix.distances_m[0][1] == pytest.approx(expected_m, rel=0.02)
    assert matrix.durations_s[0][1] == pytest.approx(
        matrix.distances_m[0][1] / (PROFILES["van"].speed_kmh / 3.6)
    )


def test_haversine_matrix_is_symmetric_with_zero_diagonal():
    # given
    provider = HaversineProvider()

    # when
    matrix = provider.matrix(BERLIN, profile="car")

    # then
    assert matrix.size == len(BERLIN)
    for i in range(matrix.size):
        assert matrix.distances_m[i][i] == 0.0
        assert matrix.durations_s[i][i] == 0.0
        for j in range(matrix.size):
            assert matrix.distances_m[i][j] == matrix.distances_m[j][i]
            assert matrix.durations_s[i][j] == matrix.durations_s[j][i]
            if i != j:
                assert matrix.distances_m[i][j] > 0


def test_haversine_of_no_locations_is_an_empty_matrix():
    # when
    matrix = HaversineProvider().matrix([], profile="van")

    # then
    assert matrix.size == 0


def test_cargo_bike_takes_longer_than_van_for_the_same_pair():
    # given
    provider = HaversineProvider()
    pair = [ALEXANDERPLATZ, BRANDENBURGER_TOR]

    # when
    van = provider.matrix(pair, profile="van")
    bike = provider.matrix(pair, profile="cargo_bike")

    # then
    assert bike.durations_s[0][1] > van.durations_s[0][1]
    # It rides shorter lines, though: contraflow lanes and parks.
    assert bike.distances_m[0][1] < van.distances_m[0][1]


@pytest.mark.parametrize(
    ("depart_at_s", "in_rush_hour"),
    [
        (None, False),
        (6 * 3600 + 3599, False),
        (7 * 3600, True),
        (8 * 3600 + 1800, True),
        (9 * 3600, False),
        (12 * 3600, False),
        (86_400 + 8 * 3600, True),  # the next service day's rush hour, by time of day
    ],
)
def test_rush_hour_slows_only_departures_inside_its_window(depart_at_s, in_rush_hour):
    # given
    free_flow = HaversineProvider().matrix(BERLIN, profile="van")
    provider = HaversineProvider(time_of_day_factors=[RUSH_HOUR])

    # when
    matrix = provider.matrix(BERLIN, profile="van", depart_at_s=depart_at_s)

    # then
    assert matrix.distances_m == free_flow.distances_m
    expected = free_flow.durations_s[0][1] / 0.7 if in_rush_hour else free_flow.durations_s[0][1]
    assert matrix.durations_s[0][1] == pytest.approx(expected)


def test_speed_factor_limited_to_some_profiles_leaves_the_others_alone():
    # given
    van_rush = SpeedFactor(7 * 3600, 9 * 3600, 0.7, profiles=frozenset({"van"}))
    provider = HaversineProvider(time_of_day_factors=[van_rush])
    pair = [ALEXANDERPLATZ, BRANDENBURGER_TOR]

    # when
    bike_at_eight = provider.matrix(pair, profile="cargo_bike", depart_at_s=8 * 3600)
    bike_at_noon = provider.matrix(pair, profile="cargo_bike", depart_at_s=12 * 3600)

    # then
    assert bike_at_eight.durations_s == bike_at_noon.durations_s


def test_speed_factor_window_may_wrap_past_midnight():
    # given
    night = SpeedFactor(start_s=22 * 3600, end_s=5 * 3600, factor=1.2)

    # then
    assert night.applies("van", 23 * 3600)
    assert night.applies("van", 4 * 3600)
    assert not night.applies("van", 12 * 3600)


def test_unknown_profile_raises_value_error_naming_it():
    # given
    provider = HaversineProvider()

    # when / then
    with pytest.raises(ValueError, match="unknown profile 'hovercraft'"):
        provider.matrix(BERLIN, profile="hovercraft")


# --- OSRM contract -------------------------------------------------------------------------


def _server_distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The fake server's own "road" distance: equirectangular metres, rounded like OSRM."""
    (lng_a, lat_a), (lng_b, lat_b) = a, b
    x = math.radians(lng_b - lng_a) * math.cos(math.radians((lat_a + lat_b) / 2))
    y = math.radians(lat_b - lat_a)
    return round(6_371_000 * math.hypot(x, y) * 1.4, 1)


def _is_island(coordinate: tuple[float, float]) -> bool:
    return coordinate == (ISLAND.lng, ISLAND.lat)


@dataclass
class FakeOsrm:
    """What the fake server saw, and how it should misbehave."""

    base_url: str = ""
    requests: list[dict] = field(default_factory=list)
    answer: str = "ok"  # ok | invalid_query | http_500 | not_json | short_rows | slow
    release: threading.Event = field(default_factory=threading.Event)

    def table(self, coordinates, sources, destinations) -> dict:
        durations, distances = [], []
        for s in sources:
            dur_row, dist_row = [], []
            for d in destinations:
                a, b = coordinates[s], coordinates[d]
                if a != b and (_is_island(a) or _is_island(b)):
                    dur_row.append(None)
                    dist_row.append(None)
                else:
                    distance = _server_distance_m(a, b)
                    dist_row.append(distance)
                    dur_row.append(round(distance / 7.0, 1))
            durations.append(dur_row)
            distances.append(dist_row)
        return {"code": "Ok", "durations": durations, "distances": distances}


def _handler_for(fake: FakeOsrm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            _, _, _, profile, coords = url.path.split("/", 4)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            coordinates = [tuple(float(x) for x in pair.split(",")) for pair in coords.split(";")]
            everything = list(range(len(coordinates)))
            sources = (
                [int(i) for i in query["sources"].split(";")] if "sources" in query else everything
            )
            destinations = (
                [int(i) for i in query["destinations"].split(";")]
                if "destinations" in query
                else everything
            )
            fake.requests.append(
                {
                    "path": url.path,
                    "profile": profile,
                    "coordinates": coordinates,
                    "sources": sources,
                    "destinations": destinations,
                    "annotations": query.get("annotations"),
                }
            )
            if fake.answer == "slow":
                fake.release.wait(timeout=5)
            if fake.answer == "http_500":
                self._send(500, b"<html>Internal Server Error</html>", "text/html")
            elif fake.answer == "invalid_query":
                body = {"code": "InvalidQuery", "message": "Query string malformed"}
                self._send(400, json.dumps(body).encode(), "application/json")
            elif fake.answer == "not_json":
                self._send(200, b"<html>gateway says hi</html>", "text/html")
            elif fake.answer == "short_rows":
                body = {"code": "Ok", "durations": [[0]], "distances": [[0]]}
                self._send(200, json.dumps(body).encode(), "application/json")
            else:
                body = fake.table(coordinates, sources, destinations)
                self._send(200, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # the timeout test hangs up on a slow handler; that broken pipe is expected


@pytest.fixture
def osrm() -> Iterator[FakeOsrm]:
    fake = FakeOsrm()
    server = _QuietServer(("127.0.0.1", 0), _handler_for(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _expected(fake: FakeOsrm, points: Sequence[Location]) -> TravelMatrix:
    coordinates = [(round(p.lng, 6), round(p.lat, 6)) for p in points]
    everything = list(range(len(points)))
    table = fake.table(coordinates, everything, everything)

    def as_floats(rows):
        return tuple(tuple(math.inf if v is None else float(v) for v in row) for row in rows)

    return TravelMatrix(as_floats(table["distances"]), as_floats(table["durations"]))


def test_osrm_matrix_equals_the_server_numbers_with_null_as_infinity(osrm):
    # given
    provider = OsrmProvider(osrm.base_url)
    points = [*BERLIN[:3], ISLAND]

    # when
    matrix = provider.matrix(points, profile="van")

    # then
    assert matrix == _expected(osrm, points)
    assert matrix.durations_s[0][3] == math.inf
    assert matrix.distances_m[3][0] == math.inf
    assert math.isfinite(matrix.durations_s[0][1])
    (request,) = osrm.requests
    assert request["path"].startswith("/table/v1/van/")
    assert request["annotations"] == "distance,duration"
    assert request["coordinates"][0] == (ALEXANDERPLATZ.lng, ALEXANDERPLATZ.lat)


def test_osrm_sends_lng_lat_with_six_decimals(osrm):
    # given
    provider = OsrmProvider(osrm.base_url)

    # when
    provider.matrix([Location(52.5, 13.4), Location(52.1234567891, 13.9876543219)], profile="van")

    # then
    (request,) = osrm.requests
    assert request["path"].endswith("/13.400000,52.500000;13.987654,52.123457")


def test_large_osrm_matrix_is_fetched_in_blocks_and_stitched(osrm):
    # given
    points = [*BERLIN, ISLAND]
    unchunked = OsrmProvider(osrm.base_url).matrix(points, profile="van")
    osrm.requests.clear()
    chunked_provider = OsrmProvider(osrm.base_url, max_table_size=4)

    # when
    chunked = chunked_provider.matrix(points, profile="van")

    # then
    assert chunked == unchunked == _expected(osrm, points)
    assert len(osrm.requests) > 1
    assert all(len(r["coordinates"]) <= 4 for r in osrm.requests)
    # Every ordered pair was asked exactly once.
    asked = [
        (r["coordinates"][s], r["coordinates"][d])
        for r in osrm.requests
        for s in r["sources"]
        for d in r["destinations"]
    ]
    assert len(asked) == len(set(asked)) == len(points) ** 2


def test_osrm_asks_for_a_shared_address_only_once(osrm):
    # given
    provider = OsrmProvider(osrm.base_url)
    points = [ALEXANDERPLATZ, BRANDENBURGER_TOR, ALEXANDERPLATZ]

    # when
    matrix = provider.matrix(points, profile="van")

    # then
    (request,) = osrm.requests
    assert len(request["coordinates"]) == 2
    assert matrix.distances_m[0][2] == 0.0
    assert matrix.distances_m[2][1] == matrix.distances_m[0][1]


def test_osrm_profile_mapping_lands_in_the_url_path(osrm):
    # given
    provider = OsrmProvider(osrm.base_url, profile_names={"van": "driving", "cargo_bike": "bike"})

    # when
    provider.matrix(BERLIN[:2], profile="cargo_bike")

    # then
    (request,) = osrm.requests
    assert request["profile"] == "bike"
    assert request["path"].startswith("/table/v1/bike/")


def test_osrm_profile_missing_from_the_mapping_raises_value_error(osrm):
    # given
    provider = OsrmProvider(osrm.base_url, profile_names={"van": "driving"})

    # when / then
    with pytest.raises(ValueError, match="no OSRM profile for 'walk'"):
        provider.matrix(BERLIN[:2], profile="walk")
    assert osrm.requests == []


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        ("invalid_query", "HTTP 400 \\(InvalidQuery: Query string malformed\\)"),
        ("http_500", "HTTP 500"),
        ("not_json", "response is not JSON"),
        ("short_rows", "'durations' missing or not a 2x2 table"),
    ],
)
def test_osrm_failure_raises_matrix_error_naming_server_and_cause(osrm, answer, cause):
    # given
    osrm.answer = answer
    provider = OsrmProvider(osrm.base_url)

    # when / then
    with pytest.raises(MatrixError, match=f"to {re.escape(osrm.base_url)} failed: {cause}"):
        provider.matrix(BERLIN[:2], profile="van")


def test_osrm_code_other_than_ok_raises_matrix_error(osrm, monkeypatch):
    # given: an OSRM that says 200 but refuses (some proxies rewrite the status)
    monkeypatch.setattr(FakeOsrm, "table", lambda *a: {"code": "NoTable", "message": "nope"})
    provider = OsrmProvider(osrm.base_url)

    # when / then
    with pytest.raises(MatrixError, match="code 'NoTable': nope"):
        provider.matrix(BERLIN[:2], profile="van")


def test_osrm_slower_than_the_timeout_raises_matrix_error(osrm):
    # given
    osrm.answer = "slow"
    provider = OsrmProvider(osrm.base_url, timeout_s=0.2)

    # when / then
    with pytest.raises(MatrixError, match=f"to {re.escape(osrm.base_url)} failed: .*timed out"):
        provider.matrix(BERLIN[:2], profile="van")


def test_osrm_unreachable_server_raises_matrix_error():
    # given: a port nothing listens on (bound, then closed)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    server.server_close()
    provider = OsrmProvider(base_url, timeout_s=1.0)

    # when / then
    with pytest.raises(MatrixError, match=f"to {re.escape(base_url)} failed"):
        provider.matrix(BERLIN[:2], profile="van")


def test_osrm_refuses_non_http_base_url():
    # when / then
    with pytest.raises(ValueError, match="must be http"):
        OsrmProvider("file:///etc")


# --- cache and building ---------------------------------------------------------------------


class CountingProvider:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None, int]] = []
        self.inner = HaversineProvider()

    def matrix(self, locations, *, profile, depart_at_s=None):
        self.calls.append((profile, depart_at_s, len(locations)))
        return self.inner.matrix(locations, profile=profile, depart_at_s=depart_at_s)


def test_cached_provider_answers_the_same_points_without_asking_again():
    # given
    inner = CountingProvider()
    cached = CachedProvider(inner)
    first = cached.matrix(BERLIN, profile="van")

    # when
    second = cached.matrix(list(BERLIN), profile="van")

    # then
    assert second is first
    assert len(inner.calls) == 1


def test_cached_provider_asks_again_for_different_points_profile_or_hour():
    # given
    inner = CountingProvider()
    cached = CachedProvider(inner)
    cached.matrix(BERLIN, profile="van", depart_at_s=8 * 3600)

    # when
    cached.matrix(BERLIN[:-1], profile="van", depart_at_s=8 * 3600)
    cached.matrix(BERLIN, profile="cargo_bike", depart_at_s=8 * 3600)
    cached.matrix(BERLIN, profile="van", depart_at_s=9 * 3600)
    cached.matrix(BERLIN, profile="van", depart_at_s=8 * 3600 + 1200)  # same hour: cached

    # then
    assert len(inner.calls) == 4


def test_cached_provider_evicts_the_least_recently_used():
    # given
    inner = CountingProvider()
    cached = CachedProvider(inner, maxsize=2)
    cached.matrix(BERLIN[:2], profile="van")
    cached.matrix(BERLIN[:3], profile="van")
    cached.matrix(BERLIN[:2], profile="van")  # touch, so [:3] is now the oldest

    # when
    cached.matrix(BERLIN[:4], profile="van")
    cached.matrix(BERLIN[:2], profile="van")
    cached.matrix(BERLIN[:3], profile="van")

    # then
    assert [n for _, _, n in inner.calls] == [2, 3, 4, 3]


def test_build_matrices_makes_one_matrix_per_distinct_profile():
    # given
    inner = CountingProvider()

    # when
    matrices = build_matrices(BERLIN, inner, ["van", "cargo_bike", "van"], depart_at_s=3600)

    # then
    assert set(matrices) == {"van", "cargo_bike"}
    assert inner.calls == [("van", 3600, len(BERLIN)), ("cargo_bike", 3600, len(BERLIN))]
    assert all(m.size == len(BERLIN) for m in matrices.values())
