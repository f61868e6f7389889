"""Adversarial HTTP probes against the real feature server (raw sockets, real Redis): each defect found in the
hand-written parser has a regression test here. Framing errors must be answered 400 and the connection closed, so
a hidden second request is never run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from feast import FeatureStore

from support.raw_http import connect, exchange, read_response, request, running_server

TOKEN = "read-token"
FEATURES = ["user_profile:age", "user_profile:country", "user_balance:balance"]
HIDDEN = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def feature_store(redis_server, tmp_path_factory) -> Iterator[FeatureStore]:
    import redis

    from support.serving_project import OBJECTS, write_fixture_data, write_repo

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    repo = tmp_path_factory.mktemp("adversarial") / "repo"
    write_repo(repo, redis_server.url)
    store = FeatureStore(repo_path=str(repo))
    store.apply(OBJECTS)
    write_fixture_data(store, datetime.now(UTC).replace(microsecond=0))
    yield store
    store._get_provider().online_store.close()


@pytest.fixture(scope="module")
def port(feature_store) -> Iterator[int]:
    with running_server(feature_store, token=TOKEN, request_timeout_s=30.0) as server:
        yield server.port


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _refused(port: int, payload: bytes, status: int = 400) -> list:
    responses, closed = exchange(port, payload)
    assert [r.status for r in responses] == [status], [(r.status, r.body) for r in responses]
    assert closed, "the connection must be closed after a framing error"
    return responses


# ---- request smuggling / desync ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Length: 0\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: x\nContent-Length: %d\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n Content-Length: %d\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length : %d\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n",
    ],
    ids=["duplicate-content-length", "bare-lf", "obs-fold", "space-before-colon", "cl-then-te", "te-then-cl"],
)
def test_ambiguous_framing_is_refused_and_the_hidden_request_never_runs(port, head):
    responses = _refused(port, head % len(HIDDEN) + HIDDEN)
    assert b"malformed HTTP request" in responses[0].body


def test_obs_fold_cannot_smuggle_an_authorization_header(port):
    body = b'{"features":["user_profile:age"],"entities":{"user_id":[2]}}'
    payload = (
        b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nX-A: b\r\n Authorization: Bearer %s\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (TOKEN.encode(), len(body), body)
    )
    _refused(port, payload)


@pytest.mark.parametrize(
    "payload",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-\x00A: b\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\x00c\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n",
        b"GET /health HTTP/1.1\rHost: x\r\n\r\n",
        b"GET /health HTTP/1.1\nHost: x\n\n",
        b"NONSENSE\r\n\r\n",
    ],
    ids=["nul-in-name", "nul-in-value", "no-colon", "bare-cr-in-value", "bare-cr-after-version", "bare-lf", "junk"],
)
def test_malformed_header_lines_get_400_and_close(port, payload):
    _refused(port, payload)


def test_head_answer_has_no_body_and_the_connection_stays_in_sync(port):
    conn = connect(port)
    buffer = bytearray()
    conn.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    head = read_response(conn, buffer, head=True)
    assert head is not None and head.status == 200 and int(head.headers[b"content-length"]) > 0
    get = read_response(conn, buffer)
    assert get is not None and get.status == 200 and get.json()["status"] in ("ok", "starting")
    assert not buffer  # nothing left over: the HEAD answer carried no body
    conn.close()


def test_header_limit_holds_however_the_bytes_arrive(port):
    block = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(118))
    responses = _refused(port, block + b"\r\n", status=431)  # sent at once, header end included
    assert b"serving.max_header_bytes" in responses[0].body
    conn = connect(port)
    buffer = bytearray()
    for i in range(0, len(block), 4096):  # and trickled in pieces
        try:
            conn.sendall(block[i : i + 4096])
        except (BrokenPipeError, ConnectionResetError):
            break
    response = read_response(conn, buffer)
    assert response is not None and response.status == 431
    conn.close()


def test_pipelining_after_a_malformed_request_answers_only_what_came_before(port):
    good = request("GET", "/health")
    responses, closed = exchange(port, good + b"GET /health HTTP/1.1\r\nBad Header: x\r\n\r\n" + good)
    assert [r.status for r in responses] == [200, 400] and closed


def test_pipelined_requests_are_answered_in_order(port):
    payload = b"".join(
        request("POST", "/get-online-features", {"features": FEATURES, "entities": {"user_id": [i]}}, _auth())
        for i in (2, 4, 6, 8)
    )
    conn = connect(port)
    conn.sendall(payload)
    buffer = bytearray()
    ids = []
    for _ in range(4):
        response = read_response(conn, buffer)
        assert response is not None and response.status == 200
        ids.append(response.json()["results"][0]["values"][0])
    conn.close()
    assert ids == [2, 4, 6, 8]


# ---- bodies ---------------------------------------------------------------------------------------------------


def test_chunked_bodies_are_read_and_bounded(feature_store):
    body = b'{"features":["user_profile:age"],"entities":{"user_id":[2,3]}}'
    chunked = b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with running_server(feature_store, max_body_bytes=1024) as server:
        conn = connect(server.port)
        conn.sendall(chunked)
        response = read_response(conn, bytearray())
        assert response is not None and response.status == 200
        assert response.json()["results"][0]["values"] == [2, 3]
        conn.close()
        big = b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        big += b"".join(b"200\r\n" + b"x" * 512 + b"\r\n" for _ in range(4))
        responses = _refused(server.port, big, status=413)
        assert b"serving.max_body_bytes" in responses[0].body


def test_oversized_content_length_is_refused_before_the_body_is_read(feature_store):
    with running_server(feature_store, max_body_bytes=1024) as server:
        conn = connect(server.port)
        conn.sendall(b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        response = read_response(conn, bytearray())  # answered without sending a byte of the body
        assert response is not None and response.status == 413
        assert b"1024 bytes (serving.max_body_bytes)" in response.body
        conn.close()


def test_entity_cap_is_413_naming_the_limit(port):
    body = {"features": FEATURES, "entities": {"user_id": list(range(10_001))}}
    responses, _ = exchange(port, request("POST", "/get-online-features", body, {**_auth(), "Connection": "close"}))
    assert responses[0].status == 413
    assert "serving.max_entities" in responses[0].json()["detail"] and "10000" in responses[0].json()["detail"]


# ---- slow and silent clients ------------------------------------------------------------------------------------


def test_slow_header_and_body_senders_get_408_and_idle_keep_alive_clients_are_closed(feature_store):
    with running_server(feature_store, header_timeout_s=0.3, body_timeout_s=0.3, keep_alive_timeout_s=0.3) as server:
        slow_header = connect(server.port)
        slow_header.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        response = read_response(slow_header, bytearray())
        assert response is not None and response.status == 408 and b"serving.header_timeout_s" in response.body
        slow_body = connect(server.port)
        slow_body.sendall(b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        response = read_response(slow_body, bytearray())
        assert response is not None and response.status == 408 and b"serving.body_timeout_s" in response.body
        # Quiet keep-alive clients are closed after the keep-alive timeout, so they cannot hold every descriptor.
        quiet = [connect(server.port) for _ in range(50)]
        time.sleep(0.6)
        for conn in quiet:
            assert conn.recv(1) == b""  # closed by the server
            conn.close()
        responses, _ = exchange(server.port, request("GET", "/health", headers={"Connection": "close"}))
        assert responses[0].status == 200


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        import os

        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_a_client_that_never_reads_costs_bounded_memory_and_health_stays_responsive(feature_store):
    body = {"features": FEATURES, "entities": {"user_id": list(range(1, 1001))}}
    one = request("POST", "/get-online-features", body)
    with running_server(feature_store, write_buffer_bytes=65536, max_pipelined_requests=4) as server:
        before = _rss_mib()
        hog = connect(server.port, timeout=3.0)

        def flood() -> None:
            try:
                for _ in range(2000):  # ~230 MB of answers if the server buffered them
                    hog.sendall(one)
            except OSError:
                pass  # the server stopped reading: sendall times out

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        time.sleep(2.0)
        growth = _rss_mib() - before
        health, _ = exchange(server.port, request("GET", "/health", headers={"Connection": "close"}))
        assert health[0].status == 200
        hog.close()
        sender.join(5)
    assert growth < 20, f"RSS grew {growth:.0f} MiB while a client did not read"


def test_without_a_write_token_writes_take_the_read_token(port):
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    body = {
        "feature_view_name": "user_profile",
        "df": {
            "user_id": [777],
            "age": [41],
            "credit_limit": [10.5],
            "country": ["FR"],
            "verified": [True],
            "event_ts": [now],
        },
    }
    denied, _ = exchange(port, request("POST", "/write-to-online-store", body, {"Connection": "close"}))
    assert denied[0].status == 401
    written, _ = exchange(port, request("POST", "/write-to-online-store", body, {**_auth(), "Connection": "close"}))
    assert written[0].status == 200 and written[0].json()["rows"] == 1
    read = {"features": ["user_profile:country"], "entities": {"user_id": [777]}}
    got, _ = exchange(port, request("POST", "/get-online-features", read, {**_auth(), "Connection": "close"}))
    assert got[0].json()["results"][1]["values"] == ["FR"]
