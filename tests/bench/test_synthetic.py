"""The synthetic org generator: determinism, org shape, realism and the deliberate bad rows."""

from __future__ import annotations

import csv
import re
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
from bench.synthetic import MODULES, GeneratedCounts, OrgSpec, generate_org, main

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo"
FILES = (
    "hris/people.csv",
    "lms/completions.csv",
    "crm/users.csv",
    "crm/coaching_reports.csv",
    "crm/development_actions.csv",
    "crm/calls.csv",
)
RATINGS = (
    "Opening_Rating__c",
    "Needs_Assessment_Rating__c",
    "Objection_Handling_Rating__c",
    "Clinical_Data_Rating__c",
    "Closing_Rating__c",
    "Compliance_Rating__c",
)
FIELD_ROLES = {"rep", "kam", "msl"}


def _rows(out: Path, name: str) -> list[dict[str, str]]:
    with (out / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _latest(people: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """hr_id -> the person's last effective-dated row (rows are in valid_from order)."""
    return {p["hr_id"]: p for p in people}


def _problems(out: Path) -> list[tuple[str, int, str]]:
    """What a careful loader would reject: (file, line number, reason)."""
    found: list[tuple[str, int, str]] = []
    people = _rows(out, "hris/people.csv")
    hr_ids = {p["hr_id"] for p in people}
    emails = {p["email"] for p in people}
    user_ids = {u["Id"] for u in _rows(out, "crm/users.csv")}
    for line, p in enumerate(people, start=2):
        if p["manager_hr_id"] and p["manager_hr_id"] not in hr_ids:
            found.append(("hris/people.csv", line, "unknown manager"))
    for line, c in enumerate(_rows(out, "lms/completions.csv"), start=2):
        if c["user_email"] not in emails:
            found.append(("lms/completions.csv", line, "unknown email"))
        try:
            datetime.fromisoformat(c["completed_at"])
        except ValueError:
            found.append(("lms/completions.csv", line, "bad date"))
    for line, r in enumerate(_rows(out, "crm/coaching_reports.csv"), start=2):
        if r["Employee_vod__c"] not in user_ids or r["Manager_vod__c"] not in user_ids:
            found.append(("crm/coaching_reports.csv", line, "unknown user"))
        if any(r[c] and not 1 <= int(r[c]) <= 5 for c in RATINGS):
            found.append(("crm/coaching_reports.csv", line, "rating out of scale"))
        try:
            date.fromisoformat(r["Review_Date__c"])
        except ValueError:
            found.append(("crm/coaching_reports.csv", line, "bad date"))
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GeneratedCounts]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_org(out)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate_org(out, OrgSpec(bad_rows=False))
    return out


def test_same_seed_gives_byte_identical_files(
    demo: tuple[Path, GeneratedCounts], tmp_path: Path
) -> None:
    again = generate_org(tmp_path)
    assert again == demo[1]
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (demo[0] / name).read_bytes(), name


def test_different_seed_gives_different_files(
    demo: tuple[Path, GeneratedCounts], tmp_path: Path
) -> None:
    generate_org(tmp_path, OrgSpec(seed=7))
    for name in FILES:
        assert (tmp_path / name).read_bytes() != (demo[0] / name).read_bytes(), name


def test_files_use_unix_newlines_and_counts_match(demo: tuple[Path, GeneratedCounts]) -> None:
    out, counts = demo
    lines = {name: (out / name).read_bytes().count(b"\n") - 1 for name in FILES}
    assert b"\r" not in b"".join((out / name).read_bytes() for name in FILES)
    assert counts == GeneratedCounts(
        people=lines["hris/people.csv"],
        completions=lines["lms/completions.csv"],
        coaching_reports=lines["crm/coaching_reports.csv"],
        development_actions=lines["crm/development_actions.csv"],
        calls=lines["crm/calls.csv"],
        bad_rows=6,
    )
    assert 1500 <= counts.calls <= 2500
    assert counts.coaching_reports / 5 <= counts.development_actions <= counts.coaching_reports / 3


def test_org_shape(clean: Path) -> None:
    people = _latest(_rows(clean, "hris/people.csv"))
    roles = Counter(p["role"] for p in people.values())
    assert roles["regional_director"] == 3
    assert roles["first_line_manager"] == 10
    assert sum(roles[r] for r in FIELD_ROLES) == 80
    assert roles["rep"] > roles["kam"] + roles["msl"] > 0
    assert {p["region"] for p in people.values()} == {"North", "South", "West"}
    for p in people.values():
        boss = people.get(p["manager_hr_id"])
        if p["role"] == "regional_director":
            assert p["manager_hr_id"] == ""
        elif p["role"] == "first_line_manager":
            assert boss is not None, p
            assert boss["role"] == "regional_director", p
            assert boss["region"] == p["region"]
        else:
            assert boss is not None, p
            assert boss["role"] == "first_line_manager", p
            assert boss["region"] == p["region"]
    team = Counter(p["manager_hr_id"] for p in people.values() if p["role"] in FIELD_ROLES)
    assert 8 <= statistics.mean(team.values()) <= 10
    assert all(p["email"].endswith("@example-pharma.com") for p in people.values())
    assert len({p["email"] for p in people.values()}) == len(people)


def test_people_history(clean: Path) -> None:
    rows = _rows(clean, "hris/people.csv")
    history: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    for p in rows:
        history[p["hr_id"]].append(p)
    moved = [h for h in history.values() if len(h) == 2]
    assert any(
        h[0]["manager_hr_id"] != h[1]["manager_hr_id"] and h[0]["region"] == h[1]["region"]
        for h in moved
    )
    assert any(h[0]["region"] != h[1]["region"] for h in moved)
    left = [h[1] for h in moved if h[1]["status"] == "terminated"]
    assert len(left) == 1
    assert left[0]["termination_date"] == left[0]["valid_from"]
    hired = [h[0] for h in history.values() if h[0]["hire_date"] >= "2026-01-01"]
    assert 2 <= len(hired) <= 3
    assert all(h[0]["valid_from"] == h[0]["hire_date"] for h in history.values())
    users = {u["FederationIdentifier"]: u for u in _rows(clean, "crm/users.csv")}
    assert users.keys() == history.keys()
    assert users[left[0]["hr_id"]]["IsActive"] == "false"


def test_completions(clean: Path) -> None:
    rows = _rows(clean, "lms/completions.csv")
    titles = {m[0]: m[1] for m in MODULES}
    modules: defaultdict[str, set[str]] = defaultdict(set)
    for c in rows:
        modules[c["user_email"]].add(c["module_id"])
        assert titles[c["module_id"]] == c["module_title"]
        assert "2026-01-01" <= c["completed_at"][:10] <= "2026-03-31"
        assert c["completed_at"].endswith(":00Z")
        if c["status"] == "failed":
            assert int(c["score"]) < 70
        assert c["score"] == "" or 0 <= int(c["score"]) <= 100
    assert all(3 <= len(m) <= 6 for m in modules.values())
    assert sum("MOD-COMP-101" in m for m in modules.values()) > 0.8 * len(modules)
    assert len({c["record_id"] for c in rows}) == len(rows)


def test_coaching_follows_effective_dated_manager(clean: Path) -> None:
    history: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    for p in _rows(clean, "hris/people.csv"):
        history[p["hr_id"]].append(p)
    users = _rows(clean, "crm/users.csv")
    hr_of = {u["Id"]: u["FederationIdentifier"] for u in users}
    reports = _rows(clean, "crm/coaching_reports.csv")
    statuses = Counter(r["Status__c"] for r in reports)
    assert 0.02 < statuses["Draft"] / len(reports) < 0.1
    for r in reports:
        day = r["Review_Date__c"]
        row = [p for p in history[hr_of[r["Employee_vod__c"]]] if p["valid_from"] <= day][-1]
        assert row["status"] == "active"
        assert hr_of[r["Manager_vod__c"]] == row["manager_hr_id"]
        assert 2 <= sum(bool(r[c]) for c in RATINGS) <= 4
        assert (r["Status__c"] == "Draft") == (r["Submitted_DateTime__c"] == "")
        assert r["SystemModstamp"] >= r["Submitted_DateTime__c"]
    ride_alongs = {
        (c["OwnerId"], c["Call_Date_vod__c"], c["Ride_Along_User_vod__c"])
        for c in _rows(clean, "crm/calls.csv")
        if c["Ride_Along_User_vod__c"]
    }
    assert ride_alongs == {
        (r["Employee_vod__c"], r["Review_Date__c"], r["Manager_vod__c"]) for r in reports
    }


def test_ratings_follow_learning_curves_and_rater_effects(clean: Path) -> None:
    emails = {p["email"]: p["hr_id"] for p in _rows(clean, "hris/people.csv")}
    user_hr = {u["Id"]: u["FederationIdentifier"] for u in _rows(clean, "crm/users.csv")}
    capability = {m[0]: m[2] for m in MODULES}
    trained: dict[tuple[str, int], date] = {}
    for c in _rows(clean, "lms/completions.csv"):
        if c["status"] != "failed":
            key = (emails[c["user_email"]], capability[c["module_id"]])
            trained.setdefault(key, date.fromisoformat(c["completed_at"][:10]))
    before: list[int] = []
    after: list[int] = []
    by_manager: defaultdict[str, list[int]] = defaultdict(list)
    for r in _rows(clean, "crm/coaching_reports.csv"):
        day = date.fromisoformat(r["Review_Date__c"])
        for index, column in enumerate(RATINGS):
            if r[column]:
                rating = int(r[column])
                by_manager[r["Manager_vod__c"]].append(rating)
                since = trained.get((user_hr[r["Employee_vod__c"]], index))
                if since is None or day < since:
                    before.append(rating)
                elif (day - since).days >= 60:
                    after.append(rating)
    assert 2 <= statistics.mean(before) <= 3
    assert statistics.mean(after) >= statistics.mean(before) + 1
    means = sorted(statistics.mean(v) for v in by_manager.values())
    assert means[-1] - means[-2] > 0.3  # one clearly lenient manager
    assert means[1] - means[0] > 0.3  # one clearly harsh manager


def test_bad_rows_only_when_requested(demo: tuple[Path, GeneratedCounts], clean: Path) -> None:
    assert _problems(clean) == []
    assert sorted(reason for _, _, reason in _problems(demo[0])) == sorted([
        "unknown manager",
        "unknown email",
        "bad date",
        "unknown user",
        "rating out of scale",
        "bad date",
    ])  # fmt: skip
    for name in FILES:  # the good rows are the same either way
        good = (clean / name).read_text(encoding="utf-8").splitlines()
        with_bad = (demo[0] / name).read_text(encoding="utf-8").splitlines()
        kept = set(with_bad)
        assert sum(line not in kept for line in good) <= 2, name  # corrupted in place
        assert len(with_bad) - len(good) <= 1, name  # inserted rows


def test_bad_rows_survive_a_tiny_org(tmp_path: Path) -> None:
    counts = generate_org(tmp_path, OrgSpec(reps=3))
    assert counts.bad_rows == 6
    assert len(_problems(tmp_path)) == 6


def test_committed_demo_matches_the_generator(demo: tuple[Path, GeneratedCounts]) -> None:
    committed = sorted(str(p.relative_to(DEMO)) for p in DEMO.rglob("*.csv"))
    assert committed == sorted(FILES), "regenerate: python -m bench.synthetic --out config/demo"
    for name in FILES:
        assert (DEMO / name).read_bytes() == (demo[0] / name).read_bytes(), (
            f"config/demo/{name} drifted; regenerate with "
            "`.venv/bin/python -m bench.synthetic --out config/demo`"
        )
    assert sum((DEMO / name).stat().st_size for name in FILES) < 1_000_000


def test_main_writes_and_prints_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--reps", "16", "--seed", "3", "--no-bad-rows"]) == 0
    printed = capsys.readouterr().out
    assert "people: " in printed
    assert "bad_rows: 0" in printed
    assert _problems(tmp_path) == []
    people = _latest(_rows(tmp_path, "hris/people.csv"))
    assert sum(p["role"] in FIELD_ROLES for p in people.values()) == 16


def test_spec_is_validated() -> None:
    with pytest.raises(ValueError, match="training_end"):
        OrgSpec(training_end=date(2027, 1, 1))


def test_demo_readme_lists_the_bad_rows() -> None:
    listed = set(
        re.findall(r"^\| `([a-z/_]+\.csv)` \| (\d+) \|", (DEMO / "README.md").read_text(), re.M)
    )
    assert {(name, int(line)) for name, line in listed} == {
        (name, line) for name, line, _ in _problems(DEMO)
    }
