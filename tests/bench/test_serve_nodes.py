"""Issue 17 point 3: bench/run.py --serve-nodes. One `adoptloop serve`, then two sharing a
PostgreSQL store, deliver the same outbox sample to a real local LRS; what each node sent and
what the LRS holds is counted (a small sample: no timing is asserted)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from adoptloop.store import outbox, schema
from adoptloop.store.db import open_store
from bench import serve_nodes
from tests.harness.lrs_server import lrs_available
from tests.store.stores import point_demo_at
from tests.support import copy_demo, install_local_lrs, require

SAMPLE = 600
BEYOND = 40  # pending rows after the sample: held back, then left as they were
LATENCY_MS = 20.0  # the relay's round trip


def _statement(statement_id: str, i: int) -> bytes:
    body = {
        "id": statement_id,
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://hr.example.com", "name": f"p{i % 50}"},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "x"}},
        "object": {"objectType": "Activity", "id": f"https://example.com/activity/{i}"},
        "timestamp": "2026-01-05T10:00:00Z",
    }
    return json.dumps(body, separators=(",", ":")).encode()


@pytest.mark.parametrize(("lrs", "processes"), [("local", 2), ("remote", 1)])
def test_two_serve_nodes_split_the_outbox_and_send_nothing_twice(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, lrs: str, processes: int
) -> None:
    """Issue 17 point 3: the serve-nodes step runs real `adoptloop serve` processes (one, then
    two on the same PostgreSQL store), each delivering the whole sample to an LRS reached
    through the delay relay (two local LRS processes behind it, or the stand-in for an LRS on
    its own hardware): both nodes take rows, no statement is sent twice (statements sent ==
    rows delivered == what the LRS lists), each worker keeps one connection to the LRS, and
    the rows after the sample are held back and given back untouched."""
    if lrs == "local":
        install_local_lrs()
        require("local LRS", lrs_available())
    config = copy_demo(tmp_path)
    for name, value in point_demo_at(config, postgres_url).items():
        monkeypatch.setenv(name, value)
    engine = open_store(postgres_url)
    ids = [str(uuid.uuid4()) for _ in range(SAMPLE + BEYOND)]
    with engine.begin() as conn:
        outbox.enqueue_values(
            conn, [(sid, "rating", _statement(sid, i), None) for i, sid in enumerate(ids)], "run-1"
        )

    result = serve_nodes.measure(
        config,
        postgres_url,
        serve_nodes.Options(
            SAMPLE,
            workers=1,
            batch_size=25,
            timeout_seconds=120,
            lrs_latency_ms=LATENCY_MS,
            lrs_processes=processes,
            lrs=lrs,
        ),
    )

    one, two = result["one"], result["two"]
    assert (one["delivered"], one["sent"], one["sent_twice"], one["lrs_listed"]) == (
        SAMPLE,
        SAMPLE,
        0,
        SAMPLE,
    )
    assert (two["delivered"], two["sent"], two["sent_twice"], two["lrs_listed"]) == (
        SAMPLE,
        SAMPLE,
        0,
        SAMPLE,
    )
    assert len(one["delivered_by_node"]) == 1
    assert len(two["delivered_by_node"]) == 2
    assert sum(two["delivered_by_node"]) == SAMPLE
    assert result["serve_two_vs_one"] > 0
    assert result["raw_ceiling_per_second"] > 0
    assert (result["lrs"], result["lrs_latency_ms"]) == (lrs, LATENCY_MS)
    assert result["lrs_processes"] == (processes if lrs == "local" else None)
    # the LRS processes' CPU is measured apart from the nodes' and the bench's, either kind
    assert all(isinstance(r["lrs_cpu_seconds"], float) for r in (one, two))
    assert (one["lrs_connections"], two["lrs_connections"]) == (1, 2)
    by_connections = result["raw_ceiling_per_second_by_connections"]
    assert sorted(by_connections) == ["1", "2"]
    assert by_connections["1"] == result["raw_ceiling_per_second"]
    assert result["one_vs_raw_ceiling"] > 0
    t = schema.outbox
    with engine.connect() as conn:
        rest = conn.execute(
            select(t.c.state, t.c.claimed_by, t.c.lease_until).where(t.c.seq > SAMPLE)
        ).all()
    engine.dispose()
    assert rest == [(outbox.PENDING, None, None)] * BEYOND
