"""Integration tests of the local LRS harness against the real statement service.

They also pin the service behaviours written down in tests/lrs/NOTES.md: if one of them fails
after an upgrade of the npm package, update the notes (and the LRS client) with it.

Skipped when node or the npm package is missing, unless ADOPTLOOP_REQUIRE_ALL=1 (CI), which
turns the skip into a failure.
"""

from __future__ import annotations

import copy
import re
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import lrs_server
from tests.harness.lrs_server import (
    LocalLRS,
    LRSInfo,
    LRSStartupError,
    LRSUnavailableError,
    lrs_available,
)
from tests.support import install_local_lrs, require

XAPI_HEADERS = {"X-Experience-API-Version": "1.0.3"}
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def require_lrs() -> None:
    install_local_lrs()
    require("local LRS", lrs_available())


def now_z() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_statement(n: int = 0, **overrides: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "mbox": f"mailto:learner{n}@example.com",
            "name": f"Learner {n}",
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {
            "objectType": "Activity",
            "id": f"https://example.com/activities/course-{n}",
        },
        "timestamp": now_z(),
    }
    statement.update(overrides)
    return statement


def voiding_statement(target_id: str) -> dict[str, Any]:
    return make_statement(
        verb={"id": VOIDED, "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target_id},
    )


def get_by_id(http: httpx.Client, statement_id: str) -> httpx.Response:
    return http.get("statements", params={"statementId": statement_id})


def stored_of(http: httpx.Client, statement_id: str) -> str:
    response = get_by_id(http, statement_id)
    assert response.status_code == 200, response.text
    stored: str = response.json()["stored"]
    return stored


def follow(http: httpx.Client, info: LRSInfo, first: httpx.Response) -> list[dict[str, Any]]:
    """All statements of a query, following `more` (a path relative to the server root)."""
    pages = [first]
    while more := pages[-1].json()["more"]:
        assert more.startswith("/xAPI/statements?"), more
        pages.append(http.get(httpx.URL(info.endpoint).join(more)))
        assert pages[-1].status_code == 200, pages[-1].text
    return [s for page in pages for s in page.json()["statements"]]


@pytest.fixture(scope="module")
def lrs() -> Iterator[LocalLRS]:
    require_lrs()
    with LocalLRS() as server:
        yield server


@pytest.fixture
def fresh_lrs() -> Iterator[LocalLRS]:
    require_lrs()
    with LocalLRS() as server:
        yield server


@pytest.fixture
def http(lrs: LocalLRS) -> Iterator[httpx.Client]:
    with lrs.client() as client:
        yield client


# --------------------------------------------------------------------------- lifecycle


@pytest.mark.lrs
def test_start_stop() -> None:
    require_lrs()
    server = LocalLRS(username="u1", password="p1")
    info = server.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/xAPI/", info.endpoint)
        assert (info.username, info.password) == ("u1", "p1")
        assert server.start() == info  # idempotent while running
        assert server.running
        assert httpx.get(info.endpoint + "about").status_code == 200
        port = httpx.URL(info.endpoint).port
        assert port is not None
    finally:
        server.stop()
    assert not server.running
    assert server.log_path is None  # temp dir removed
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass
    server.stop()  # idempotent


def _listening_sockets_of(pid: int) -> list[tuple[str, str, int]]:
    """(table, hex address, port) of every LISTEN socket the process holds (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if match := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(match.group(1))
    found = []
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A = TCP_LISTEN
                address, port_hex = local.split(":")
                found.append((table, address, int(port_hex, 16)))
    return found


@pytest.mark.lrs
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_only_loopback_is_listening(lrs: LocalLRS) -> None:
    assert lrs.pid is not None
    port = httpx.URL(lrs.info.endpoint).port
    # 0100007F is 127.0.0.1 in /proc/net/tcp's little-endian hex.
    assert _listening_sockets_of(lrs.pid) == [("tcp", "0100007F", port)]


@pytest.mark.lrs
def test_startup_failure_reports_log_tail(lrs: LocalLRS) -> None:
    busy_port = httpx.URL(lrs.info.endpoint).port
    second = LocalLRS(port=busy_port, startup_timeout=15)
    with pytest.raises(LRSStartupError, match=r"(?s)exited with status 2.*cannot listen"):
        second.start()
    assert not second.running


def test_unavailable_root_gives_install_hint(tmp_path: Path) -> None:
    (tmp_path / "launcher.js").write_text("// empty\n")
    reason = lrs_available(tmp_path)
    if reason == "node not found":
        pytest.skip("node not installed")
    assert reason is not None
    assert reason.startswith("run: npm ci --ignore-scripts --prefix ")
    with pytest.raises(LRSUnavailableError, match="npm ci"):
        LocalLRS(root=tmp_path).start()


def test_root_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ADOPTLOOP_LRS_DIR", str(tmp_path))
    assert LocalLRS().root == tmp_path.resolve()
    reason = lrs_available()
    assert reason is not None
    assert "launcher" in reason or reason == "node not found"


# --------------------------------------------------------------------------- auth


@pytest.mark.lrs
def test_about_is_open(lrs: LocalLRS) -> None:
    response = httpx.get(lrs.info.endpoint + "about")
    assert response.status_code == 200
    assert "1.0.3" in response.json()["version"]


@pytest.mark.lrs
@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (("adoptloop", "wrong"), "Invalid credentials"),
        (("someone-else", "test-secret"), "Invalid credentials"),
        (None, "Missing credentials: HTTP Basic authentication is required"),
    ],
)
def test_bad_credentials_401(lrs: LocalLRS, auth: tuple[str, str] | None, message: str) -> None:
    response = httpx.get(lrs.info.endpoint + "statements", auth=auth, headers=XAPI_HEADERS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    body = response.json()
    assert set(body) == {"errorId", "message"}
    assert UUID_RE.match(body["errorId"])
    assert body["message"] == message
    post = httpx.post(
        lrs.info.endpoint + "statements", json=[make_statement()], auth=auth, headers=XAPI_HEADERS
    )
    assert post.status_code == 401


@pytest.mark.lrs
def test_missing_version_header_is_400(lrs: LocalLRS) -> None:
    response = httpx.get(lrs.info.endpoint + "statements", auth=(lrs.username, lrs.password))
    assert response.status_code == 400
    assert response.json()["warnings"] == [
        "Missing required value in 'header.X-Experience-API-Version'"
    ]


# --------------------------------------------------------------------------- writes


@pytest.mark.lrs
def test_post_batch_then_get_each_back(http: httpx.Client) -> None:
    batch = [make_statement(n) for n in range(3)]
    response = http.post("statements", json=batch)
    assert response.status_code == 200, response.text
    assert response.json() == [s["id"] for s in batch]
    for sent in batch:
        got = get_by_id(http, sent["id"])
        assert got.status_code == 200, got.text
        stored = got.json()
        for key in ("id", "actor", "verb", "object", "timestamp"):
            assert stored[key] == sent[key]  # timestamps come back verbatim
        assert stored["version"] == "1.0.0"
        assert stored["authority"] == {"objectType": "Agent", "mbox": "mailto:client@example.org"}
        assert stored["stored"].endswith("Z")


@pytest.mark.lrs
def test_repost_identical_is_200_and_not_duplicated(lrs: LocalLRS, http: httpx.Client) -> None:
    batch = [make_statement(n) for n in range(2)]
    assert http.post("statements", json=batch).status_code == 200
    before = lrs.statements_count()
    again = http.post("statements", json=batch)
    assert again.status_code == 200
    assert again.json() == [s["id"] for s in batch]
    single = http.post("statements", json=batch[0])  # a bare object is accepted too
    assert single.status_code == 200
    assert single.json() == [batch[0]["id"]]
    reordered = dict(reversed(list(batch[0].items())))  # key order does not matter
    assert http.post("statements", json=[reordered]).status_code == 200
    assert lrs.statements_count() == before


@pytest.mark.lrs
@pytest.mark.parametrize(
    "change",
    ["verb_id", "display_only", "timestamp_same_instant_other_format"],
)
def test_same_id_different_content_is_409(http: httpx.Client, change: str) -> None:
    original = make_statement(timestamp="2024-05-01T10:00:00Z")
    assert http.post("statements", json=[original]).status_code == 200
    changed = copy.deepcopy(original)
    if change == "verb_id":
        changed["verb"]["id"] = "http://adlnet.gov/expapi/verbs/attempted"
    elif change == "display_only":
        changed["verb"]["display"] = {"en-US": "finished"}
    else:
        changed["timestamp"] = "2024-05-01T10:00:00.000Z"
    response = http.post("statements", json=[make_statement(), changed])
    assert response.status_code == 409
    assert response.json()["message"] == f"{original['id']} is conflicting"


@pytest.mark.lrs
def test_batch_with_one_invalid_statement_is_rejected_whole(http: httpx.Client) -> None:
    good_first, good_last = make_statement(1), make_statement(2)
    bad = make_statement(3)
    del bad["verb"]["id"]
    response = http.post("statements", json=[good_first, bad, good_last])
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"errorId", "warnings"}
    assert body["warnings"] == ["Missing required value in 'statements.1.verb.id'"]
    # Nothing of the batch was stored.
    assert get_by_id(http, good_first["id"]).status_code == 404
    assert get_by_id(http, good_last["id"]).status_code == 404

    bad_mbox = make_statement(4)
    bad_mbox["actor"]["mbox"] = "learner@example.com"
    response = http.post("statements", json=[good_first, good_last, bad_mbox])
    assert response.status_code == 400
    assert response.json()["warnings"] == [
        "Problem in 'statements.2.actor.mbox'. Received '\"learner@example.com\"'"
    ]

    # Every failing field of the batch is reported, one warning each.
    response = http.post("statements", json=[good_first, bad, good_last, bad_mbox])
    assert response.status_code == 400
    assert response.json()["warnings"] == [
        "Missing required value in 'statements.1.verb.id'",
        "Problem in 'statements.3.actor.mbox'. Received '\"learner@example.com\"'",
    ]


@pytest.mark.lrs
def test_duplicate_id_within_batch_is_400(http: httpx.Client) -> None:
    statement = make_statement()
    response = http.post("statements", json=[statement, statement])
    assert response.status_code == 400
    assert response.json()["message"] == f"{statement['id']} is duplicated in the current batch"


@pytest.mark.lrs
def test_timestamp_without_zone_is_400(http: httpx.Client) -> None:
    response = http.post("statements", json=[make_statement(timestamp="2024-05-01T10:00:00")])
    assert response.status_code == 400
    assert response.json()["warnings"] == [
        "Problem in 'statements.0.timestamp'. Received '\"2024-05-01T10:00:00\"'"
    ]


# --------------------------------------------------------------------------- queries


@pytest.mark.lrs
def test_since_until_limit_and_more_paging(lrs: LocalLRS, http: httpx.Client) -> None:
    batches = []
    for b in range(3):
        batch = [make_statement(10 * b + n) for n in range(3)]
        assert http.post("statements", json=batch).status_code == 200
        batches.append(batch)
        time.sleep(0.02)  # distinct `stored` per batch (ms resolution)
    stored = [stored_of(http, batch[0]["id"]) for batch in batches]
    assert stored == sorted(stored)
    assert len(set(stored)) == 3

    # since is exclusive, until inclusive; both filter on `stored`.
    since0 = http.get("statements", params={"since": stored[0], "limit": 2})
    assert since0.status_code == 200
    page = since0.json()
    assert len(page["statements"]) == 2
    assert re.fullmatch(
        rf"/xAPI/statements\?since={re.escape(stored[0])}&limit=2&cursor=[0-9a-f-]+", page["more"]
    )
    got = follow(http, lrs.info, since0)
    expected_ids = {s["id"] for s in batches[1] + batches[2]}
    assert [s["id"] for s in got if s["id"] in expected_ids] == [s["id"] for s in got]
    assert {s["id"] for s in got} == expected_ids
    assert len(got) == 6  # no duplicates across pages
    got_stored = [s["stored"] for s in got]
    assert got_stored == sorted(got_stored, reverse=True)  # newest first by default

    window = http.get("statements", params={"since": stored[0], "until": stored[1]})
    assert {s["id"] for s in window.json()["statements"]} == {s["id"] for s in batches[1]}
    assert window.json()["more"] == ""

    ascending = http.get("statements", params={"since": stored[0], "ascending": "true", "limit": 4})
    asc = follow(http, lrs.info, ascending)
    assert [s["stored"] for s in asc] == sorted(s["stored"] for s in asc)
    assert {s["id"] for s in asc} == expected_ids


@pytest.mark.lrs
def test_more_link_with_agent_filter_is_broken(http: httpx.Client) -> None:
    """Known service bug: `more` serialises the agent filter as `[object Object]`."""
    actor = make_statement(77)["actor"]
    for _ in range(3):
        assert http.post("statements", json=[make_statement(77)]).status_code == 200
    first = http.get("statements", params={"agent": f'{{"mbox": "{actor["mbox"]}"}}', "limit": 2})
    assert first.status_code == 200
    more = first.json()["more"]
    assert "agent=[object Object]" in more
    assert http.get(httpx.URL(http.base_url).join(more)).status_code == 400


@pytest.mark.lrs
def test_voiding(http: httpx.Client) -> None:
    target = make_statement(5)
    assert http.post("statements", json=[target]).status_code == 200
    voider = voiding_statement(target["id"])
    assert http.post("statements", json=[voider]).status_code == 200

    by_id = get_by_id(http, target["id"])
    assert by_id.status_code == 404
    assert by_id.json()["message"] == "No Statement found"
    by_voided = http.get("statements", params={"voidedStatementId": target["id"]})
    assert by_voided.status_code == 200
    assert by_voided.json()["id"] == target["id"]
    assert get_by_id(http, voider["id"]).status_code == 200
    listed = {s["id"] for s in http.get("statements", params={"limit": 1000}).json()["statements"]}
    assert voider["id"] in listed
    assert target["id"] not in listed
    # A voider of a voider is refused.
    response = http.post("statements", json=[voiding_statement(voider["id"])])
    assert response.status_code == 400
    assert response.json()["message"] == f"Voider cannot void another voider ({voider['id']})"
    # Voiding an id the LRS has never seen is accepted and applies when it arrives later.
    later = make_statement(6)
    assert http.post("statements", json=[voiding_statement(later["id"])]).status_code == 200
    assert http.post("statements", json=[later]).status_code == 200
    assert get_by_id(http, later["id"]).status_code == 404


# --------------------------------------------------------------------------- outage


@pytest.mark.lrs
def test_pause_gives_503_until_resume(lrs: LocalLRS, http: httpx.Client) -> None:
    lrs.pause()
    try:
        post = http.post("statements", json=[make_statement()])
        assert post.status_code == 503
        assert post.headers["Retry-After"] == "1"
        assert set(post.json()) == {"errorId", "message"}
        assert httpx.get(lrs.info.endpoint + "about").status_code == 503
        assert http.get("statements").status_code == 503
    finally:
        lrs.resume()
    assert http.post("statements", json=[make_statement()]).status_code == 200
    assert httpx.get(lrs.info.endpoint + "about").status_code == 200


# --------------------------------------------------------------------------- counting


@pytest.mark.lrs
@pytest.mark.slow
def test_statements_count(fresh_lrs: LocalLRS, monkeypatch: pytest.MonkeyPatch) -> None:
    assert fresh_lrs.statements_count() == 0
    with fresh_lrs.client() as http:
        batch = [make_statement(n) for n in range(1000)]
        assert http.post("statements", json=batch).status_code == 200
        assert http.post("statements", json=[make_statement(1000)]).status_code == 200
        assert fresh_lrs.statements_count() == 1001  # one page
        monkeypatch.setattr(lrs_server, "COUNT_PAGE", 300)
        assert fresh_lrs.statements_count() == 1001  # several pages, by `more`
        monkeypatch.undo()
        assert http.post("statements", json=[voiding_statement(batch[0]["id"])]).status_code == 200
    # The voided statement drops out of query results, the voiding one is in them.
    assert fresh_lrs.statements_count() == 1001
