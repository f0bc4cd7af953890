"""Issue 18, point 5: `check` and `discover` work for a Vault: a configured field the Vault
lacks is a ConfigError naming its config key; discover lists the fields the mapping reads."""

from __future__ import annotations

import pytest

from adoptloop.errors import ConfigError
from tests.connectors.crm.vault.fake_vault import FakeVault
from tests.connectors.crm.vault.scenario import connector, make_config, seed


def test_check_names_each_configured_field_the_vault_lacks() -> None:
    vault = FakeVault()
    seed(vault)
    config = make_config(coaching_reports={"fields": {"observer": "coach_user__v"}})
    with pytest.raises(ConfigError) as raised:
        connector(vault, config).check()
    assert raised.value.exit_code == 2
    assert (
        "sources.crm.coaching_reports.fields.observer: survey_target__v has no field "
        "'coach_user__v'" in str(raised.value)
    )


def test_check_passes_and_discover_lists_what_the_mapping_reads() -> None:
    vault = FakeVault()
    seed(vault)
    conn = connector(vault)
    conn.check()
    found = {s.stream: s for s in conn.discover()}
    assert set(found) == {"call2__v", "question_response__v", "survey_target__v", "user__sys"}
    assert "coach__v" in found["survey_target__v"].used
    assert found["survey_target__v"].missing == ()
