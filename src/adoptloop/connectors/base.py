"""The connector contract.

A connector is built from its own config class and reads one or more streams. `preflight`
(optional) refuses input that is unusable as configured before any source commits. `read` yields
domain records, `Rejected` items for records that cannot become one, and `Checkpoint` items
where everything yielded so far is complete: the pipeline commits at each checkpoint and
stores the cursor, so an interrupted sync resumes from the last committed checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from adoptloop.domain import Item, TranscriptRecord, WriteBackResult
from adoptloop.mappings.identity import IdentityRule

if TYPE_CHECKING:
    from adoptloop.mappings.capability_map import CapabilityMap

Family = Literal["hris", "lms", "crm"]
FAMILY_ORDER: tuple[Family, ...] = ("hris", "lms", "crm")


class ConnectorConfig(BaseModel):
    """Base of every connector's config; subclasses add `type: Literal[...]` and their fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    enabled: bool = True


C = TypeVar("C", bound=ConnectorConfig)


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector gets besides its config."""

    name: str  # the key under `sources:` in the YAML
    base_dir: Path  # the config file's folder; relative paths resolve against it
    capabilities: CapabilityMap  # which coaching items to read; capability names in comments
    run_date: date  # effective date for HR rows that carry none


class Connector(Generic[C]):
    """Subclass with `type_name`, `family`, `config_class`, `streams()` and `read()`."""

    type_name: ClassVar[str]
    family: ClassVar[Family]
    config_class: ClassVar[type[ConnectorConfig]]

    def __init__(self, config: C, context: ConnectorContext) -> None:
        self.config = config
        self.context = context

    @property
    def name(self) -> str:
        return self.context.name

    @property
    def system(self) -> str:
        """The identity system this connector's ids belong to (defaults to the source name)."""
        return self.context.name

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        """Rules that match this system's accounts to HR records, tried in order."""
        return ()

    def streams(self) -> Sequence[str]:
        raise NotImplementedError

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        """Yield the stream's records changed since `cursor`, ending with a Checkpoint."""
        raise NotImplementedError

    def preflight(self) -> None:
        """Raise ConfigError when the source's input is unusable as configured.

        A run calls this for every source before pulling any, so that an input nobody can read
        (a file in another encoding, a missing column, a wrong date format) stops the run with
        exit 2 before any source commits. File connectors read their files whole here; the
        default checks nothing (an API source finds out when it connects).
        """


# --- LMS transcript write-back ---------------------------------------------------------------


class SupportsWriteBack:
    """Mixin for LMS connectors that can put a record on the learner's transcript."""

    def write_back(
        self, records: Sequence[TranscriptRecord], *, dry_run: bool = False
    ) -> list[WriteBackResult]:
        """Write each record unless it is already there; `dry_run` only says what it would do."""
        raise NotImplementedError
