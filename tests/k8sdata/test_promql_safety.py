"""PromQL safety, proven against the real Prometheus: whatever string a user picks (quotes, backslashes,
newlines, control characters, unicode, regex metacharacters, PromQL syntax), once it goes through
k8sdata.requests.queries.escape_label_value it is ONE literal matcher that selects exactly the series carrying
that string, with `=` and with `=~`, and the query never errors.

The series are real: each example's string is pushed as a label value into a small Prometheus of this
module's own through its remote-write receiver (protobuf + snappy, encoded here by hand), next to
look-alike decoys (the string with a character more, with the first character left out, with a regex
wildcard, in another case). Values from earlier examples stay stored, so every query also has to miss
all of them.
"""

from __future__ import annotations

import struct
import time
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from k8sdata.requests.queries import REQUEST_RATE, escape_label_value
from k8sdata.sources.prom import PromClient
from sandbox.prometheus.server import PrometheusServer

METRIC = "kams_safety_probe"
#: Any Unicode text but lone surrogates (not UTF-8, so no Prometheus label can hold them).
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=24)
NASTY = st.sampled_from(['"', "\\", "\n", "\\n", '\\"', "$1", ".*", "a|b", "(", "[", "^$", "}", "{",
                         '"} or vector(1) #', "\x00", "\x7f", "é", "😀", "\u2028", "`", "'"])
VALUES = st.one_of(ANY_TEXT, st.lists(NASTY, min_size=1, max_size=4).map("".join))


# --- remote write, by hand -------------------------------------------------------------------------------
def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _write_request(series: list[dict[str, str]], value: float, millis: int) -> bytes:
    """prometheus.WriteRequest{timeseries: [{labels (sorted), samples: [{value, timestamp}]}]}."""
    body = b""
    for labels in series:
        encoded = b"".join(_field(1, _field(1, name.encode()) + _field(2, text.encode()))
                           for name, text in sorted(labels.items()))
        sample = b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(millis)  # double 1, varint 2
        body += _field(1, encoded + _field(2, sample))
    return body


def _snappy_uncompressed(data: bytes) -> bytes:
    """A valid snappy block made only of literals (the format allows it; no compressor needed)."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), 65_536):
        chunk = data[start:start + 65_536]
        out += bytes([61 << 2]) + struct.pack("<H", len(chunk) - 1) + chunk  # literal, 2-byte length
    return bytes(out)


class Pusher:
    def __init__(self, url: str) -> None:
        self.url = url
        self.pushed = 0
        #: Every label value stored so far -> the probes carrying it: what a matcher must select.
        self.carriers: dict[str, set[str]] = {}

    def push(self, series: list[dict[str, str]]) -> None:
        payload = _snappy_uncompressed(_write_request(series, 1.0, int(time.time() * 1000)))
        request = urllib.request.Request(f"{self.url}/api/v1/write", data=payload, method="POST", headers={
            "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 204
        self.pushed += 1
        for labels in series:
            self.carriers.setdefault(labels["v"], set()).add(labels["probe"])


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[PromClient, Pusher]]:
    with PrometheusServer([], rules=False, extra_flags=["--web.enable-remote-write-receiver"]) as server:
        client = PromClient(server.url, timeout=10)
        yield client, Pusher(server.url)
        client.close()


def _decoys(value: str) -> list[str]:
    decoys = [value + "x", "x" + value, value[1:], value + "\n", value.swapcase(), ".*", value * 2]
    return [decoy for decoy in dict.fromkeys(decoys) if decoy and decoy != value]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES)
@example(value='shop"} or vector(1) or up{x="')
@example(value="a\\\"b\nc.*d$1")
def test_any_string_is_one_literal_matcher(receiver: tuple[PromClient, Pusher], value: str) -> None:
    prom, pusher = receiver
    probe = f"p{pusher.pushed}"
    pusher.push([{"__name__": METRIC, "probe": probe, "v": value}]
                + [{"__name__": METRIC, "probe": f"{probe}-decoy{n}", "v": decoy}
                   for n, decoy in enumerate(_decoys(value))])
    for matcher in (f'v="{escape_label_value(value)}"', f'v=~"{escape_label_value(value, regex=True)}"'):
        selected = prom.instant(f"{METRIC}{{{matcher}}}")
        # Exactly the series carrying this string (this example's, and earlier ones with the same value).
        assert set(selected["v"]) == {value}, matcher
        assert set(selected["probe"]) == pusher.carriers[value] and probe in set(selected["probe"]), matcher
    # `!=` and `!~` drop exactly that series among this example's ones.
    for matcher in (f'v!="{escape_label_value(value)}"', f'v!~"{escape_label_value(value, regex=True)}"'):
        rest = prom.instant(f'{METRIC}{{probe=~"{probe}(-decoy.*)?", {matcher}}}')
        assert probe not in set(rest["probe"]) and len(rest) == len(_decoys(value)), matcher


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES)
def test_catalogue_queries_stay_valid_promql_for_any_value(receiver: tuple[PromClient, Pusher],
                                                             value: str) -> None:
    """A rendered catalogue query with hostile namespace/app values parses and matches nothing."""
    prom, _pusher = receiver
    assert prom.instant(REQUEST_RATE.render(namespace=value, app=value, pod=value)).empty
