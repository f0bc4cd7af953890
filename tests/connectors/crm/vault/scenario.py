"""A small Vault CRM org (users, calls, ride-alongs, survey coaching reports) in the fake
Vault, the HR rows it matches, and the real pipeline (pull -> SQLite store -> translate)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, select

from adoptloop.connectors.base import Connector, ConnectorContext
from adoptloop.connectors.crm.vault.config import VaultConfig
from adoptloop.connectors.crm.vault.connector import VaultConnector
from adoptloop.connectors.files.people import PeopleFileConfig, PeopleFileConnector
from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile
from adoptloop.mappings.translate import TranslateContext
from adoptloop.pipeline.pull import PullStage
from adoptloop.pipeline.translate import TranslateStage
from adoptloop.store import runs, schema
from adoptloop.store.db import open_store
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace
from tests.connectors.crm.salesforce.scenario import write_people
from tests.connectors.crm.vault.fake_vault import PASSWORD, URL, USERNAME, VERSION, FakeVault, stamp

SOURCE = "crm"
QUESTION_OPENING = "V0Q000000OPEN01"  # mapped by question id
QUESTION_CLOSING_TEXT = "Closing: rating"  # mapped by question text
COACHING_TYPE = "OOT000000000123"

USER_FIELDS = {"name__v", "email__sys", "federated_id__sys", "manager__sys", "status__v"}
CALL_FIELDS = {
    "ownerid__v", "call_date__v", "call2_status__v", "call_channel__v", "call_type__v",
    "parent_call__v", "attendee_type__v", "user__v", "account__v",
}  # fmt: skip
TARGET_FIELDS = {
    "object_type__v", "coach__v", "employee__v", "report_status__v", "submitted_datetime__v",
    "start_date__v",
}  # fmt: skip
RESPONSE_FIELDS = {
    "survey_target__v", "survey_question__v", "question_text__v", "number__v",
    "answer_choice__v", "text__v",
}  # fmt: skip


def capability_spec(opening: str = QUESTION_OPENING) -> dict[str, Any]:
    """The capability map file's content; `opening`: the item that rates opening (the
    question id, or the question text)."""
    five = {"scale": "five-point"}
    return {
        "scales": {"five-point": {"min": 1, "max": 5}},
        "capabilities": [
            {"id": "opening", "name": "Opening the call", "threshold": 0.75},
            {"id": "closing", "name": "Closing with a commitment", "threshold": 0.75},
        ],
        "coaching_items": {
            opening: {"capability": "opening", **five},
            QUESTION_CLOSING_TEXT: {"capability": "closing", **five},
        },
    }


def capability_map(opening: str = QUESTION_OPENING) -> CapabilityMap:
    return CapabilityMap(CapabilityMapFile.model_validate(capability_spec(opening)))


@dataclass
class Org:
    vault: FakeVault
    manager: str = "4702"
    reps: tuple[str, ...] = ("4711", "4712", "4713")

    def call(self, rep: str, day: date, *, status: str = "submitted__v") -> str:
        return self.vault.insert(
            "call2__v",
            "V0C",
            ownerid__v=rep,
            call_date__v=day.isoformat(),
            call2_status__v=[status],
            call_channel__v=["in_person__v"],
            account__v="V0A000000001234",
        )

    def ride_along(self, parent: str) -> str:
        record = self.vault.tables["call2__v"][parent]
        return self.vault.insert(
            "call2__v",
            "V0C",
            ownerid__v=record["ownerid__v"],
            parent_call__v=parent,
            attendee_type__v=["user__v"],
            user__v=self.manager,
            call2_status__v=record["call2_status__v"],
            call_date__v=record["call_date__v"],
        )

    def report(
        self,
        rep: str,
        submitted: datetime,
        *,
        opening: int | None = 4,
        closing: str | None = "3",
        status: str = "completed__v",
        object_type: str = COACHING_TYPE,
        record_id: str | None = None,
    ) -> str:
        target = self.vault.insert(
            "survey_target__v",
            "V0T",
            id=record_id,
            object_type__v=object_type,
            survey__v="V0S000000000101",
            coach__v=self.manager,
            employee__v=rep,
            report_status__v=[status],
            submitted_datetime__v=stamp(submitted),
        )
        if opening is not None:
            self.answer(target, question=QUESTION_OPENING, text="Opening", number=opening)
        if closing is not None:
            self.answer(
                target, question="V0Q000000CLOS01", text=QUESTION_CLOSING_TEXT, choice=closing
            )
        return target

    def answer(
        self,
        target: str,
        *,
        question: str,
        text: str,
        number: int | None = None,
        choice: str | None = None,
    ) -> str:
        return self.vault.insert(
            "question_response__v",
            "V0R",
            survey_target__v=target,
            survey_question__v=question,
            question_text__v=text,
            number__v=number,
            answer_choice__v=[choice] if choice else None,
        )

    def answers(self, target: str) -> list[str]:
        rows = self.vault.tables["question_response__v"].values()
        return [r["id"] for r in rows if r["survey_target__v"] == target]


def seed(vault: FakeVault) -> Org:
    org = Org(vault)
    vault.schema.update(
        {
            "user__sys": {"id", "modified_date__v", *USER_FIELDS},
            "call2__v": {"id", "modified_date__v", *CALL_FIELDS},
            "survey_target__v": {"id", "modified_date__v", *TARGET_FIELDS},
            "question_response__v": {"id", "modified_date__v", *RESPONSE_FIELDS},
        }
    )
    vault.tables["object_type__v"] = {
        COACHING_TYPE: {"id": COACHING_TYPE, "api_name__v": "coaching_report__v"},
        "OOT000000000999": {"id": "OOT000000000999", "api_name__v": "message_survey__v"},
    }
    for user_id, hr_id, email in (
        ("4702", "E10002", "grace.ulrich@example-pharma.com"),
        ("4711", "E10010", "ana.lopez@example-pharma.com"),
        ("4712", "E10011", "ben.okafor@example-pharma.com"),
        ("4713", None, "chloe.martin@example-pharma.com"),  # matched by email
    ):
        vault.insert(
            "user__sys",
            "",
            id=user_id,
            email__sys=email,
            federated_id__sys=hr_id,
            status__v=["active__v"],
        )
    return org


def make_config(**overrides: Any) -> VaultConfig:
    data: dict[str, Any] = {
        "type": "vault-crm",
        "url": URL,
        "api_version": VERSION,
        "auth": {"username": USERNAME, "password": SecretStr(PASSWORD)},
        "timezone": "Europe/Madrid",
        **overrides,
    }
    return VaultConfig.model_validate(data)


def connector(
    vault: FakeVault, config: VaultConfig | None = None, capabilities: CapabilityMap | None = None
) -> VaultConnector:
    return VaultConnector(
        config or make_config(),
        ConnectorContext(SOURCE, Path(), capabilities or capability_map(), date(2026, 3, 2)),
        transport=vault.transport(),
        sleep=vault.sleep,
        clock=lambda: datetime(2000, 1, 1, tzinfo=UTC),  # wrong on purpose: the Vault's counts
    )


class Pipeline:
    """The real pull and translate stages on a SQLite store, with HR people from a CSV file."""

    def __init__(
        self,
        folder: Path,
        vault: FakeVault,
        config: VaultConfig | None = None,
        capabilities: CapabilityMap | None = None,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.vault = vault
        self.config = config or make_config()
        self.capabilities = capabilities or capability_map()
        self.engine = open_store(f"sqlite:///{folder / 'store.db'}")
        self.people = PeopleFileConnector(
            PeopleFileConfig.model_validate(
                {"type": "file-people", "path": str(write_people(folder))}
            ),
            ConnectorContext("hris", folder, self.capabilities, date(2026, 3, 2)),
        )
        self.runs = 0
        self.last: VaultConnector | None = None

    def run(self) -> dict[str, dict[str, int]]:
        self.last = connector(self.vault, self.config, self.capabilities)
        self.last.preflight()
        return self.run_connector(self.last)

    def run_connector(self, crm: Connector[Any]) -> dict[str, dict[str, int]]:
        """One run: the HR file, then `crm`, then translation."""
        self.runs += 1
        with self.engine.begin() as conn:
            run_id = runs.start_run(conn, "test", f"run-{self.runs}")
        pull = PullStage(self.engine, run_id)
        pull.pull(self.people)
        counts = pull.pull(crm)
        ctx = TranslateContext(
            ns=Namespace("https://xapi.example-pharma.com/adoptloop"),
            actors=Pseudonymizer("https://hr.example-pharma.com", b"0123456789abcdef0123"),
            capabilities=self.capabilities,
        )
        TranslateStage(self.engine, ctx, run_id).run()
        return counts

    def standing(self) -> dict[str, dict[str, Any]]:
        return standing(self.engine)

    def payloads(self) -> dict[str, bytes]:
        """Statement key -> the exact bytes in the outbox, for statements in force."""
        emitted, outbox = schema.emitted, schema.outbox
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(emitted.c.key, outbox.c.payload)
                .join(outbox, outbox.c.statement_id == emitted.c.statement_id)
                .where(emitted.c.voided.is_(False))
            ).all()
        return {
            key: payload if isinstance(payload, bytes) else payload.encode()
            for key, payload in rows
        }


def standing(engine: Engine) -> dict[str, dict[str, Any]]:
    """Statements in force (not voided), by statement key: body without the id."""
    emitted, outbox = schema.emitted, schema.outbox
    with engine.connect() as conn:
        keys = dict(
            conn.execute(
                select(emitted.c.statement_id, emitted.c.key).where(emitted.c.voided.is_(False))
            ).all()
        )
        payloads = conn.execute(
            select(outbox.c.statement_id, outbox.c.payload).where(
                outbox.c.statement_id.in_(list(keys))
            )
        ).all()
    found: dict[str, dict[str, Any]] = {}
    for statement_id, payload in payloads:
        body = json.loads(payload)
        body.pop("id")
        found[keys[statement_id]] = body
    return found


def live_ratings(org: Org) -> set[tuple[str, str, float]]:
    """(report id, item, raw) of every answer of a completed coaching report in the Vault."""
    vault = org.vault
    live = set()
    for target in vault.tables["survey_target__v"].values():
        if target["report_status__v"] != ["completed__v"]:
            continue
        if target["object_type__v"] != "OOT000000000123":
            continue
        for answer in vault.tables["question_response__v"].values():
            if answer["survey_target__v"] != target["id"]:
                continue
            if (
                answer["survey_question__v"] == "V0Q000000OPEN01"
                and answer["number__v"] is not None
            ):
                live.add((target["id"], "V0Q000000OPEN01", float(answer["number__v"])))
            elif answer["question_text__v"] == "Closing: rating" and answer["answer_choice__v"]:
                live.add((target["id"], "Closing: rating", float(answer["answer_choice__v"][0])))
    return live


def rating_statements(standing: dict[str, dict[str, Any]]) -> set[tuple[str, str, float]]:
    """(report id, item, raw) of the rating statements in force."""
    found = set()
    for key, body in standing.items():
        if key.startswith("rating/"):
            _, _, record_id, item = key.split("/", 3)
            found.add(
                (
                    record_id,
                    item.replace("%3A", ":").replace("%20", " "),
                    body["result"]["score"]["raw"],
                )
            )
    return found
