"""describe() every configured object at the start of a run and check the configured fields.

Every org customises Veeva CRM, so a field name in the config may not exist (or the
integration user may not see it: field-level security hides a field from describe()). The
check names every missing field at once, before anything is read, with how to fix it.

What a describe found for the configured fields is kept per object in the stream cursors
(`ObjectSchema.as_json`), with the org's time of the check. A later run asks Salesforce
whether anything changed since then: one describe-global call with If-Modified-Since, which
answers 304 Not Modified when no object's metadata (nor permissions, profiles or labels)
changed. Only when it did are the objects asked one by one, again with If-Modified-Since, and
an object that changed (or whose configured fields are not all in the kept schema) is
described and checked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from adoptloop.connectors.crm.records import parse_ts
from adoptloop.connectors.crm.salesforce.client import NotFound, SalesforceClient
from adoptloop.connectors.crm.salesforce.cursor import soql_ts
from adoptloop.errors import ConfigError

# fields every feed selects besides the configured ones (see query.Feed.select)
_BASE_FIELDS = ("Id", "SystemModstamp", "IsDeleted")


@dataclass(frozen=True)
class ObjectSchema:
    name: str
    types: Mapping[str, str]  # field -> Salesforce type (string, boolean, double, ...)
    relationships: Mapping[str, str]  # relationship name -> its lookup field
    replicateable: bool = True
    checked_at: datetime | None = None  # the org's time when describe last vouched for it
    key_prefix: str | None = None  # the first 3 characters of every Id of the object

    def has(self, path: str) -> bool:
        head, _, rest = path.partition(".")
        if not rest:
            return head in self.types
        return head in self.relationships  # deeper hops are checked by the query itself

    def kept(self, names: Iterable[str], checked_at: datetime | None) -> ObjectSchema:
        """Only what the configured fields need (their types, their relationships)."""
        heads = {n.partition(".")[0] for n in names if "." in n}
        tops = {n for n in names if "." not in n} | set(_BASE_FIELDS)
        return ObjectSchema(
            self.name,
            {k: v for k, v in self.types.items() if k in tops},
            {k: v for k, v in self.relationships.items() if k in heads},
            self.replicateable,
            checked_at,
            self.key_prefix,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "types": dict(sorted(self.types.items())),
            "relationships": dict(sorted(self.relationships.items())),
            "replicateable": self.replicateable,
            "checked_at": None if self.checked_at is None else soql_ts(self.checked_at),
            "key_prefix": self.key_prefix,
        }

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> ObjectSchema | None:
        """A kept schema; None when it is unreadable or kept by an earlier release without
        the key prefix (the object is described again)."""
        try:
            return cls(
                name,
                {str(k): str(v) for k, v in dict(data["types"]).items()},
                {str(k): str(v) for k, v in dict(data["relationships"]).items()},
                bool(data["replicateable"]),
                parse_ts(str(data["checked_at"])),
                None if data["key_prefix"] is None else str(data["key_prefix"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def from_describe(cls, name: str, described: Mapping[str, Any]) -> ObjectSchema:
        fields = described.get("fields", [])
        return cls(
            name=name,
            types={str(f["name"]): str(f.get("type") or "") for f in fields},
            relationships={
                str(f["relationshipName"]): str(f["name"])
                for f in fields
                if f.get("relationshipName")
            },
            replicateable=bool(described.get("replicateable", True)),
            key_prefix=str(described["keyPrefix"]) if described.get("keyPrefix") else None,
        )


@dataclass
class Wanted:
    """Configured fields per object, each with the config key that named it."""

    fields: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, sobject: str, names: Iterable[tuple[str, str | None]]) -> None:
        for key, name in names:
            if name:
                self.fields.setdefault(sobject, {}).setdefault(name, key)


def describe_all(
    client: SalesforceClient,
    wanted: Wanted,
    *,
    source: str,
    kept: Mapping[str, ObjectSchema] | None = None,
) -> dict[str, ObjectSchema]:
    """The schema of each configured object, from `kept` where Salesforce says (304) nothing
    changed since it was checked, else from a describe; raise one ConfigError listing every
    missing object or field."""
    usable = {
        sobject: schema
        for sobject, schema in (kept or {}).items()
        if sobject in wanted.fields
        and schema.checked_at is not None
        and all(schema.has(name) for name in wanted.fields[sobject])
    }
    schemas: dict[str, ObjectSchema] = {}
    if usable:
        since = min(s.checked_at for s in usable.values() if s.checked_at is not None)
        if client.changed_since("sobjects/", since, "describe global") is None:
            vouched = client.server_time or since
            schemas = {sobject: replace(s, checked_at=vouched) for sobject, s in usable.items()}
    problems: list[str] = []
    for sobject, names in wanted.fields.items():
        if sobject in schemas:
            continue
        hit = usable.get(sobject)
        try:
            if hit is not None and hit.checked_at is not None:
                described = client.changed_since(
                    f"sobjects/{sobject}/describe", hit.checked_at, f"describe {sobject}"
                )
            else:
                described = client.describe(sobject)
        except NotFound:
            problems.append(
                f"sources.{source}: object {sobject} does not exist in this org, or the "
                "integration user has no Read access to it"
            )
            continue
        now = client.server_time
        if described is None and hit is not None:  # 304: unchanged since it was checked
            schemas[sobject] = replace(hit, checked_at=now or hit.checked_at)
            continue
        schema = ObjectSchema.from_describe(sobject, described or {})
        for name, key in sorted(names.items()):
            if not schema.has(name):
                problems.append(
                    f"sources.{source}.{key}: {sobject}.{name} is not a field of {sobject} "
                    "(check the API name, and that the integration user's field-level security "
                    "lets it read the field)"
                )
        schemas[sobject] = schema.kept(names, now)
    if problems:
        raise ConfigError(
            f"{len(problems)} configured Salesforce field(s) missing: " + "; ".join(problems),
            problems=problems,
        )
    return schemas
