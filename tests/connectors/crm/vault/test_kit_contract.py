"""Issue 18, gap 1: the connector test kit's standard checks run on the `vault-crm` connector.

A malformed record in a query answer (a required field missing, an unparsable date, a value
of the wrong type) is quarantined naming the object and record and the rest is read; a
malformed page is quarantined and the cursor does not move past it (never exit 3, which
means credentials refused); the kit's pull reads the connector's streams in order, so the
calls resolve through the users read before them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from adoptloop.connectors.base import Connector, ConnectorContext
from adoptloop.connectors.crm.vault.connector import VaultConnector
from adoptloop.domain import Person
from adoptloop.testing.fake_api import FakeApi
from adoptloop.testing.kit import ConnectorContract, FakeVendor, RecordingSleep
from tests.connectors.crm.vault.fake_vault import FakeVault
from tests.connectors.crm.vault.scenario import Org, make_config, seed

REP = "4711"


class VaultVendor:
    """The fake Vault as the kit's FakeVendor: records are parent calls of one matched rep."""

    def __init__(self) -> None:
        self.vault = FakeVault(page_size_cap=2)
        self.org: Org = seed(self.vault)
        self.vault.tick(hours=1)
        self.api: FakeApi = self.vault.api

    def add(self, count: int) -> list[str]:
        keys = [self.org.call(REP, date(2026, 2, 1 + n % 27)) for n in range(count)]
        self.vault.tick(hours=1)  # past the look-back, and before the next run's bound
        return keys

    def add_bad(self) -> str:
        """A call whose rep is an object, not a user id: a value of the wrong type."""
        key = self.org.call(REP, date(2026, 2, 3))
        self.vault.tables["call2__v"][key]["ownerid__v"] = {"id": REP, "name__v": "Ana"}
        self.vault.tick(hours=1)
        return key

    def break_page(self, number: int) -> None:
        self.vault.break_page("call2__v", number)

    def people(self) -> list[Person]:
        return [
            Person(
                hr_id="E10010",
                valid_from=date(2020, 1, 1),
                first_name="Ana",
                last_name="Lopez",
                email="ana.lopez@example-pharma.com",
                employee_number=None,
                role="rep",
                manager_hr_id=None,
                region=None,
                country=None,
                territory=None,
                business_unit=None,
                status="active",
                hire_date=None,
                termination_date=None,
            )
        ]


class TestVaultCallsContract(ConnectorContract):
    """Gap 1: the kit's checks on the Vault connector's calls stream."""

    stream = "calls"
    table = "interactions"
    # every page of a window ends with a checkpoint, so a spoiled page 2 rightly stores page 1
    # and its position (test_a_malformed_second_page_keeps_the_first below); the kit's store
    # check wants no cursor change at all, which is a spoiled first page here
    broken_page = 1

    def make_vendor(self) -> VaultVendor:
        return VaultVendor()

    def seed_people(self, vendor: FakeVendor) -> list[Person]:
        assert isinstance(vendor, VaultVendor)
        return vendor.people()

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> Connector[Any]:
        assert isinstance(vendor, VaultVendor)
        config = make_config(sync={"max_attempts": 4}, coaching_reports=None)
        return VaultConnector(config, context, transport=vendor.api.transport(), sleep=sleep)

    def max_attempts(self, connector: Connector[Any]) -> int:
        assert isinstance(connector, VaultConnector)
        return connector.config.sync.max_attempts
