"""How a run ends, honestly: done (0), done but data over a limit needs a person (65), or
stopped early with the rest to come next run (75).

The judgement reads the sources' latest reads (store/source_reads.py), not only this run's
counts: a source whose last file was mostly refused stays over its limit until a better file
arrives, even on nights the unchanged file is not read again. `status --check` asks the same
question, so the run's exit code and the monitor never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from adoptloop.store.source_reads import SourceRead

EXIT_CODES: Final = {"succeeded": 0, "skipped": 0, "attention": 65, "stopped": 75}


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | attention | stopped
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def source_problems(reads: Mapping[str, SourceRead], limits: Mapping[str, float]) -> list[str]:
    """One line per enabled source (`limits`: source -> max_rejected_share) whose latest read
    quarantined more than its share, whose snapshot deletions are held back (it shrank), or
    that stopped early and has not read to the end since."""
    problems: list[str] = []
    for source, limit in sorted(limits.items()):
        read = reads.get(source)
        if read is None:
            continue
        if read.lines and read.rejected_share > limit:
            problems.append(
                f"source {source}: {read.quarantined:,} of {read.lines:,} data lines "
                f"({read.rejected_share:.1%}) were quarantined, over its max_rejected_share "
                f"{limit:.0%}; the good rows were used. See `adoptloop quarantine list "
                f"--source {source}`, fix the export, or raise sources.{source}.max_rejected_share"
            )
        if read.held_reason is not None:
            problems.append(f"source {source}: {read.held_reason}")
        if read.stopped_reason is not None:
            problems.append(
                f"source {source} stopped early ({read.stopped_reason}); the next run resumes it"
            )
    return problems


def judge(
    reads: Mapping[str, SourceRead], limits: Mapping[str, float], stopped: Mapping[str, str]
) -> Outcome:
    """The outcome of a run whose stages all finished; `stopped`: sources this run stopped."""
    problems = source_problems(reads, limits)
    if stopped:
        return Outcome("stopped", problems)
    return Outcome("attention" if problems else "succeeded", problems)
