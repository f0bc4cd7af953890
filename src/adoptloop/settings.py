"""Configuration: one YAML file -> frozen pydantic models.

Every error names the file, line and column, the field path and, for a typo, the closest
valid key:  `config/prod.yaml:14:7 sources.crm.auth.kye: unknown field (did you mean 'key')`.
Secrets come only from `${ENV_VAR}` or `${file:/path}`; a literal secret is refused.
Relative paths resolve against the config file's folder, so a config works from any cwd.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from adoptloop.connectors.base import ConnectorConfig
from adoptloop.connectors.registry import Registry
from adoptloop.errors import ConfigError
from adoptloop.yamlsource import Loc, Located, Resolved, load_located

M = TypeVar("M", bound=BaseModel)

ACTOR_KEY_MIN_BYTES = 16  # what adoptloop.xapi.ids.Pseudonymizer accepts


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- field types ---------------------------------------------------------------------------


def _require_reference(value: object) -> object:
    if isinstance(value, str) and not isinstance(value, Resolved):
        raise ValueError(
            "a secret may not be written into the YAML; reference it as ${ENV_VAR} "
            "or ${file:/path/to/secret}"
        )
    return value


Secret = Annotated[SecretStr, BeforeValidator(_require_reference)]


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


HttpURL = Annotated[str, AfterValidator(_check_url)]


def _base_dir(info: ValidationInfo) -> Path | None:
    """The config file's folder; None outside `validate_located` (e.g. a field default)."""
    base = (info.context or {}).get("base_dir")
    return None if base is None else Path(base)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    # Without a config file to be relative to (a default built at import time), a relative
    # path stays relative rather than being pinned to whatever the cwd was at import.
    value = value.expanduser()
    base = _base_dir(info)
    return value if value.is_absolute() or base is None else (base / value).resolve()


def _existing_path(value: Path, info: ValidationInfo) -> Path:
    path = _resolve_path(value, info)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    return path


ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]
ExistingPath = Annotated[Path, AfterValidator(_existing_path)]


# --- sections ------------------------------------------------------------------------------


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
        base = _base_dir(info)
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


class OAuth2Settings(Frozen):
    """OAuth 2.0 client credentials (RFC 6749 4.4): a bearer token fetched and refreshed."""

    token_url: HttpURL
    client_id: str = Field(min_length=1)
    client_secret: Secret
    scope: str | None = None


class LRSSettings(Frozen):
    endpoint: HttpURL = Field(description="The LRS's xAPI base, e.g. https://lrs.example.com/xAPI/")
    username: Secret | None = Field(default=None, description="Basic auth: the LRS key")
    password: Secret | None = Field(default=None, description="Basic auth: the LRS secret")
    oauth2: OAuth2Settings | None = Field(
        default=None, description="Instead of basic auth: OAuth 2.0 client credentials"
    )
    batch_size: int = Field(default=500, ge=1, le=1000)
    concurrency: int = Field(
        default=2, ge=1, le=16, description="Batches in flight at once (one thread each)"
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retry_seconds: float = Field(
        default=600.0, gt=0, description="Give up retrying after this long; the rest stays queued"
    )
    verify_tls: bool = True

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> LRSSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password for basic auth, or neither")
        if self.oauth2 is not None and self.username is not None:
            raise ValueError("use basic auth (username/password) or oauth2, not both")
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


def _check_cron(value: str) -> str:
    # The full parse is APScheduler's, at `serve` start (scheduler/jobs.py); this catches the
    # common mistakes where they are written.
    fields = value.split()
    if len(fields) not in (5, 6) or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise ValueError(
            f"{value!r} is not a crontab expression: 5 fields (minute hour day month "
            "day-of-week), or 6 with a leading seconds field"
        )
    return " ".join(fields)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return value


_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,#-]+")
Cron = Annotated[str, AfterValidator(_check_cron)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]


class SourceSchedule(Frozen):
    """A source pulled on its own schedule (then translate, deliver, adoption, as every run)."""

    cron: Cron | None = Field(default=None, description="Its own crontab; default: the nightly")
    timezone: TimeZone | None = Field(default=None, description="Default: schedule.timezone")
    stale_after_hours: float | None = Field(
        default=None, gt=0, description="Default: schedule.health.stale_after_hours"
    )


class WorkerSettings(Frozen):
    workers: int = Field(
        default=1, ge=0, le=16, description="Delivery workers per `serve` process (0: none)"
    )
    poll_seconds: float = Field(default=30.0, gt=0, description="How often an idle worker looks")
    lease_seconds: float | None = Field(
        default=None,
        gt=0,
        description="How long a claimed outbox row is reserved; after it, another worker may "
        "claim it (default: delivery.lrs.max_retry_seconds + 2 * timeout_seconds + 60)",
    )


class HealthSettings(Frozen):
    status_file: ConfigPath | None = Field(
        default=Path("state/status.json"),
        validate_default=True,  # relative to the config file
        description="JSON status written by `serve` for monitors (null: none)",
    )
    host: str = Field(default="127.0.0.1", description="Where the health endpoint listens")
    port: int | None = Field(
        default=None, ge=0, le=65535, description="Health endpoint port (null: no endpoint)"
    )
    stale_after_hours: float = Field(
        default=36.0, gt=0, description="A source not pulled for this long is unhealthy"
    )


class ScheduleSettings(Frozen):
    """`adoptloop serve`: when the pipeline runs, and how the processes share the work."""

    cron: Cron = Field(default="0 2 * * *", description="When the nightly run starts (crontab)")
    timezone: TimeZone = Field(default="UTC", description="The time zone of every cron here")
    catch_up: bool = Field(
        default=True,
        description="At start, run once when the last scheduled run did not succeed (missed "
        "while down, interrupted or failed)",
    )
    sources: dict[str, SourceSchedule] = Field(
        default_factory=dict, description="Per-source overrides, keyed by source name"
    )
    standby_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often a standby `serve` tries to take over"
    )
    lock_lease_seconds: float = Field(
        default=60.0,
        ge=1,
        description="SQLite: a lock whose holder stopped renewing it is free after this long "
        "(PostgreSQL uses advisory locks, released when the holder's connection ends)",
    )
    delivery: WorkerSettings = WorkerSettings()
    health: HealthSettings = HealthSettings()

    @model_validator(mode="before")
    @classmethod
    def _validate_omitted_sections(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {"health": {}, **data}
        return data


class RetentionSettings(Frozen):
    """How long each class of data is kept; purged by `serve` on `cron` or `retention purge`."""

    source_records_days: int | None = Field(
        default=None,
        ge=1,
        description="Completions, coaching visits and ratings, development actions, calls and "
        "superseded or terminated HR rows older than this (null: kept)",
    )
    statement_archive_days: int | None = Field(
        default=None,
        ge=1,
        description="Statements in the store older than this; with an LRS only delivered or "
        "rejected ones (null: kept)",
    )
    quarantine_days: int | None = Field(
        default=180, ge=1, description="Quarantine entries not seen again for this long"
    )
    run_log_days: int | None = Field(
        default=400, ge=1, description="Run history (the last run of each job is always kept)"
    )
    cron: Cron = Field(default="30 3 * * *", description="When `serve` purges (schedule.timezone)")


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
    located = load_located(path)
    settings = validate_located(settings_model(registry), located)
    settings._config_path = path.resolve()
    return settings


# --- located validation errors -------------------------------------------------------------


def validate_located(model: type[M], located: Located) -> M:
    """Validate YAML data against `model`; errors become one located line each."""
    try:
        return model.model_validate(located.data, context={"base_dir": located.path.parent})
    except ValidationError as exc:
        errors = exc.errors()
        # `namspace: ...` is reported as unknown (did you mean 'namespace'); the matching
        # "namespace: required field is missing" says the same thing again, so drop it.
        suggested = {_typo_target(e, model, located) for e in errors} - {None}
        problems = [
            _describe(error, model, located)
            for error in errors
            if not (
                error["type"] == "missing"
                and _data_loc(tuple(error["loc"]), located.data) in suggested
            )
        ]
        raise ConfigError(problems[0], problems=problems) from None


def _suggestion(model: type[BaseModel], data_loc: Loc, data: Any) -> tuple[str | None, list[str]]:
    """For an unknown key at `data_loc`: the closest valid key, and all valid keys there."""
    known = _known_fields(model, data_loc[:-1], data)
    close = difflib.get_close_matches(str(data_loc[-1]), known, n=1, cutoff=0.6)
    return (close[0] if close else None), known


def _typo_target(error: Mapping[str, Any], model: type[BaseModel], located: Located) -> Loc | None:
    if error["type"] != "extra_forbidden":
        return None
    data_loc = _data_loc(tuple(error["loc"]), located.data)
    close, _ = _suggestion(model, data_loc, located.data)
    return None if close is None else (*data_loc[:-1], close)


def _describe(error: Mapping[str, Any], model: type[BaseModel], located: Located) -> str:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, "type")  # the discriminator is what is wrong: point at it
    data_loc = _data_loc(loc, located.data)
    dotted = ".".join(str(p) for p in data_loc) or "(top level)"
    if kind == "extra_forbidden":
        close, known = _suggestion(model, data_loc, located.data)
        hint = f" (did you mean '{close}')" if close else ""
        if not close and known:
            hint = f" (valid here: {', '.join(sorted(known))})"
        message = f"unknown field{hint}"
    elif kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        tag = str(ctx.get("tag", ""))
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        similar = difflib.get_close_matches(tag, tags, n=1, cutoff=0.6)
        hint = f"did you mean '{similar[0]}'; " if similar else ""
        installed = ", ".join(f"'{t}'" for t in tags)
        message = f"unknown connector type '{tag}' ({hint}installed: {installed})"
    elif kind == "missing":
        message = "required field is missing"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    return f"{located.where(data_loc)} {dotted}: {message}"


def _data_loc(loc: Loc, data: Any) -> Loc:
    """Drop pydantic's union-tag parts (e.g. 'file-people') that are not keys of the data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = cast(Any, node)[part]
        elif isinstance(node, dict | list):
            # a tag pydantic inserted, or a key that is missing: keep a missing key, skip tags
            if not (isinstance(node, dict) and node.get("type") == part):
                out.append(part)
                node = None
        else:
            out.append(part)
            node = None
    return tuple(out)


def _known_fields(model: type[BaseModel], loc: Loc, data: Any) -> list[str]:
    """Field names valid at `loc` (walking models, dicts and connector unions)."""
    current: Any = model
    node = data
    for part in loc:
        node = node.get(part) if isinstance(node, dict) else None
        current = _child_type(current, part, node)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name, f in current.model_fields.items() if not f.exclude]
    return []


def _child_type(current: Any, part: str | int, node: Any) -> Any:
    if isinstance(current, type) and issubclass(current, BaseModel):
        field = current.model_fields.get(str(part))
        return _unwrap(field.annotation, node) if field else None
    origin = getattr(current, "__origin__", None)
    if origin in (dict, list):
        return _unwrap(current.__args__[-1], node)
    return None


def _unwrap(annotation: Any, node: Any) -> Any:
    """Reduce Optional/Annotated/union-of-configs to the one type that applies to `node`."""
    while getattr(annotation, "__metadata__", None) is not None:
        annotation = annotation.__origin__
    args = getattr(annotation, "__args__", None)
    if args and getattr(annotation, "__origin__", None) not in (dict, list):
        candidates = [a for a in args if a is not type(None)]
        for candidate in candidates:
            type_field = getattr(candidate, "model_fields", {}).get("type")
            if isinstance(node, dict) and type_field is not None:
                allowed = getattr(type_field.annotation, "__args__", ())
                if node.get("type") in allowed:
                    return candidate
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        return models[0] if len(models) == 1 else None
    return annotation
