"""The request-head check's plain path (`http_head._plain_head`) says exactly what h11's says, or passes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_wfcallbacks.http_head import Head, HeadError, _plain_head, _validate_with_h11, validate_head

# What real clients send to a callback URL: the plain path must take each of them.
TYPICAL = [
    b"POST /v1/projects/p/locations/l/workflows/w/executions/e/callbacks/c HTTP/1.1\r\n"
    b"Host: 127.0.0.1:54321\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
    b"User-Agent: python-httpx/0.28.1\r\nContent-Length: 13\r\nContent-Type: application/json\r\n\r\n",
    b"POST /v1/x/callbacks/c HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"
    b"Authorization: Bearer ya29.a0AfH6SM\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n",
    b"GET /v1/x/callbacks/c?approved=true HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
    b"PUT /v1/x/callbacks/c HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 9\r\nX-Empty:\r\n\r\n",
]


def _split(data: bytes) -> int:
    return data.index(b"\n") + 1


def test_typical_client_heads_take_the_plain_path_and_agree_with_h11() -> None:
    for data in TYPICAL:
        plain = _plain_head(data, _split(data))
        assert isinstance(plain, Head), data
        assert plain == _validate_with_h11(data, _split(data))
    expects = _plain_head(TYPICAL[3], _split(TYPICAL[3]))
    assert expects is not None
    assert expects.expects_continue
    assert expects.content_length == "9"


def test_heads_outside_the_plain_subset_get_h11s_verdict() -> None:
    cases = {
        b"POST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\n": "Host",  # no Host under HTTP/1.1
        b"POST /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n": "Host",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n": "Content-Length",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n": "both",
        b"POST /x HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n": "malformed",
        b"POST //x HTTP/1.1\r\nHost: a\r\n\r\n": "'//'",
        b"POST /x HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n": "malformed",
    }
    for data, words in cases.items():
        assert _plain_head(data, _split(data)) is None, data
        verdict = validate_head(data, _split(data))
        assert isinstance(verdict, HeadError), data
        assert words in verdict.message, (data, verdict.message)
    # Equal repeated lengths are one length to h11: accepted, by the h11 path.
    repeated = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"
    assert _plain_head(repeated, _split(repeated)) is None
    merged = validate_head(repeated, _split(repeated))
    assert isinstance(merged, Head)
    assert merged.content_length == "3"


# Header lines near the edge of the plain subset: mostly well formed, with the characters and
# names where h11's rules and the plain path's could part.
_NAME = st.sampled_from(["Content-Type", "X-A", "content-length", "Content-Length", "Transfer-Encoding",
                         "Expect", "Host", "Bad Name", "X\x00", "X(", ""])
_SEPARATOR = st.sampled_from([":", ": ", ":\t", " :", ":  "])
_GOOD = [*"ab019,;=/-", " ", "\t"]
_VALUE = st.text(alphabet=st.sampled_from(_GOOD), max_size=6) | st.text(
    alphabet=st.sampled_from([*_GOOD, "\x00", "\x7f", "\x80", "\r", "é", "\x0b"]), max_size=4)
_LINE = st.builds(lambda name, sep, value: name + sep + value, _NAME, _SEPARATOR, _VALUE) | st.sampled_from(
    ["Content-Length: 5", "Content-Length: 05", "Expect: 100-continue", " folded", "Host: a"])


@given(
    method=st.sampled_from(["POST", "POST", "GET", "P@ST", "post", ""]),
    target=st.sampled_from(["/v1/x/callbacks/c", "/v1/x/callbacks/c", "//x", "/a?b=c", "/a b", "*", "/\x7f"]),
    version=st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "http/1.1"]),
    host=st.booleans(),
    lines=st.lists(_LINE, max_size=5),
    ending=st.sampled_from(["\r\n", "\r\n", "\r\n", "\n"]),
)
@settings(max_examples=400)
def test_the_plain_path_never_disagrees_with_h11(method: str, target: str, version: str, host: bool,
                                                 lines: list[str], ending: str) -> None:
    lines = (["Host: 127.0.0.1"] if host else []) + lines
    head = f"{method} {target} {version}{ending}" + "".join(line + ending for line in lines) + ending
    data = head.encode("latin-1")
    length = _split(data)
    plain = _plain_head(data, length)
    if plain is not None:
        assert plain == _validate_with_h11(data, length)


@given(base=st.sampled_from(TYPICAL), where=st.integers(min_value=0, max_value=10_000),
       byte=st.integers(min_value=0, max_value=255), delete=st.booleans())
@settings(max_examples=600)
def test_one_byte_changed_in_a_real_head_never_makes_the_paths_disagree(base: bytes, where: int, byte: int,
                                                                        delete: bool) -> None:
    at = where % (len(base) - 4)  # keep the final blank line: a head is only validated once complete
    data = base[:at] + (b"" if delete else bytes([byte])) + base[at + 1:]
    if b"\n" not in data:
        return
    length = _split(data)
    plain = _plain_head(data, length)
    if plain is not None:
        assert plain == _validate_with_h11(data, length)
