"""Fixtures: a fake Veeva org behind `responses`, a signing key for the JWT bearer flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
import structlog

from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import capability_map, make_config
from tests.connectors.crm.salesforce.scenario import Veeva, seed

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """The CLI configures structlog for its own (captured, then closed) stderr; undo that."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def org(rsa_key: tuple[str, Any]) -> Iterator[FakeOrg]:
    fake = FakeOrg(now=START, jwt_public_key=rsa_key[1], page_size=3)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


@pytest.fixture
def veeva(org: FakeOrg) -> Veeva:
    return seed(org)


@pytest.fixture
def capabilities() -> CapabilityMap:
    return capability_map()


@pytest.fixture
def config(org: FakeOrg, rsa_key: tuple[str, Any]) -> SalesforceConfig:
    return make_config(org, rsa_key[0])
