"""The whole configuration: one YAML file -> frozen pydantic models.

Every error names the file, line and column, the field path and, for a typo, the closest
valid key:  `config/prod.yaml:14:7 sources.crm.auth.kye: unknown field (did you mean 'key')`.
Secrets come only from `${ENV_VAR}` or `${file:/path}`; a literal secret is refused.
Relative paths resolve against the config file's folder, so a config works from any cwd.
"""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union, cast

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from adoptloop.connectors.base import ConnectorConfig
from adoptloop.connectors.registry import Registry
from adoptloop.domain import Role
from adoptloop.errors import ConfigError
from adoptloop.fields import (
    ConfigPath,
    ExistingPath,
    Frozen,
    HttpURL,
    LRSSettings,
    Resolved,
    Secret,
    config_dir,
)
from adoptloop.mappings.roles import DEFAULT_ROLE_MAP, RoleMap, role_key
from adoptloop.settings.located import validate_located
from adoptloop.settings.schedule import RetentionSettings, ScheduleSettings
from adoptloop.settings.yaml import Located, load_located

ACTOR_KEY_MIN_BYTES = 16  # what adoptloop.xapi.ids.Pseudonymizer accepts


def _no_literal_password(value: object) -> object:
    if isinstance(value, str) and not isinstance(value, Resolved) and _url_password(value):
        raise ValueError(
            "a database password may not be written into store.url; leave it out and use "
            "store.password: ${ENV_VAR} (or PGPASSWORD / ~/.pgpass)"
        )
    return value


def _url_password(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None


class StoreSettings(Frozen):
    url: Annotated[str, BeforeValidator(_no_literal_password)] = Field(
        default="sqlite:///state/adoptloop.db",
        description="SQLAlchemy URL, e.g. postgresql+psycopg://adoptloop@db.internal/adoptloop. "
        "A relative SQLite path is relative to this config file.",
    )
    # Not dumped: a dump (and the schema's default of `store`) never holds the secret.
    password: Secret | None = Field(
        default=None,
        exclude=True,
        description="The database password as ${ENV_VAR} or ${file:...}; or use PGPASSWORD",
    )

    @model_validator(mode="after")
    def _password_is_a_secret(self) -> StoreSettings:
        # Either way the password ends up in `url` (to connect) and in `password`, where the
        # log redactor finds it like every other secret.
        in_url = _url_password(self.url)
        if self.password is not None and in_url is None:
            url = make_url(self.url).set(password=self.password.get_secret_value())
            object.__setattr__(self, "url", url.render_as_string(hide_password=False))
        elif in_url is not None and self.password is None:
            object.__setattr__(self, "password", SecretStr(in_url))
        return self

    @model_validator(mode="after")
    def _sqlite_relative_to_config(self, info: ValidationInfo) -> StoreSettings:
        prefix = "sqlite:///"
        base = config_dir(info)
        if (
            base is not None
            and self.url.startswith(prefix)
            and not self.url.startswith(prefix + "/")
        ):
            rest = self.url.removeprefix(prefix)
            if rest and rest != ":memory:":
                path = (base / rest).resolve()
                object.__setattr__(self, "url", prefix + str(path))
        return self


class ActorSettings(Frozen):
    home_page: HttpURL = Field(description="account.homePage of every actor, e.g. your HR system")
    key: Secret = Field(
        description="HMAC-SHA256 key that pseudonymises hr_id into account.name; at least 16 bytes"
    )

    @field_validator("key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr) -> SecretStr:
        # The pseudonymiser refuses a shorter key; say so here, before anything is written.
        if len(value.get_secret_value().encode("utf-8")) < ACTOR_KEY_MIN_BYTES:
            raise ValueError(f"the actor key must be at least {ACTOR_KEY_MIN_BYTES} bytes")
        return value


class XAPISettings(Frozen):
    namespace: HttpURL = Field(
        description="A domain you control; adoptloop's own verbs and activities live under it"
    )
    version: Literal["1.0.3", "2.0.0"] = "1.0.3"
    language: str = "en-US"
    actor: ActorSettings

    @model_validator(mode="after")
    def _strip_slash(self) -> XAPISettings:
        object.__setattr__(self, "namespace", self.namespace.rstrip("/"))
        return self


class DeliverySettings(Frozen):
    target: Literal["store", "lrs"] = Field(
        default="store",
        description="store: keep statements in the store (export with `statements export`); "
        "lrs: post them to the LRS below",
    )
    lrs: LRSSettings | None = None

    @model_validator(mode="after")
    def _lrs_needs_settings(self) -> DeliverySettings:
        if self.target == "lrs" and self.lrs is None:
            raise ValueError("target 'lrs' needs an `lrs:` section with at least `endpoint`")
        return self


class ReportSettings(Frozen):
    """How the HTML adoption report labels people and when it calls a source stale."""

    show_names: bool = Field(
        default=True,
        description="true: managers by their display name from HR (first and last name); "
        "false: by the actor pseudonym the statements use (account.name)",
    )
    stale_after_days: int = Field(
        default=2,
        ge=1,
        le=365,
        description="A source whose last complete read is older than this many days, or whose "
        "latest read stopped early, is stale: the report says so at the top, in red",
    )


class AdoptionSettings(Frozen):
    as_of: date | None = Field(
        default=None, description="Judge adoption as of this date (default: today, UTC)"
    )
    window_days: int = Field(default=90, ge=1, le=730)
    by: Literal["region", "team", "manager", "capability"] = "region"
    output_dir: ConfigPath = Field(
        default=Path("out"),
        validate_default=True,  # so the default, too, is relative to the config file
        description="Where `run` writes adoption.csv and adoption.html",
    )
    write_back: list[str] = Field(
        default=[],
        description="LMS sources to write 'Field-observed: <capability>' transcript records "
        "to when a rep's state reaches adopted or sustained (e.g. [moodle])",
    )
    write_back_dry_run: bool = Field(
        default=False, description="Only record what would be written (audited as would-write)"
    )
    publish_estimates: bool = Field(
        default=True,
        description="Send uplift per capability and leniency per coaching manager as xAPI "
        "statements each run (one per month, revised when the estimate changes); needs the "
        "`adoptloop[uplift]` extra: without it the run logs and skips them",
    )
    report: ReportSettings = ReportSettings()


class RolesSettings(Frozen):
    """Which HR values are field reps: only `rep` counts in adoption cohorts and coaching."""

    column: str | None = Field(
        default=None,
        min_length=1,
        description="The HR file column whose values `map` maps, e.g. a job title column "
        "(`job_title`); it replaces each file-people source's `columns.role`. Default: that "
        "`columns.role` (`role`)",
    )

    map: dict[str, Role] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_MAP),
        description="HR role or job title (as the HR source's `role` column or field holds it; "
        "compared trimmed and case-insensitively) -> rep, manager, director or other. Replaces "
        "the default (kam, msl -> rep; first_line_manager -> manager; regional_director -> "
        "director); rep, manager, director and other always map to themselves. A value not "
        "in the map is a validate error and its HR row is quarantined.",
    )

    @field_validator("map")
    @classmethod
    def _no_duplicate_titles(cls, value: dict[str, Role]) -> dict[str, Role]:
        seen: dict[str, str] = {}
        for title in value:
            key = role_key(title)
            if not key:
                raise ValueError("an empty title cannot be mapped")
            if key in seen:
                raise ValueError(
                    f"{title!r} and {seen[key]!r} are the same title (compared trimmed and "
                    "case-insensitively); keep one"
                )
            seen[key] = title
        return value

    def role_map(self) -> RoleMap:
        return RoleMap(self.map, self.column)


class Settings(Frozen):
    """The whole configuration. `sources` is replaced per registry by `settings_model()`."""

    _config_path: Path = PrivateAttr(default=Path("adoptloop.yaml"))

    @property
    def config_path(self) -> Path:
        """The YAML file these settings came from (relative paths resolve against its folder)."""
        return self._config_path

    store: StoreSettings = StoreSettings()
    xapi: XAPISettings
    capability_map: ExistingPath = Field(description="The capability map YAML file")
    sources: dict[str, ConnectorConfig] = Field(default_factory=dict)
    delivery: DeliverySettings = DeliverySettings()
    adoption: AdoptionSettings = AdoptionSettings()
    roles: RolesSettings = RolesSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="before")
    @classmethod
    def _validate_omitted_sections(cls, data: Any) -> Any:
        # A default section instance is not validated, so its paths would stay relative to
        # the cwd; validating an empty section instead resolves them against the config file.
        if isinstance(data, dict):
            return {"store": {}, "adoption": {}, "schedule": {}, **data}
        return data

    @model_validator(mode="after")
    def _scheduled_sources_exist(self) -> Settings:
        for name in self.schedule.sources:
            if name not in self.sources:
                close = difflib.get_close_matches(name, list(self.sources), n=1)
                hint = f" (did you mean '{close[0]}')" if close else ""
                raise ValueError(f"schedule.sources.{name}: no such source{hint}")
        days = self.retention.source_records_days
        if days is not None and days < self.adoption.window_days + 180:
            raise ValueError(
                f"retention.source_records_days {days} is shorter than the adoption window "
                f"plus the 180 days a sustained state needs ({self.adoption.window_days + 180})"
            )
        return self

    @model_validator(mode="after")
    def _write_back_sources_exist(self) -> Settings:
        for name in self.adoption.write_back:
            if name not in self.sources:
                known = ", ".join(sorted(self.sources)) or "none"
                raise ValueError(
                    f"adoption.write_back: no source named {name!r} (sources: {known})"
                )
        return self

    @model_validator(mode="after")
    def _at_least_one_source(self) -> Settings:
        if not any(c.enabled for c in self.sources.values()):
            raise ValueError("configure at least one enabled source under `sources:`")
        return self


def settings_model(registry: Registry) -> type[Settings]:
    """The Settings model whose `sources` accept exactly the registry's connector configs."""
    classes = registry.config_classes()
    if not classes:
        raise ConfigError("no connectors are installed (entry-point group adoptloop.connectors)")
    union: Any = (
        classes[0]
        if len(classes) == 1
        else Annotated[Union[tuple(classes)], Field(discriminator="type")]  # noqa: UP007
    )
    model = create_model(
        "Settings",
        __base__=Settings,
        sources=(dict[str, union], Field(default_factory=dict)),
    )
    return cast(type[Settings], model)


def load_settings(path: Path, registry: Registry) -> Settings:
    return _validated(load_located(path), registry, path)


def _validated(located: Located, registry: Registry, path: Path) -> Settings:
    settings = validate_located(settings_model(registry), located)
    settings._config_path = path.resolve()
    return settings


def load_with_connectors(path: Path) -> tuple[Settings, Registry]:
    """The settings and a registry of the connector types they configure: only those entry
    points are loaded (a run imports no connector it does not use; a nightly incremental run
    at 10,000 reps spent ~45 ms importing the others). A configuration that does not validate
    so is loaded again against every installed connector, and its problems are reported from
    that, exactly as `load_settings` with the whole registry reports them."""
    located = load_located(path)
    sources = located.data.get("sources") if isinstance(located.data, dict) else None
    types = (
        {c.get("type") for c in sources.values() if isinstance(c, dict)}
        if isinstance(sources, dict)
        else set()
    )
    if types and all(isinstance(t, str) for t in types):
        registry = Registry.from_entry_points(cast(set[str], types))
        try:
            return _validated(located, registry, path), registry
        except ConfigError:
            pass  # reported below, with every connector
    registry = Registry.from_entry_points()
    return _validated(located, registry, path), registry
