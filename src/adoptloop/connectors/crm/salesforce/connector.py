"""The `salesforce` connector: Veeva CRM calls and coaching reports (or a generic org),
read incrementally, delete-aware and within the org's daily API budget.

Streams, in the order the pipeline reads them (users first, so that every other stream's
user ids resolve): `users`, then for the Veeva profile `calls`, `coaching_reports` and
`advanced_coaching_reports`, for the generic profile `visits` and `coaching_reports`.

At its first read in a run (or in the pre-flight) the connector logs in, checks every
configured object's fields (a missing field stops the run with a ConfigError naming it; what
an earlier run's describes found, handed over by `restore`, is re-used when Salesforce answers
304 Not Modified) and freezes the upper bound of this run's windows. When the API budget runs out it stops at the last checkpoint; the
remaining streams are skipped and the next run resumes where this one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import requests
import structlog

from adoptloop.connectors.base import Connector, ConnectorContext, StreamFields
from adoptloop.connectors.crm.salesforce.auth import Authenticator
from adoptloop.connectors.crm.salesforce.client import (
    BudgetExhausted,
    NotFound,
    SalesforceClient,
)
from adoptloop.connectors.crm.salesforce.config import (
    GenericProfile,
    SalesforceConfig,
    VeevaProfile,
)
from adoptloop.connectors.crm.salesforce.cursor import StreamState
from adoptloop.connectors.crm.salesforce.generic import VisitsMapper
from adoptloop.connectors.crm.salesforce.records import ReportsMapper, UsersMapper
from adoptloop.connectors.crm.salesforce.schema import ObjectSchema, Wanted, describe_all
from adoptloop.connectors.crm.salesforce.sync import StreamMapper, StreamSync
from adoptloop.connectors.crm.salesforce.veeva import AdvancedReportsMapper, CallsMapper
from adoptloop.domain import DeletedKind, Item, Stopped
from adoptloop.http.retry import Sleep
from adoptloop.mappings.identity import IdentityRule

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _newer(one: ObjectSchema, other: ObjectSchema) -> bool:
    return (one.checked_at or datetime.min.replace(tzinfo=UTC)) > (
        other.checked_at or datetime.min.replace(tzinfo=UTC)
    )


def build_mappers(config: SalesforceConfig, context: ConnectorContext) -> list[StreamMapper]:
    tz = config.timezone
    mappers: list[StreamMapper] = [UsersMapper(config.users, context.name)]
    profile = config.profile
    if isinstance(profile, VeevaProfile):
        if profile.calls is not None:
            mappers.append(CallsMapper(profile.calls, context, tz))
        if profile.coaching_reports is not None:
            mappers.append(ReportsMapper(profile.coaching_reports, context, tz))
        if profile.advanced_coaching_reports is not None:
            mappers.append(AdvancedReportsMapper(profile.advanced_coaching_reports, context, tz))
    elif isinstance(profile, GenericProfile):
        if profile.visits is not None:
            mappers.append(VisitsMapper(profile.visits, context, tz))
        if profile.coaching_reports is not None:
            mappers.append(ReportsMapper(profile.coaching_reports, context, tz))
    return mappers


class SalesforceConnector(Connector[SalesforceConfig]):
    type_name = "salesforce"
    family = "crm"
    config_class = SalesforceConfig

    def __init__(
        self,
        config: SalesforceConfig,
        context: ConnectorContext,
        *,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = _utcnow,
    ) -> None:
        super().__init__(config, context)
        self.mappers = {m.stream: m for m in build_mappers(config, context)}
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._client: SalesforceClient | None = None
        self._schemas: dict[str, ObjectSchema] = {}
        self._kept: dict[str, ObjectSchema] = {}  # describe results of earlier runs
        self._upper: datetime | None = None
        self.stopped: BudgetExhausted | None = None

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.users.identity

    def streams(self) -> Sequence[str]:
        return tuple(self.mappers)

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:
        """A full read of a stream's object lists its records completely (sync.py)."""
        kind = self.mappers[stream].kind if stream in self.mappers else None
        return () if kind is None else (kind,)

    @property
    def client(self) -> SalesforceClient:
        if self._client is None:
            session = self._session or requests.Session()
            self._client = SalesforceClient(
                Authenticator(
                    self.config.auth,
                    api_version=self.config.api_version,
                    session=session,
                    source=self.name,
                ),
                self.config.sync,
                api_version=self.config.api_version,
                session=session,
                sleep=self._sleep,
            )
        return self._client

    def _start(self) -> datetime:
        """Once per run: describe every configured object, freeze the windows' upper bound."""
        if self._upper is None:
            self._schemas = describe_all(
                self.client, self._wanted(), source=self.name, kept=self._kept
            )
            # the window's bound is the org's time (the describes' Date header), not ours: a
            # machine whose clock runs ahead would skip records modified in the difference
            now = self.client.server_time or self._clock()
            self._upper = now.astimezone(UTC).replace(microsecond=0)
            log.info("salesforce run started", upper=self._upper.isoformat())
        return self._upper

    def _wanted(self) -> Wanted:
        wanted = Wanted()
        for mapper in self.mappers.values():
            for sobject, names in mapper.wanted().items():
                wanted.add(sobject, names)
        return wanted

    def restore(self, cursors: Mapping[str, str]) -> None:
        """The schemas the streams' cursors kept (schema.py), the newest of each object:
        checked again with If-Modified-Since instead of describing every object."""
        for cursor in cursors.values():
            for sobject, data in StreamState.decode(cursor).schemas.items():
                kept = ObjectSchema.from_json(sobject, data) if isinstance(data, dict) else None
                known = self._kept.get(sobject)
                if kept is not None and (known is None or _newer(kept, known)):
                    self._kept[sobject] = kept

    def preflight(self) -> None:
        """Before any source commits: log in and describe every configured object (a missing
        field or object is a ConfigError then, not after the HR people were written); the
        describes and the run's upper bound are kept for the reads."""
        self._start()

    def check(self) -> None:
        """Log in and describe every configured object: a missing object or field, or no
        access, is the ConfigError (or AuthFailed) a run would raise, for a few API calls."""
        describe_all(self.client, self._wanted(), source=self.name)

    def discover(self) -> list[StreamFields]:
        """Each configured object's fields, which of them the mapping reads, and the rating
        items of the capability map (custom fields) no object has."""
        found: list[StreamFields] = []
        every_field: set[str] = set()
        for sobject, names in sorted(self._wanted().fields.items()):
            try:
                described = self.client.describe(sobject)
            except NotFound:
                found.append(StreamFields(sobject, sobject, (), (), tuple(sorted(names))))
                continue
            available = tuple(sorted(str(f["name"]) for f in described.get("fields", [])))
            every_field.update(available)
            top = {name.partition(".")[0] for name in names}
            found.append(
                StreamFields(
                    sobject,
                    sobject,
                    available,
                    tuple(sorted(top & set(available))),
                    tuple(sorted(n for n in names if "." not in n and n not in available)),
                )
            )
        items = self.context.capabilities.spec.coaching_items
        unmatched = tuple(sorted(i for i in items if i.endswith("__c") and i not in every_field))
        if unmatched and found:
            found[0] = replace(found[0], unmatched_items=unmatched)
        return found

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        mapper = self.mappers.get(stream)
        if mapper is None:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        if self.stopped is not None:
            log.warning("skipped: the API budget ran out earlier in this run", stream=stream)
            yield Stopped(stream, f"not read: {self.stopped}")
            return
        try:
            upper = self._start()
            sync = StreamSync(
                self.client,
                mapper,
                self.config.sync,
                upper=upper,
                schemas=self._schemas,
                sleep=self._sleep,
            )
            yield from sync.run(cursor)
        except BudgetExhausted as exc:
            self.stopped = exc
            log.warning(
                "salesforce API budget reached; stopped at the last checkpoint, the next run "
                "resumes there",
                stream=stream,
                used=exc.used,
                limit=exc.total,
                reason=str(exc),
            )
            yield Stopped(stream, str(exc))
