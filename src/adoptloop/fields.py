"""Config field types shared by settings/ and every connector's config class.

A neutral module: connectors declare their config with these types without knowing the
settings package (DESIGN.md, "What may import what").

- `Frozen`: the base of every config model (frozen, unknown keys refused).
- `Secret`: a SecretStr that must come from `${ENV_VAR}` or `${file:...}` (a `Reference` it
  expands, or a `Resolved` string), never a literal typed into the YAML. `Sensitive`: a plain
  string that may also be written as a reference. No other field expands `${...}`.
- `HttpURL`: an absolute http(s) URL.
- `TimeZone`: an IANA time zone name (e.g. Europe/Berlin).
- `ConfigPath` / `ExistingPath`: a path relative to the config file's folder (the latter must
  exist).
- `StatusChoice`: what an LMS status value becomes under a source's `statuses:` (completed,
  passed, failed, or `ignore`: the row is read and deliberately not used).
- `LRSSettings` (with `OAuth2Settings`): how to reach an LRS; one section shape for
  `delivery.lrs` and the `xapi-lrs` source's `lrs`, so the JSON Schema has one definition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    model_validator,
)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Resolved(str):
    """A string whose value came from `${ENV}` or `${file:...}`, never typed into the YAML."""

    __slots__ = ()


class Reference(str):
    """A YAML string with `${ENV}` or `${file:...}` in it, as written (not yet expanded).

    Only a field declared secret (`Secret`, `Sensitive`) expands it, by calling `resolve()`,
    which marks it used; settings/located.py refuses a reference anywhere else, so a label can
    never pull a key into a statement or a report. `resolve` raises ConfigError (which names
    the file, line and variable or file, never a value)."""

    def __new__(cls, text: str, *, where: str, loc: tuple[str | int, ...], resolver: Any) -> Self:
        made = super().__new__(cls, text)
        made.where = where
        made.loc = loc
        made.used = False
        made._resolver = resolver
        return made

    where: str
    loc: tuple[str | int, ...]
    used: bool
    _resolver: Any

    def resolve(self) -> Resolved:
        self.used = True
        return Resolved(self._resolver(str(self)))


def _require_reference(value: object) -> object:
    if isinstance(value, Reference):
        return value.resolve()
    if isinstance(value, str) and not isinstance(value, Resolved):
        raise ValueError(
            "a secret may not be written into the YAML; reference it as ${ENV_VAR} "
            "or ${file:/path/to/secret}"
        )
    return value


def _literal_or_reference(value: object) -> object:
    return value.resolve() if isinstance(value, Reference) else value


Secret = Annotated[SecretStr, BeforeValidator(_require_reference)]
# An identifier some teams keep out of the YAML too (a client id, an integration user): written
# as it is, or as a reference, which is expanded here like a secret's.
Sensitive = Annotated[str, BeforeValidator(_literal_or_reference)]


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


HttpURL = Annotated[str, AfterValidator(_check_url)]


def _check_time_zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)")
    return value


TimeZone = Annotated[str, AfterValidator(_check_time_zone)]


def config_dir(info: ValidationInfo) -> Path | None:
    """The config file's folder; None outside `validate_located` (e.g. a field default)."""
    base = (info.context or {}).get("base_dir")
    return None if base is None else Path(base)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    # Without a config file to be relative to (a default built at import time), a relative
    # path stays relative rather than being pinned to whatever the cwd was at import.
    value = value.expanduser()
    base = config_dir(info)
    return value if value.is_absolute() or base is None else (base / value).resolve()


def _existing_path(value: Path, info: ValidationInfo) -> Path:
    path = _resolve_path(value, info)
    if not path.exists():
        if path.is_symlink():
            raise ValueError(f"{path} is a symlink to nothing (a broken link or a loop)")
        raise ValueError(f"{path} does not exist")
    return path


# An LMS status value -> a completion status, or `ignore` (e.g. "In Progress": not a completion,
# not a defect; the connector yields a `domain.Skipped`). A value not mapped at all is a defect.
StatusChoice = Literal["completed", "passed", "failed", "ignore"]
IGNORE: Literal["ignore"] = "ignore"

ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]
ExistingPath = Annotated[Path, AfterValidator(_existing_path)]


class OAuth2Settings(Frozen):
    """OAuth 2.0 client credentials (RFC 6749 4.4): a bearer token fetched and refreshed."""

    token_url: HttpURL
    client_id: Sensitive = Field(min_length=1)
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
