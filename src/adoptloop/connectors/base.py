"""The connector contract.

A connector is built from its own config class and reads one or more streams. `preflight`
(optional) refuses input that is unusable as configured before any source commits. `read` yields
domain records, `Rejected` items for records that cannot become one, and `Checkpoint` items
where everything yielded so far is complete: the pipeline commits at each checkpoint and
stores the cursor, so an interrupted sync resumes from the last committed checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from adoptloop.domain import DeletedKind, Item, TranscriptRecord, WriteBackResult
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
    max_rejected_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="A read that quarantines more than this share of its data lines ends the "
        "run with exit 65 (its good rows are used) and fails `status --check`",
    )


C = TypeVar("C", bound=ConnectorConfig)


@dataclass(frozen=True)
class StreamFields:
    """`adoptloop discover`: one stream's (or object's, or file's) columns or fields."""

    stream: str
    where: str  # the file, object or endpoint they were read from
    available: tuple[str, ...]  # what the source has
    used: tuple[str, ...]  # of those, what the mapping reads
    missing: tuple[str, ...] = ()  # what the mapping names and the source lacks
    unmatched_items: tuple[str, ...] = ()  # capability-map items that match nothing here


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector gets besides its config."""

    name: str  # the key under `sources:` in the YAML
    base_dir: Path  # the config file's folder; relative paths resolve against it
    capabilities: CapabilityMap  # which coaching items to read; capability names in comments
    run_date: date  # effective date for HR rows that carry none
    # the HR files' column the roles map reads (settings `roles.column`, e.g. a job title
    # column); None: each HR file's own `columns.role`
    role_column: str | None = None


class Connector(Generic[C]):
    """Subclass with `type_name`, `family`, `config_class`, `streams()` and `read()`."""

    type_name: ClassVar[str]
    family: ClassVar[Family]
    # its input is local files: `validate` reads them (a remote source is reached by `check`)
    reads_local_files: ClassVar[bool] = False
    config_class: ClassVar[type[ConnectorConfig]]

    def __init__(self, config: C, context: ConnectorContext) -> None:
        self.config = config
        self.context = context
        self.restored: Mapping[str, str] = {}  # the streams' cursors, once `restore` ran

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

    def restore(self, cursors: Mapping[str, str]) -> None:
        """Before the pre-flight, a run hands over the cursors this source's streams last
        committed (stream -> cursor), for what a connector keeps across runs beyond each
        stream's position (the Salesforce connector's describe cache; the file connectors'
        pre-flight, which does not check a file its stream's cursor says is unchanged). The
        default keeps them as `restored`.
        """
        self.restored = dict(cursors)

    def preflight(self) -> None:
        """Raise ConfigError when the source's input is unusable as configured.

        A run calls this for every source before pulling any, so that an input nobody can read
        (a file in another encoding, a missing column, a wrong date format) stops the run with
        exit 2 before any source commits. File connectors read their files whole here; the
        default checks nothing (an API source finds out when it connects).
        """

    def check(self) -> None:
        """Reach the source and prove the configuration fits it; raise what a run would
        (ConfigError, AuthFailed, RetriableError). The default runs the pre-flight, then reads
        the first item of each stream from the beginning and stops; connectors override it
        with something cheaper (a login and a describe; a file's pre-flight)."""
        self.preflight()
        for stream in self.streams():
            items = iter(self.read(stream, None))
            try:
                next(items, None)
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()

    def api_usage(self) -> Mapping[str, int] | None:
        """This run's use of the vendor's API (calls, delays, pauses), kept with the run's
        counts and shown by `status`; None (the default) when the connector does not count it."""
        return None

    def discover(self) -> list[StreamFields]:
        """What each stream offers (columns, fields) and which of it the mapping reads; empty
        when the connector cannot list its fields."""
        return []

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:  # noqa: ARG002
        """The kinds of record a whole read of `stream` lists completely (a snapshot export):
        after a `Snapshot` item, the stored ones of these kinds it did not name are deleted.
        Empty (the default): the stream says what changed, and deletions come as `Deleted`."""
        return ()


# --- LMS transcript write-back ---------------------------------------------------------------


class SupportsWriteBack:
    """Mixin for LMS connectors that can put a record on the learner's transcript."""

    def write_back(
        self, records: Sequence[TranscriptRecord], *, dry_run: bool = False
    ) -> list[WriteBackResult]:
        """Write each record unless it is already there; `dry_run` only says what it would do."""
        raise NotImplementedError
