"""Deliver: outbox -> LRS. A statement leaves `pending` only when the LRS confirmed it.

With `delivery.target: store` (the embedded default) nothing is sent: the outbox is the
archive, exported with `adoptloop statements export`.

Rows are claimed with a lease (store/claims.py), so this stage, the delivery workers of
every `serve` process and its own `concurrency` threads split the outbox between them.
Each thread runs in a copy of the caller's context, so its log lines carry the run id.
`lrs_client` builds the LRS client from `delivery.lrs` for every caller.
"""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import structlog

from adoptloop.errors import RetriableError
from adoptloop.fields import LRSSettings
from adoptloop.http.auth import basic_or_client_credentials
from adoptloop.http.retry import Sleep
from adoptloop.store.claims import DEFAULT_LEASE_SECONDS, OutboxClaims
from adoptloop.store.locks import node_id
from adoptloop.xapi.lrs import LRSClient, Outgoing

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)


@dataclass
class DeliverCounts:
    sent: int = 0
    stored: int = 0
    rejected: int = 0
    batches: int = 0
    stopped_early: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return dict(self.__dict__)

    def add(self, other: DeliverCounts) -> None:
        self.sent += other.sent
        self.stored += other.stored
        self.rejected += other.rejected
        self.batches += other.batches
        self.stopped_early = self.stopped_early or other.stopped_early


def lrs_client(
    settings: LRSSettings,
    xapi_version: str,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Sleep = time.sleep,
) -> LRSClient:
    """The LRS client for `delivery.lrs`: basic auth or OAuth 2.0 client credentials."""
    return LRSClient(
        settings.endpoint,
        auth=basic_or_client_credentials(settings),
        timeout=settings.timeout_seconds,
        verify=settings.verify_tls,
        max_retry_seconds=settings.max_retry_seconds,
        xapi_version=xapi_version,
        transport=transport,
        sleep=sleep,
    )


def deliver(
    engine: Engine,
    client: LRSClient,
    run_id: str,
    *,
    batch_size: int,
    concurrency: int = 1,
    worker: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    stop: threading.Event | None = None,
) -> DeliverCounts:
    """Send claimable statements until none is left (or `stop` is set between batches)."""
    worker = worker or node_id("deliver")
    stop = stop or threading.Event()
    claims = [
        OutboxClaims(engine, f"{worker}/{i}" if concurrency > 1 else worker, lease_seconds)
        for i in range(concurrency)
    ]
    claims[0].free_dead_local_claims()  # a killed `run` on this host: its rows are free now
    if concurrency == 1:
        counts = deliver_batches(claims[0], client, run_id, batch_size=batch_size, stop=stop)
    else:
        counts = DeliverCounts()
        with ThreadPoolExecutor(concurrency, thread_name_prefix="deliver") as pool:
            futures = [
                pool.submit(
                    contextvars.copy_context().run,
                    deliver_batches,
                    c,
                    client,
                    run_id,
                    batch_size=batch_size,
                    stop=stop,
                )
                for c in claims
            ]
            for future in futures:
                counts.add(future.result())
    log.info("delivered", **counts.as_dict())
    return counts


def deliver_batches(
    claims: OutboxClaims,
    client: LRSClient,
    run_id: str,
    *,
    batch_size: int,
    stop: threading.Event,
    max_batches: int | None = None,
) -> DeliverCounts:
    """One worker's loop: claim a batch, send it, record the answer; until nothing is left."""
    counts = DeliverCounts()
    while not stop.is_set() and (max_batches is None or counts.batches < max_batches):
        rows = claims.claim(batch_size)
        if not rows:
            break
        try:
            result = client.send([Outgoing(r.statement_id, r.payload) for r in rows])
        except RetriableError as exc:
            claims.release(rows)
            counts.stopped_early = True
            log.warning("delivery paused; statements stay in the outbox", reason=str(exc))
            break
        except BaseException:
            claims.release(rows)
            raise
        claims.complete(run_id, result.stored, result.rejected)
        counts.batches += 1
        counts.sent += len(rows)
        counts.stored += len(result.stored)
        counts.rejected += len(result.rejected)
    return counts
