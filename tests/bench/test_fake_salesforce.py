"""bench/fake_salesforce.py, the bench's Salesforce org over HTTPS (a child process, as
bench/run.py starts it): its answers carry one Date header, the org's clock, which
`POST /bench/tick` moves on, so that the connector's window of an incremental run is the next
night's, not the same minutes again."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from bench.generate import generate, spec_for
from bench.run import SESSION, FakeSalesforce


def test_the_fake_org_answers_with_its_own_clock_and_tick_moves_it(tmp_path: Path) -> None:
    generate(tmp_path / "org", spec_for(20))
    sf = FakeSalesforce(tmp_path / "org" / "salesforce", tmp_path)
    try:
        with httpx.Client(
            base_url=sf.base_url,
            verify=sf.trust(),
            headers={"Authorization": f"Bearer {SESSION}"},
        ) as client:
            first = client.get("/services/data/v62.0/sobjects/")
            assert first.status_code == 200
            assert len(first.headers.get_list("Date")) == 1
            before = parsedate_to_datetime(first.headers["Date"])
            sf.tick(24)
            later = client.get("/services/data/v62.0/sobjects/")
            assert len(later.headers.get_list("Date")) == 1
            moved = parsedate_to_datetime(later.headers["Date"]) - before
        assert moved.total_seconds() == 24 * 3600  # the org's clock stands still otherwise
        assert sf.stats()["api_calls"] == 2
    finally:
        sf.stop()
