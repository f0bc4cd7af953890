"""`adoptloop serve`: one long-running process that runs the pipeline on its schedule.

Every `serve` process against the same store:

- runs delivery workers, which split the outbox with the other processes (claims + leases,
  store/claims.py);
- tries to become the scheduling process by taking the store's `scheduler` lock; the others
  stand by and retry every `schedule.standby_poll_seconds`. A standby takes over as soon as
  the lock is free (PostgreSQL: when the holder's connection ends; SQLite: when its lease
  runs out or its process is gone).

The scheduling process runs an APScheduler 3 BackgroundScheduler with one worker thread
(runs never overlap in a process; the store's run lock keeps them apart across processes),
`coalesce=True`, `max_instances=1` and a misfire grace of hours, with the jobs rebuilt from
the YAML at every start. At start it catches up the latest scheduled run of each job that has
not succeeded (from the `runs` table; see jobs.py).

SIGTERM or SIGINT: the running job stops at its next checkpoint (the end of the current
batch), records the run as interrupted, and the process exits 0; the next start resumes it.
Exit status 1 when the process lost its scheduler lock (its store connection died).
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from adoptloop.errors import AdoptloopError, FatalSyncError
from adoptloop.pipeline.deliver import deliver_batches, lrs_client
from adoptloop.pipeline.run import (
    Environment,
    RunInterrupted,
    delivery_lease_seconds,
    run_pipeline,
)
from adoptloop.scheduler.health import HealthServer, NodeState, build_report, write_status_file
from adoptloop.scheduler.jobs import (
    JobSpec,
    build_jobs,
    latest_fire_time,
    missed_run,
    scheduled_key,
)
from adoptloop.scheduler.retention import run_purge
from adoptloop.store import locks
from adoptloop.store.claims import OutboxClaims
from adoptloop.store.db import StoreUnavailable

log = structlog.get_logger(__name__)

MISFIRE_GRACE_SECONDS = 6 * 3600  # a run that starts late (the process was busy) still runs
WORKER_RUN = "delivery-worker"  # `first_seen_run` of rejections found outside a run


class Service:
    def __init__(self, env: Environment, *, holder: str | None = None) -> None:
        self.env = env
        self.settings = env.settings
        self.schedule = env.settings.schedule
        self.jobs = build_jobs(env.settings)
        self.holder = holder or locks.node_id()
        self.stop = threading.Event()
        self.exit_code = 0
        self.node = NodeState(
            self.holder,
            started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            jobs=[job.describe() for job in self.jobs],
        )
        self._leadership = locks.store_lock(
            env.engine,
            locks.SCHEDULER,
            holder=self.holder,
            lease_seconds=self.schedule.lock_lease_seconds,
        )
        self._threads: list[threading.Thread] = []
        self._health: HealthServer | None = None
        self._status_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (or `stop` is set); returns the exit status."""
        _route_stdlib_logs()
        self._install_signal_handlers()
        structlog.contextvars.bind_contextvars(node=self.holder)
        log.info("serve starting", jobs=[job.describe() for job in self.jobs])
        try:
            self._start_health()
            self._start_workers()
            if self._wait_for_leadership():
                self._lead()
        finally:
            self._shutdown()
        log.info("serve stopped", exit_code=self.exit_code)
        return self.exit_code

    def request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            log.info(
                "stopping: the current batch finishes, then the run is checkpointed", reason=reason
            )
            self.node.role = "stopping"
            self.stop.set()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.request_stop(signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _shutdown(self) -> None:
        self.stop.set()
        self.node.role = "stopped"
        for thread in self._threads:
            thread.join()
        try:
            self._leadership.release()
        except StoreUnavailable as exc:
            log.warning("could not release the scheduler lock", error=str(exc))
        self._write_status()
        if self._health is not None:
            self._health.stop()

    # --- leadership and scheduling ------------------------------------------------------------

    def _wait_for_leadership(self) -> bool:
        announced = False
        while not self.stop.is_set():
            try:
                if self._leadership.try_acquire():
                    self.node.role = "leader"
                    log.info("leading: this process schedules the runs")
                    return True
            except StoreUnavailable as exc:
                log.warning("the store is unreachable; retrying", error=str(exc))
            if not announced:
                log.info("standby: another process schedules the runs; delivery workers run here")
                announced = True
            self.node.role = "standby"
            self._write_status()
            self.stop.wait(self.schedule.standby_poll_seconds)
        return False

    def _lead(self) -> None:
        scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        for job in self.jobs:
            scheduler.add_job(
                self._run_job, trigger=job.trigger(), args=[job], id=job.name, name=job.name
            )
        if self.schedule.catch_up:
            now = datetime.now(UTC)
            with self.env.engine.connect() as conn:
                missed = [(job, missed_run(conn, job, now)) for job in self.jobs]
            for job, fire in missed:
                if fire is not None:
                    log.info(
                        "catching up a missed run", job=job.name, scheduled_for=scheduled_key(fire)
                    )
                    scheduler.add_job(
                        self._run_job,
                        args=[job, fire],
                        id=f"catch-up:{job.name}",
                        name=f"catch-up:{job.name}",
                        misfire_grace_time=None,
                    )
        scheduler.start()
        self._note_next_runs(scheduler)
        heartbeat = max(
            0.2, min(self.schedule.standby_poll_seconds, self.schedule.lock_lease_seconds / 3)
        )
        self._write_status()
        while not self.stop.wait(heartbeat):
            try:
                kept = self._leadership.renew()
            except StoreUnavailable as exc:
                log.warning("could not renew the scheduler lock", error=str(exc))
                continue
            if not kept:
                log.error("lost the scheduler lock; stopping so that another process can lead")
                self.node.problems.append("this process lost the scheduler lock")
                self.exit_code = 75  # EX_TEMPFAIL: restart it; it stands by or leads
                self.request_stop("lost the scheduler lock")
                break
            self._note_next_runs(scheduler)
            self._write_status()
        scheduler.shutdown(wait=True)  # the running job stops at its next checkpoint

    def _run_job(self, job: JobSpec, fire: datetime | None = None) -> None:
        """One scheduled run, in the scheduler's worker thread, with its own log context."""
        structlog.contextvars.clear_contextvars()  # a pool thread: nothing is inherited
        if self.stop.is_set():
            return
        fire = fire or latest_fire_time(job.trigger(), datetime.now(UTC)) or datetime.now(UTC)
        key = scheduled_key(fire)
        structlog.contextvars.bind_contextvars(job=job.name, scheduled_for=key, node=self.holder)
        try:
            if job.kind == "retention":
                run_purge(self.env.engine, self.settings, scheduled_for=key, holder=self.holder)
            else:
                run_pipeline(
                    self.env,
                    pipeline=job.pipeline,
                    sources=job.sources,
                    scheduled_for=key,
                    stop=self.stop,
                    holder=self.holder,
                )
        except RunInterrupted:
            pass  # logged by run_pipeline; the next start resumes it
        except locks.RunInProgress as exc:
            log.info("skipped: another process is running", reason=str(exc))
        except StoreUnavailable as exc:
            log.warning("skipped: the store is unreachable", reason=str(exc))
        except AdoptloopError:
            pass  # logged by run_pipeline with its cause; recorded in `runs`
        except Exception:
            log.exception("job crashed")
        finally:
            self._write_status()
            structlog.contextvars.clear_contextvars()

    # --- delivery workers ---------------------------------------------------------------------

    def _start_workers(self) -> None:
        delivery = self.settings.delivery
        if delivery.target != "lrs" or delivery.lrs is None:
            return
        for index in range(self.schedule.delivery.workers):
            thread = threading.Thread(
                target=self._deliver_loop, args=(index,), name=f"deliver-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _deliver_loop(self, index: int) -> None:
        lrs = self.settings.delivery.lrs
        assert lrs is not None  # noqa: S101 - checked by _start_workers
        worker = f"{self.holder}/w{index}"
        structlog.contextvars.bind_contextvars(node=self.holder, worker=worker)
        claims = OutboxClaims(self.env.engine, worker, delivery_lease_seconds(self.settings))
        poll = self.schedule.delivery.poll_seconds
        with lrs_client(lrs, self.settings.xapi.version) as client:
            while not self.stop.is_set():
                busy = False
                try:
                    claims.free_dead_local_claims()
                    counts = deliver_batches(
                        claims, client, WORKER_RUN, batch_size=lrs.batch_size, stop=self.stop
                    )
                    busy = counts.batches > 0 and not counts.stopped_early
                    if counts.batches:
                        log.info("delivered", **counts.as_dict())
                except FatalSyncError as exc:
                    log.error("delivery failed", error=str(exc))  # noqa: TRY400 - the cause is the message
                except Exception:
                    log.exception("delivery worker error; retrying")
                if not busy:
                    self.stop.wait(poll)

    # --- status -------------------------------------------------------------------------------

    def _start_health(self) -> None:
        health = self.schedule.health
        if health.port is None:
            return
        self._health = HealthServer(health.host, health.port, self.report)
        self._health.start()
        self.node.health_url = self._health.url
        log.info("health endpoint listening", url=self._health.url)

    def report(self) -> dict[str, Any]:
        return build_report(self.env.engine, self.settings, node=self.node)

    def _note_next_runs(self, scheduler: Any) -> None:
        """Main thread only: a job thread asking the scheduler deadlocks with its shutdown."""
        next_runs = {
            job.id: job.next_run_time.isoformat() if job.next_run_time else None
            for job in scheduler.get_jobs()
        }
        for described in self.node.jobs:
            described["next_run"] = next_runs.get(described["name"])

    def _write_status(self) -> None:
        path = self.schedule.health.status_file
        if path is None:
            return
        try:
            report = self.report()
        except StoreUnavailable as exc:
            log.warning("could not build the status", error=str(exc))
            return
        with self._status_lock:
            write_status_file(path, report)


class _ToStructlog(logging.Handler):
    """APScheduler logs through the standard library: send its warnings to structlog (JSON)."""

    def emit(self, record: logging.LogRecord) -> None:
        extra: dict[str, Any] = {"exc_info": record.exc_info} if record.exc_info else {}
        structlog.get_logger(record.name).log(record.levelno, record.getMessage(), **extra)


def _route_stdlib_logs() -> None:
    logger = logging.getLogger("apscheduler")
    if not any(isinstance(h, _ToStructlog) for h in logger.handlers):
        logger.addHandler(_ToStructlog())
    logger.setLevel(logging.WARNING)
    logger.propagate = False
