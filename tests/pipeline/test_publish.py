"""Publishing adoption to an LMS transcript: once per rep, capability and state, crash-safe."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import ClassVar, Literal

import pytest
from sqlalchemy import select

from adoptloop.adoption.compute import update_states
from adoptloop.connectors.base import Connector, ConnectorConfig, SupportsWriteBack
from adoptloop.connectors.registry import Registry
from adoptloop.domain import TranscriptRecord, WriteBackResult
from adoptloop.pipeline.publish import publish
from adoptloop.pipeline.run import Environment, run_pipeline
from adoptloop.settings.model import load_settings
from adoptloop.store import schema


class FakeLmsConfig(ConnectorConfig):
    type: Literal["fake-lms"]


class FakeLms(Connector[FakeLmsConfig], SupportsWriteBack):
    """An LMS transcript in memory; `crash_after_send` loses the answers of one call."""

    type_name = "fake-lms"
    family = "lms"
    config_class = FakeLmsConfig
    transcript: ClassVar[dict[str, TranscriptRecord]] = {}
    crash_after_send: ClassVar[bool] = False

    @property
    def system(self) -> str:
        return "lms"  # the LMS's user ids are the ones the completions source resolved

    def streams(self) -> Sequence[str]:
        return ()

    def write_back(
        self, records: Sequence[TranscriptRecord], *, dry_run: bool = False
    ) -> list[WriteBackResult]:
        results = []
        for record in records:
            if record.key in self.transcript:
                results.append(WriteBackResult(record.key, "already-present", record.key, "found"))
            elif dry_run:
                results.append(WriteBackResult(record.key, "would-write", None, record.title))
            else:
                self.transcript[record.key] = record
                results.append(WriteBackResult(record.key, "written", record.key, "created"))
        if self.crash_after_send and not dry_run:
            type(self).crash_after_send = False
            raise RuntimeError("killed between sending and recording")
        return results


def _environment(demo_config: Path, *, dry_run: bool = False) -> Environment:
    text = demo_config.read_text().replace(
        "  output_dir: state/out",
        "  output_dir: state/out\n  write_back: [transcript]\n"
        f"  write_back_dry_run: {str(dry_run).lower()}",
    )
    text = text.replace("\ndelivery:", "  transcript:\n    type: fake-lms\n\ndelivery:")
    demo_config.write_text(text)
    registry = Registry([*Registry.from_entry_points().types.values(), FakeLms])
    return Environment.open(load_settings(demo_config, registry), registry)


@pytest.fixture(autouse=True)
def _fresh_transcript() -> None:
    FakeLms.transcript = {}
    FakeLms.crash_after_send = False


def test_each_rep_capability_state_is_written_once_across_three_runs(demo_config: Path) -> None:
    env = _environment(demo_config)
    first = run_pipeline(env)
    written = first.counts["publish"]["transcript"]["written"]
    assert written == len(FakeLms.transcript) > 0
    assert all(r.title.startswith("Field-observed: ") for r in FakeLms.transcript.values())
    assert {r.state for r in FakeLms.transcript.values()} == {"adopted", "sustained"}
    for _ in range(2):
        again = run_pipeline(env)
        assert again.counts["publish"]["transcript"].get("written", 0) == 0
    assert len(FakeLms.transcript) == written
    with env.engine.connect() as conn:
        audited = conn.execute(select(schema.writebacks.c.key, schema.writebacks.c.status)).all()
    assert len(audited) == written
    assert {status for _, status in audited} == {"written"}


def test_a_crash_between_sending_and_recording_never_writes_twice(demo_config: Path) -> None:
    env = _environment(demo_config)
    run_pipeline(env, as_of=date(2026, 4, 30))  # fewer reps adopted by then
    before = dict(FakeLms.transcript)
    update_states(env.engine, env.capabilities, date(2026, 6, 30))  # more states reached since
    FakeLms.crash_after_send = True
    with pytest.raises(RuntimeError, match="killed"):
        publish(env.engine, env.connectors(), env.capabilities, ["transcript"])
    sent_not_recorded = set(FakeLms.transcript) - set(before)
    assert sent_not_recorded
    counts = publish(env.engine, env.connectors(), env.capabilities, ["transcript"])["transcript"]
    assert counts.get("already-present", 0) >= len(sent_not_recorded)
    assert len(FakeLms.transcript) == len(before) + len(sent_not_recorded) + counts.get(
        "written", 0
    )
    with env.engine.connect() as conn:
        keys = conn.execute(select(schema.writebacks.c.key)).scalars().all()
    assert len(keys) == len(set(keys)) == len(FakeLms.transcript)


def test_dry_run_writes_nothing_and_audits_would_write(demo_config: Path) -> None:
    env = _environment(demo_config, dry_run=True)
    result = run_pipeline(env)
    assert FakeLms.transcript == {}
    assert result.counts["publish"]["transcript"]["would-write"] > 0


def test_write_back_to_an_unknown_source_is_a_config_error(demo_config: Path) -> None:
    from adoptloop.errors import ConfigError

    text = demo_config.read_text().replace(
        "  output_dir: state/out", "  output_dir: state/out\n  write_back: [moodle]"
    )
    demo_config.write_text(text)
    with pytest.raises(ConfigError, match="no source named 'moodle'"):
        load_settings(demo_config, Registry.from_entry_points())
