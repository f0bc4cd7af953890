"""`file-completions` (LMS): one row per completion, the learner matched by the identity rules.

The file's cursor is its content hash: an unchanged drop is not even parsed, and a changed one
is re-read whole and upserted by record id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from pydantic import Field

from adoptloop.connectors.base import Connector, ConnectorConfig, StreamFields
from adoptloop.connectors.files.discover import describe
from adoptloop.connectors.files.preflight import check_stream
from adoptloop.connectors.files.reader import (
    Column,
    Columns,
    FileStream,
    Layout,
    SourceRow,
    person_ref,
    read_stream,
)
from adoptloop.connectors.values import BadValue, moment_not_after
from adoptloop.domain import Completion, DeletedKind, Item, Skipped, shown
from adoptloop.fields import IGNORE, StatusChoice
from adoptloop.mappings.identity import IdentityRule


class CompletionColumns(Columns):
    record_id: str = "record_id"
    user_id: str = "user_id"
    module_id: str = "module_id"
    module_title: str = "module_title"
    status: str = "status"
    completed_at: str = "completed_at"
    score: str = "score"


class CompletionsFileConfig(FileStream, ConnectorConfig):
    type: Literal["file-completions"]
    columns: CompletionColumns = CompletionColumns()
    identity: list[IdentityRule] = Field(
        default=[IdentityRule(attribute="user_email", person_field="email")],
        description="How an LMS user is matched to an HR record, tried in order",
    )
    statuses: dict[str, StatusChoice] = Field(
        default={"completed": "completed", "passed": "passed", "failed": "failed"},
        description="The LMS's status values (case-insensitive, trimmed) -> completed, passed, "
        "failed, or ignore (e.g. 'In Progress': ignore; the row is read and not used, not "
        "quarantined). A value not listed is a row defect (quarantined).",
    )


class CompletionsFileConnector(Connector[CompletionsFileConfig]):
    type_name = "file-completions"
    family = "lms"
    reads_local_files = True
    config_class = CompletionsFileConfig

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.identity

    def streams(self) -> Sequence[str]:
        return ("completions",)

    def layout(self) -> Layout:
        c = self.config.columns
        required = c.pick("record_id", "user_id", "module_id", "status", "completed_at")
        required += [Column(r.attribute, "identity") for r in self.config.identity]
        return Layout(
            where=f"sources.{self.name}",
            required=required,
            key_column=c.record_id,
            datetimes=(c.completed_at,),
            numbers=(c.score,),
        )

    def preflight(self) -> None:
        check_stream([(self.config, self.layout())], "completions", self.restored)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        return read_stream(
            stream, self.config, self.layout(), cursor, parse=self._completion, kind="completion"
        )

    def discover(self) -> list[StreamFields]:
        return [describe("completions", self.config, self.layout())]

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:
        snapshot = self.config.mode == "snapshot" and stream == "completions"
        return ("completion",) if snapshot else ()

    def _completion(self, row: SourceRow) -> Completion | Skipped:
        c = self.config.columns
        values = self.config.values
        statuses = {k.strip().lower(): v for k, v in self.config.statuses.items()}
        raw_status = row.require(c.status)
        status = statuses.get(raw_status.lower())
        if status is None:
            raise BadValue(
                f"{c.status}: {shown(raw_status)} is not one of {', '.join(self.config.statuses)} "
                "(map it under statuses:, to completed, passed, failed or ignore)"
            )
        if status == IGNORE:
            key = row.get(c.record_id) or f"line {row.line}"
            return Skipped("completions", key, f"{c.status} {raw_status!r} is ignored")
        score_text = row.get(c.score)
        score = values.parse_number(score_text, c.score) if score_text else None
        if score is not None and not 0 <= score <= 100:
            raise BadValue(f"{c.score}: {score:g} is outside 0..100")
        return Completion(
            source_record_id=row.require(c.record_id),
            learner=person_ref(self.system, row.require(c.user_id), row, self.config.identity),
            module_id=row.require(c.module_id),
            module_title=row.get(c.module_title) or None,
            status=status,
            completed_at=moment_not_after(
                values.parse_datetime(row.require(c.completed_at), c.completed_at),
                self.context.run_date,
                c.completed_at,
            ),
            score=score,
        )
