"""Issue 18, points 1 and 6: the same coaching report gives byte-identical statements whether
it came from Veeva CRM on Salesforce or from Vault CRM: same source name, same report id,
answers mapped by question text, the same people (docs/vault-crm.md, "Same statements")."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from adoptloop.connectors.base import Connector, ConnectorConfig, ConnectorContext
from adoptloop.connectors.crm.salesforce.config import AdvancedCoachingStream
from adoptloop.connectors.crm.salesforce.config import UsersStream as SalesforceUsersStream
from adoptloop.connectors.crm.salesforce.query import Feed as SalesforceFeed
from adoptloop.connectors.crm.salesforce.records import UsersMapper as SalesforceUsers
from adoptloop.connectors.crm.salesforce.veeva import AdvancedReportsMapper
from adoptloop.domain import Checkpoint, Item
from adoptloop.mappings.identity import IdentityRule
from tests.connectors.crm.vault.fake_vault import FakeVault
from tests.connectors.crm.vault.scenario import SOURCE, Pipeline, capability_map, seed

REPORT_ID = "a3B5g00000COACH001"  # the report's id, carried over by the migration
OPENING_TEXT = "Opening"


class _Salesforce(Connector[ConnectorConfig]):
    """Veeva CRM on Salesforce as the Salesforce connector's own mappers read it."""

    type_name = "salesforce-rows"
    family = "crm"
    config_class = ConnectorConfig

    def __init__(self, context: ConnectorContext, items: dict[str, list[Item]]) -> None:
        super().__init__(ConnectorConfig(type="salesforce-rows"), context)
        self.items = items

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return [IdentityRule(attribute="FederationIdentifier", person_field="hr_id")]

    def streams(self) -> Sequence[str]:
        return tuple(self.items)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:  # noqa: ARG002
        yield from self.items[stream]
        yield Checkpoint(stream, "done")


def _salesforce_items(context: ConnectorContext) -> dict[str, list[Item]]:
    users = SalesforceUsers(SalesforceUsersStream(), SOURCE)
    rows: list[dict[str, Any]] = [
        {"Id": "0055g00000MGR0001", "IsActive": True, "FederationIdentifier": "E10002"},
        {"Id": "0055g00000REP0001", "IsActive": True, "FederationIdentifier": "E10010"},
    ]
    accounts = list(users.changed(SalesforceFeed("users", "User", ()), rows, None))  # type: ignore[arg-type]
    mapper = AdvancedReportsMapper(AdvancedCoachingStream(), context, "Europe/Madrid")
    target = {
        "Id": REPORT_ID,
        "Coach_vod__c": "0055g00000MGR0001",
        "Employee_vod__c": "0055g00000REP0001",
        "Report_Status_vod__c": "Completed_vod",
        "Submitted_DateTime_vod__c": "2026-02-21T10:00:00.000+0000",
        "SystemModstamp": "2026-02-21T10:00:05.000+0000",
    }
    answers: list[dict[str, Any]] = [
        {"Survey_Question_vod__c": "a2Q5g00000QOPEN001", "Question_Text_vod__c": OPENING_TEXT,
         "Number_vod__c": 4, "Answer_Choice_vod__c": None, "Text_vod__c": None},
        {"Survey_Question_vod__c": "a2Q5g00000QCLOS001", "Question_Text_vod__c": "Closing: rating",
         "Number_vod__c": None, "Answer_Choice_vod__c": "3", "Text_vod__c": None},
    ]  # fmt: skip
    return {"users": accounts, "coaching_reports": [mapper.observation(target, answers)]}


def test_a_coaching_report_gives_byte_identical_statements_from_salesforce_and_vault(
    tmp_path: Path,
) -> None:
    capabilities = capability_map(opening=OPENING_TEXT)
    vault = FakeVault()
    org = seed(vault)
    org.report(
        org.reps[0],
        datetime(2026, 2, 21, 10, tzinfo=UTC),
        opening=4,
        closing="3",
        record_id=REPORT_ID,
    )
    vault.tick(minutes=5)
    from_vault = Pipeline(tmp_path / "vault", vault, capabilities=capabilities)
    from_vault.run()

    from_salesforce = Pipeline(tmp_path / "salesforce", vault, capabilities=capabilities)
    context = ConnectorContext(SOURCE, tmp_path, capabilities, date(2026, 3, 2))
    from_salesforce.run_connector(_Salesforce(context, _salesforce_items(context)))

    vault_statements = from_vault.payloads()
    salesforce_statements = from_salesforce.payloads()
    assert sorted(vault_statements) == [
        f"rating/{SOURCE}/{REPORT_ID}/Closing%3A%20rating",
        f"rating/{SOURCE}/{REPORT_ID}/{OPENING_TEXT}",
        f"visit/{SOURCE}/{REPORT_ID}",
    ]
    assert salesforce_statements == vault_statements
