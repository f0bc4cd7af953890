"""describe() every configured object at the start of a run and check the configured fields.

Every org customises Veeva CRM, so a field name in the config may not exist (or the
integration user may not see it: field-level security hides a field from describe()). The
check names every missing field at once, before anything is read, with how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from adoptloop.connectors.crm.salesforce.client import NotFound, SalesforceClient
from adoptloop.errors import ConfigError


@dataclass(frozen=True)
class ObjectSchema:
    name: str
    types: Mapping[str, str]  # field -> Salesforce type (string, boolean, double, ...)
    relationships: Mapping[str, str]  # relationship name -> its lookup field
    replicateable: bool = True
    key_prefix: str | None = None  # the first 3 characters of every Id of the object

    def has(self, path: str) -> bool:
        head, _, rest = path.partition(".")
        if not rest:
            return head in self.types
        return head in self.relationships  # deeper hops are checked by the query itself


@dataclass
class Wanted:
    """Configured fields per object, each with the config key that named it."""

    fields: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, sobject: str, names: Iterable[tuple[str, str | None]]) -> None:
        for key, name in names:
            if name:
                self.fields.setdefault(sobject, {}).setdefault(name, key)


def describe_all(
    client: SalesforceClient, wanted: Wanted, *, source: str
) -> dict[str, ObjectSchema]:
    """Describe each object once; raise one ConfigError listing every missing object or field."""
    schemas: dict[str, ObjectSchema] = {}
    problems: list[str] = []
    for sobject, names in wanted.fields.items():
        try:
            described = client.describe(sobject)
        except NotFound:
            problems.append(
                f"sources.{source}: object {sobject} does not exist in this org, or the "
                "integration user has no Read access to it"
            )
            continue
        fields = described.get("fields", [])
        schema = ObjectSchema(
            name=sobject,
            types={str(f["name"]): str(f.get("type") or "") for f in fields},
            relationships={
                str(f["relationshipName"]): str(f["name"])
                for f in fields
                if f.get("relationshipName")
            },
            replicateable=bool(described.get("replicateable", True)),
            key_prefix=str(described["keyPrefix"]) if described.get("keyPrefix") else None,
        )
        schemas[sobject] = schema
        for name, key in sorted(names.items()):
            if not schema.has(name):
                problems.append(
                    f"sources.{source}.{key}: {sobject}.{name} is not a field of {sobject} "
                    "(check the API name, and that the integration user's field-level security "
                    "lets it read the field)"
                )
    if problems:
        raise ConfigError(
            f"{len(problems)} configured Salesforce field(s) missing: " + "; ".join(problems),
            problems=problems,
        )
    return schemas
