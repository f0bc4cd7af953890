"""The `vault-crm` connector: Vault CRM users, calls and survey coaching reports, read
incrementally, deletion-aware and within the Vault's burst limit.

Streams, in the order the pipeline reads them (users first, so every other stream's user
ids resolve): `users`, `calls`, `coaching_reports`. They yield the same domain records as the
`salesforce` connector's Veeva profile.

At its first read in a run (or at the pre-flight) the connector logs in, retrieves each
configured object's metadata (a missing field stops the run with a ConfigError naming its
config key) and freezes the upper bound of this run's windows at the Vault's time (the Date
header of its answers). When a Vault limit refuses a call it stops at the last checkpoint,
the remaining streams are skipped, and the next run resumes where this one stopped (exit 75).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import structlog

from adoptloop.connectors.base import Connector, ConnectorContext, StreamFields
from adoptloop.connectors.crm.vault.client import ApiLimitReached, VaultClient, VaultError
from adoptloop.connectors.crm.vault.config import VaultConfig
from adoptloop.connectors.crm.vault.records import CallsMapper, CoachingMapper, UsersMapper
from adoptloop.connectors.crm.vault.sync import StreamMapper, StreamSync
from adoptloop.connectors.rest import MalformedPage
from adoptloop.domain import DeletedKind, Item, Stopped
from adoptloop.errors import ConfigError, RetriableError
from adoptloop.http.retry import Sleep
from adoptloop.mappings.identity import IdentityRule

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def build_mappers(config: VaultConfig, context: ConnectorContext) -> list[StreamMapper]:
    mappers: list[StreamMapper] = [UsersMapper(config.users, context.name)]
    if config.calls is not None:
        mappers.append(CallsMapper(config.calls, context, config.timezone))
    if config.coaching_reports is not None:
        mappers.append(CoachingMapper(config.coaching_reports, context, config.timezone))
    return mappers


class VaultConnector(Connector[VaultConfig]):
    type_name = "vault-crm"
    family = "crm"
    config_class = VaultConfig

    def __init__(
        self,
        config: VaultConfig,
        context: ConnectorContext,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = _utcnow,
    ) -> None:
        super().__init__(config, context)
        self.mappers = {m.stream: m for m in build_mappers(config, context)}
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._client: VaultClient | None = None
        self._fields: dict[str, tuple[str, ...]] = {}
        self._upper: datetime | None = None
        self.stopped: ApiLimitReached | None = None

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.users.identity

    def streams(self) -> Sequence[str]:
        return tuple(self.mappers)

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:
        """A full read of a stream's first object lists its records completely (sync.py)."""
        kind = self.mappers[stream].kind if stream in self.mappers else None
        return () if kind is None else (kind,)

    @property
    def client(self) -> VaultClient:
        if self._client is None:
            self._client = VaultClient(
                self.config, source=self.name, transport=self._transport, sleep=self._sleep
            )
        return self._client

    # --- metadata --------------------------------------------------------------------------

    def _object_fields(self, object_name: str) -> tuple[str, ...] | None:
        """The object's field names; None when the Vault has no such object."""
        if object_name not in self._fields:
            path = f"{self.client.api}/metadata/vobjects/{object_name}"
            try:
                body = self.client.call("GET", path)
            except VaultError:
                return None
            found = body.get("object", {}).get("fields", [])
            self._fields[object_name] = tuple(
                sorted(str(f["name"]) for f in found if isinstance(f, dict) and f.get("name"))
            )
        return self._fields[object_name]

    def _wanted(self) -> dict[str, list[tuple[str, str | None]]]:
        wanted: dict[str, list[tuple[str, str | None]]] = {}
        for mapper in self.mappers.values():
            for object_name, names in mapper.wanted().items():
                wanted.setdefault(object_name, []).extend(names)
        return wanted

    def _describe(self) -> None:
        """Every configured object and field exists, or a ConfigError naming each that does not.
        Relationship paths (object_type__vr.api_name__v) are checked by the queries. An answer
        that is not Vault's (not JSON: a proxy or login page) is a RetriableError (exit 75)
        naming the call and the url setting, never exit 3 (which means credentials refused)."""
        try:
            self._check_fields()
        except MalformedPage as exc:
            raise self._not_vault(exc) from None

    def _not_vault(self, exc: MalformedPage) -> RetriableError:
        return RetriableError(
            f"source {self.name!r}: {self.config.url} did not answer like a Vault API "
            f"({exc}, at {exc.where}); check sources.{self.name}.url, or retry later"
        )

    def _check_fields(self) -> None:
        problems: list[str] = []
        for object_name, names in sorted(self._wanted().items()):
            available = self._object_fields(object_name)
            if available is None:
                problems.append(f"sources.{self.name}: Vault has no object {object_name!r}")
                continue
            for key, name in names:
                if name and "." not in name and name not in available:
                    problems.append(
                        f"sources.{self.name}.{key}: {object_name} has no field {name!r}"
                    )
        if problems:
            raise ConfigError("; ".join(problems), problems=problems)

    def _start(self) -> datetime:
        """Once per run: log in, check the configured fields, freeze the windows' upper bound."""
        if self._upper is None:
            self._describe()
            # the bound is the Vault's time (its Date header), not ours: a machine whose clock
            # runs ahead would skip the records modified in the difference
            now = self.client.server_time or self._clock()
            self._upper = now.astimezone(UTC).replace(microsecond=0)
            log.info("vault run started", source=self.name, upper=self._upper.isoformat())
        return self._upper

    def api_usage(self) -> dict[str, int] | None:
        """Calls, logins, Vault's delays and our burst-limit pauses in this run."""
        return None if self._client is None else self.client.stats.as_dict()

    def preflight(self) -> None:
        """Before any source commits: log in and check every configured object and field."""
        self._start()

    def check(self) -> None:
        """Log in and check every configured object and field: the ConfigError or AuthFailed a
        run would raise, for a few API calls."""
        self._describe()

    def discover(self) -> list[StreamFields]:
        """Each configured object's fields and which of them the mapping reads."""
        try:
            return self._discover()
        except MalformedPage as exc:
            raise self._not_vault(exc) from None

    def _discover(self) -> list[StreamFields]:
        found: list[StreamFields] = []
        for object_name, names in sorted(self._wanted().items()):
            configured = {n for _, n in names if n and "." not in n}
            available = self._object_fields(object_name) or ()
            found.append(
                StreamFields(
                    object_name,
                    f"{self.client.api}/metadata/vobjects/{object_name}",
                    available,
                    tuple(sorted(configured & set(available))),
                    tuple(sorted(configured - set(available))),
                )
            )
        coaching = self.config.coaching_reports
        if coaching is not None and found:
            # question ids and texts are data, not fields: items that look like fields and
            # that no object has are the ones to look at
            items = self.context.capabilities.spec.coaching_items
            every = {f for s in found for f in s.available}
            unmatched = tuple(sorted(i for i in items if i.endswith("__v") and i not in every))
            if unmatched:
                found[0] = replace(found[0], unmatched_items=unmatched)
        return found

    # --- reading ---------------------------------------------------------------------------

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        mapper = self.mappers.get(stream)
        if mapper is None:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        if self.stopped is not None:
            log.warning("skipped: a Vault limit stopped this run earlier", stream=stream)
            yield Stopped(stream, f"not read: {self.stopped}")
            return
        try:
            sync = StreamSync(self.client, mapper, self.config.sync, upper=self._start())
            yield from sync.run(cursor)
        except ApiLimitReached as exc:
            self.stopped = exc
            log.warning(
                "Vault limit reached; stopped at the last checkpoint, the next run resumes there",
                source=self.name,
                stream=stream,
                reason=str(exc),
            )
            yield Stopped(stream, f"{exc} ({self.client.stats.as_text()})")
        finally:
            log.info(
                "vault api use", source=self.name, stream=stream, usage=self.client.stats.as_text()
            )
