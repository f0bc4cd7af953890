"""bench/remote_lrs.py: the remote LRS stand-in answers the statements API as an LRS does (ids,
whole-batch conflicts, voiding, credentials, the version header), over real sockets, directly
and through the delay relay, in a thread and in a process of its own, and adoptloop's own LRS
client delivers to it."""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bench.relay import DelayRelay
from bench.remote_lrs import VOIDED, RemoteLRS, RemoteLRSProcess

from adoptloop.xapi.lrs import LRSClient, Outgoing

VERSION = {"X-Experience-API-Version": "1.0.3"}


def _statement(
    i: int, statement_id: str | None = None, verb: str = "experienced"
) -> dict[str, Any]:
    return {
        "id": statement_id or str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://hr.example", "name": "p"},
        },
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}", "display": {"en-US": verb}},
        "object": {"objectType": "Activity", "id": f"https://example.com/activity/{i}"},
        "timestamp": "2026-01-05T10:00:00Z",
    }


@pytest.fixture
def lrs() -> Iterator[RemoteLRS]:
    with RemoteLRS() as server:
        yield server


@pytest.fixture
def client(lrs: RemoteLRS) -> Iterator[httpx.Client]:
    info = lrs.info
    with httpx.Client(
        base_url=info.endpoint, auth=(info.username, info.password), headers=VERSION
    ) as http:
        yield http


def test_a_batch_is_stored_and_read_back_by_id(lrs: RemoteLRS, client: httpx.Client) -> None:
    batch = [_statement(i) for i in range(3)]
    response = client.post("statements", content=json.dumps(batch))
    assert response.status_code == 200
    assert response.json() == [s["id"] for s in batch]
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    got = client.get("statements", params={"statementId": batch[1]["id"]})
    assert (got.status_code, got.json()) == (200, batch[1])
    assert client.get("statements", params={"statementId": str(uuid.uuid4())}).status_code == 404
    assert lrs.statements_count() == 3


def test_a_resent_statement_is_stored_once_and_a_conflict_refuses_the_whole_batch(
    lrs: RemoteLRS, client: httpx.Client
) -> None:
    first = _statement(1)
    assert client.post("statements", content=json.dumps([first])).status_code == 200
    # the same statement again (keys in another order: the same JSON value) is no conflict
    again = dict(reversed(list(first.items())))
    assert client.post("statements", content=json.dumps([again])).status_code == 200
    assert lrs.statements_count() == 1
    other = {**first, "timestamp": "2026-01-06T10:00:00Z"}
    new = _statement(2)
    response = client.post("statements", content=json.dumps([new, other]))
    assert response.status_code == 409
    assert first["id"] in response.json()["message"]
    assert lrs.statements_count() == 1  # nothing of the refused batch was stored
    assert client.get("statements", params={"statementId": new["id"]}).status_code == 404
    assert client.get("statements", params={"statementId": new["id"]}).status_code == 404
    # an LRS's own keys are not the sender's content
    stamped = {**first, "stored": "2026-01-07T00:00:00Z", "version": "1.0.3"}
    assert client.post("statements", content=json.dumps([stamped])).status_code == 200
    twice = client.post("statements", content=json.dumps([new, new]))
    assert twice.status_code == 400  # one id twice in a batch, as the local LRS answers
    assert lrs.statements_count() == 1


def _voiding(target_id: str, i: int) -> dict[str, Any]:
    return {
        **_statement(i, verb="voided"),
        "object": {"objectType": "StatementRef", "id": target_id},
    }


def test_a_voiding_statement_may_come_first_and_may_not_be_voided(
    lrs: RemoteLRS, client: httpx.Client
) -> None:
    target = _statement(1)
    voiding = _voiding(target["id"], 2)
    assert client.post("statements", content=json.dumps([voiding])).status_code == 200
    assert client.post("statements", content=json.dumps([target])).status_code == 200
    assert lrs.statements_count() == 1  # the target, stored after its voiding, is voided
    again = client.post("statements", content=json.dumps([_voiding(voiding["id"], 3)]))
    assert again.status_code == 400
    chained = _voiding(str(uuid.uuid4()), 4)
    batch = [chained, _voiding(chained["id"], 5)]
    assert client.post("statements", content=json.dumps(batch)).status_code == 400
    assert lrs.statements_count() == 1


def test_a_voided_statement_is_not_listed_and_is_read_as_voided(
    lrs: RemoteLRS, client: httpx.Client
) -> None:
    target = _statement(1)
    voiding = {
        **_statement(2, verb="voided"),
        "object": {"objectType": "StatementRef", "id": target["id"]},
    }
    assert voiding["verb"]["id"] == VOIDED
    assert client.post("statements", content=json.dumps([target, voiding])).status_code == 200
    assert lrs.statements_count() == 1  # the voiding statement is listed, its target not
    assert client.get("statements", params={"statementId": target["id"]}).status_code == 404
    voided = client.get("statements", params={"voidedStatementId": target["id"]})
    assert (voided.status_code, voided.json()) == (200, target)


@pytest.mark.parametrize(
    ("auth", "headers", "status"),
    [
        (("bench", "wrong"), VERSION, 401),
        (None, VERSION, 401),
        ("ok", {}, 400),
        ("ok", {"X-Experience-API-Version": "0.95"}, 400),
        ("ok", {"X-Experience-API-Version": "1.0"}, 200),  # 1.0.0, as xAPI 1.0.3 says
    ],
)
def test_credentials_and_the_version_header_are_required(
    lrs: RemoteLRS, auth: Any, headers: dict[str, str], status: int
) -> None:
    info = lrs.info
    credentials = (info.username, info.password) if auth == "ok" else auth
    response = httpx.post(
        info.endpoint + "statements",
        content=json.dumps([_statement(1)]),
        auth=credentials,
        headers=headers,
    )
    assert response.status_code == status
    assert lrs.statements_count() == (1 if status == 200 else 0)


def test_bad_requests_are_refused_and_the_connection_serves_the_next(
    lrs: RemoteLRS, client: httpx.Client
) -> None:
    assert client.post("statements", content=b"{not json").status_code == 400
    assert client.post("statements", content=json.dumps([{"verb": {}}])).status_code == 400
    assert client.get("statements").status_code == 400  # only by id
    assert client.get("activities").status_code == 404
    assert client.put("statements", content=b"[]").status_code == 405
    assert client.get("about").json() == {"version": ["1.0.3"]}
    assert client.post("statements", content=json.dumps(_statement(1))).status_code == 200
    assert (lrs.statements_count(), lrs.requests) == (1, 7)
    assert lrs.connections == 1  # every answer kept the connection open


def _raw(lrs: RemoteLRS, data: bytes) -> bytes:
    """What the stand-in answers to `data` on one connection, until it closes it."""
    with socket.create_connection(("127.0.0.1", lrs.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _head(lrs: RemoteLRS, method: str, *, body: bytes = b"", extra: str = "") -> bytes:
    token = "Basic " + base64.b64encode(f"{lrs.username}:{lrs.password}".encode()).decode()
    return (
        f"{method} /xAPI/statements HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
        f"X-Experience-API-Version: 1.0.3\r\n{extra}\r\n"
    ).encode() + body


def test_pipelined_requests_are_answered_in_order_and_broken_ones_do_not_stop_it(
    lrs: RemoteLRS,
) -> None:
    one, two = (json.dumps([_statement(i)]).encode() for i in (1, 2))
    pipelined = b"".join(
        _head(lrs, "POST", body=b, extra=f"Content-Length: {len(b)}\r\n") for b in (one, two)
    )
    answer = _raw(lrs, pipelined)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert lrs.statements_count() == 2
    # a body without Content-Length: 411, and the connection is closed (its body unread)
    answer = _raw(lrs, _head(lrs, "POST", body=b"[]", extra="Transfer-Encoding: chunked\r\n"))
    assert answer.startswith(b"HTTP/1.1 411")
    assert b"Connection: close" in answer
    # a head it cannot parse: 400 and closed; a body cut short: no answer, nothing stored
    assert _raw(lrs, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(lrs, _head(lrs, "POST", body=one[:10], extra="Content-Length: 99\r\n")) == b""
    assert lrs.statements_count() == 2
    assert httpx.get(lrs.info.endpoint + "about", headers=VERSION).status_code == 401  # alive


def test_the_stand_in_runs_in_a_process_of_its_own() -> None:
    with RemoteLRSProcess() as lrs:
        info = lrs.info
        assert lrs.pid is not None
        statements = [_statement(i) for i in range(3)]
        statements.append(_voiding(statements[0]["id"], 9))
        response = httpx.post(
            info.endpoint + "statements",
            content=json.dumps(statements),
            auth=(info.username, info.password),
            headers=VERSION,
        )
        assert response.status_code == 200
        assert lrs.statements_count() == 3  # four stored, one of them voided
        pid = lrs.pid
    with pytest.raises(ProcessLookupError):  # stopped, and waited for
        os.kill(pid, 0)


def test_adoptloops_client_delivers_through_the_relay_and_sees_conflicts(
    lrs: RemoteLRS,
) -> None:
    """What `adoptloop serve` does: batches posted through a round trip; a re-send after a
    crash counts as stored, a statement stored with other content is rejected."""
    info = lrs.info
    statements = [_statement(i) for i in range(40)]
    outgoing = [Outgoing(s["id"], json.dumps(s).encode()) for s in statements]
    with DelayRelay(int(info.endpoint.split(":")[2].split("/")[0]), 0.01) as relay:
        with LRSClient(
            relay.endpoint(info.endpoint), auth=httpx.BasicAuth(info.username, info.password)
        ) as lrs_client:
            first = lrs_client.send(outgoing[:25])
            again = lrs_client.send(outgoing[20:])  # five of them already stored
            changed = {**statements[3], "timestamp": "2026-02-01T00:00:00Z"}
            conflict = lrs_client.send([Outgoing(changed["id"], json.dumps(changed).encode())])
        assert relay.stats.connections == 1  # kept alive
    assert first.stored == [s.statement_id for s in outgoing[:25]]
    assert again.stored == [s.statement_id for s in outgoing[20:]]
    assert conflict.stored == []
    assert [statement_id for statement_id, _ in conflict.rejected] == [changed["id"]]
    assert lrs.statements_count() == 40
