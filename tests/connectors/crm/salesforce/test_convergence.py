"""Done when: a backfill and three incremental runs over a changing org leave the store and the
statements in force identical to one full sync of the final state."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import Pipeline, make_config
from tests.connectors.crm.salesforce.scenario import Veeva, ts


def _history(veeva: Veeva) -> dict[str, list[str]]:
    """Six weeks of field work before the first sync."""
    org = veeva.org
    made: dict[str, list[str]] = {"calls": [], "reports": [], "advanced": []}
    for day in range(1, 28):
        rep = veeva.reps[day % 3]
        call = veeva.call(rep, date(2026, 2, day))
        made["calls"].append(call)
        if day % 3 == 0:
            veeva.ride_along(call)
            veeva.hcp_attendee(call)
        if day % 4 == 0:
            made["reports"].append(
                veeva.report(
                    rep,
                    date(2026, 2, day),
                    Opening_Rating__c=float(day % 5 + 1),
                    Objection_Handling_Rating__c="4",
                )
            )
        if day % 7 == 0:
            made["advanced"].append(
                veeva.advanced(rep, submitted=ts(date(2026, 2, day)), opening=3, closing="4")
            )
        org.tick(hours=3)
    return made


def test_backfill_and_three_incremental_runs_equal_one_full_sync_of_the_final_state(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    sync = {"bulk_above_rows": 20, "bulk_page_size": 7, "lookback_minutes": 10}
    config = make_config(org, rsa_key[0], sync=sync)
    made = _history(veeva)
    incremental = Pipeline(tmp_path / "incremental", org, config, capabilities)
    incremental.run()  # the backfill (Bulk API 2.0 for the large windows)
    assert any("/jobs/query" in p for _, p, _ in org.log)

    # day 1: new calls, a ride-along synced late, a revised rating, a call deleted
    org.tick(days=1)
    veeva.call(veeva.reps[0], date(2026, 3, 1))
    veeva.call(veeva.reps[1], date(2026, 2, 20))  # offline edit arriving ten days late
    veeva.ride_along(made["calls"][1])
    org.update("Coaching_Report_vod__c", made["reports"][0], Opening_Rating__c=5.0)
    org.soft_delete("Call2_vod__c", made["calls"][2])
    org.tick(minutes=5)
    incremental.run()

    # day 2: an answer revised, a report hard-deleted, a call taken back to draft, a new report
    org.tick(days=1)
    answer = veeva.responses_of(made["advanced"][0])[0]
    org.update("Question_Response_vod__c", answer, Number_vod__c=5, Answer_Choice_vod__c="5")
    org.hard_delete("Coaching_Report_vod__c", made["reports"][1])
    org.update("Call2_vod__c", made["calls"][4], Status_vod__c="Saved_vod")
    veeva.advanced(veeva.reps[2], submitted=ts(date(2026, 3, 3)), opening=5, closing="5")
    org.update("User", veeva.reps[2], EmployeeNumber="100012")
    org.tick(minutes=5)
    incremental.run()

    # day 3: the recycle bin emptied, a ride-along removed, more work
    org.tick(days=1)
    org.hard_delete("Call2_vod__c", made["calls"][2])
    ride_along = next(
        rid
        for rid, r in org.tables["Call2_vod__c"].items()
        if r["Parent_Call_vod__c"] == made["calls"][5] and r["Attendee_Type_vod__c"] == "User_vod"
    )
    org.soft_delete("Call2_vod__c", ride_along)
    veeva.report(veeva.reps[1], date(2026, 3, 4), Opening_Rating__c=2.0)
    veeva.call(veeva.reps[2], date(2026, 3, 4))
    org.tick(minutes=5)
    incremental.run()

    full = Pipeline(tmp_path / "full", org, config, capabilities)
    full.run()

    assert incremental.live() == full.live()
    assert incremental.standing() == full.standing()
    live = full.live()
    assert len(live["interactions"]) > 20
    assert len(live["observations"]) > 8
    assert any(s["verb"]["id"].endswith("voided") for s in incremental.statements())
