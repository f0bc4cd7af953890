"""Write an org as customer files (explicit HR form, LMS and CRM CSVs) and run the real CLI.

Used by tests/adoption/test_independent.py: the org goes through `adoptloop run` and
`adoptloop adoption --format csv` exactly as a customer's files would.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.adoption.independent_reference import Action, CapMap, Completion, Row, Visit

ROLE_CODES = {"rep": "rep", "manager": "first_line_manager", "director": "regional_director"}
ITEMS = ["A1__c", "A2__c", "B1__c"]
CMAP = CapMap(
    capabilities={"cap-a": (0.75, 90), "cap_b": (0.75, 60)},
    modules={"MOD-A": ["cap-a"], "MOD-AB": ["cap-a", "cap_b"], "MOD-B": ["cap_b"], "MOD-X": []},
    items={"A1__c": "cap-a", "A2__c": "cap-a", "B1__c": "cap_b"},
)


def _uid(hr_id: str) -> str:
    return "005" + hr_id.rjust(15, "0")


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


def write_org(
    root: Path,
    rows: list[Row],
    completions: list[Completion],
    visits: list[Visit],
    actions: list[Action],
) -> Path:
    people = sorted({r.hr_id for r in rows})
    _write(
        root / "hris/people.csv",
        [
            "hr_id",
            "first_name",
            "last_name",
            "email",
            "role",
            "manager_hr_id",
            "region",
            "team",
            "territory",
            "status",
            "hire_date",
            "termination_date",
            "valid_from",
            "valid_to",
        ],
        [
            [
                r.hr_id,
                "F" + r.hr_id,
                "L" + r.hr_id,
                f"{r.hr_id.lower()}@example-pharma.com",
                ROLE_CODES[r.role],
                r.manager or None,
                r.region,
                r.team or None,
                "T" + r.region,
                "active",
                r.hire or r.valid_from,
                r.termination,
                r.valid_from,
                r.valid_to,
            ]
            for r in rows
        ],
    )
    _write(
        root / "lms/completions.csv",
        [
            "record_id",
            "user_id",
            "user_email",
            "module_id",
            "module_title",
            "status",
            "completed_at",
            "score",
        ],
        [
            [
                c.record_id,
                "u" + c.hr_id,
                f"{c.hr_id.lower()}@example-pharma.com",
                c.module,
                c.module,
                c.status,
                f"{c.day.isoformat()}T10:00:00Z",
                80,
            ]
            for c in completions
        ],
    )
    _write(
        root / "crm/users.csv",
        ["Id", "FederationIdentifier", "Email", "EmployeeNumber", "IsActive"],
        [[_uid(p), p, f"{p.lower()}@example-pharma.com", "", "true"] for p in people],
    )
    _write(
        root / "crm/coaching_reports.csv",
        [
            "Id",
            "Manager_vod__c",
            "Employee_vod__c",
            "Review_Date__c",
            "Status__c",
            "Submitted_DateTime__c",
            "SystemModstamp",
            *ITEMS,
        ],
        [
            [
                v.visit_id,
                _uid(v.observer),
                _uid(v.observed),
                v.day.isoformat(),
                v.status,
                f"{(v.day + timedelta(days=1)).isoformat()}T09:00:00.000+0000",
                f"{(v.day + timedelta(days=1)).isoformat()}T09:00:00.000+0000",
                *[v.ratings.get(i) for i in ITEMS],
            ]
            for v in visits
        ],
    )
    _write(
        root / "crm/development_actions.csv",
        [
            "Id",
            "Coaching_Report__c",
            "Employee_vod__c",
            "Capability__c",
            "Agreed_Date__c",
            "Due_Date__c",
            "Completed_Date__c",
            "Status__c",
        ],
        [
            [a.action_id, "", _uid(a.hr_id), a.capability, a.agreed, a.due, a.completed, a.status]
            for a in actions
        ],
    )
    (root / "capabilities.yaml").write_text(
        "scales:\n  five: {min: 1, max: 5}\ncapabilities:\n"
        "  - {id: cap-a, name: Cap A, threshold: 0.75}\n"
        "  - {id: cap_b, name: Cap B, threshold: 0.75, window_days: 60}\n"
        "modules:\n  MOD-A: [cap-a]\n  MOD-AB: [cap-a, cap_b]\n  MOD-B: [cap_b]\n  MOD-X: []\n"
        "coaching_items:\n  A1__c: {capability: cap-a, scale: five}\n"
        "  A2__c: {capability: cap-a, scale: five}\n  B1__c: {capability: cap_b, scale: five}\n",
        encoding="utf-8",
    )
    (root / "key.txt").write_text("independent-check-actor-key-0123456789abcdef", encoding="utf-8")
    config = root / "adoptloop.yaml"
    config.write_text(
        f"""store: {{url: "sqlite:///{root / "state.db"}"}}
xapi:
  namespace: https://xapi.example-pharma.com/adoptloop
  actor: {{home_page: https://hr.example-pharma.com, key: "${{file:key.txt}}"}}
capability_map: capabilities.yaml
sources:
  hris: {{type: file-people, path: hris/people.csv}}
  lms:
    type: file-completions
    path: lms/completions.csv
    identity: [{{attribute: user_email, person_field: email}}]
  crm:
    type: file-coaching
    timezone: Europe/London
    users: {{path: crm/users.csv}}
    reports: {{path: crm/coaching_reports.csv, counted_statuses: [Submitted, Approved]}}
    actions: {{path: crm/development_actions.csv}}
delivery: {{target: store}}
adoption: {{window_days: 90, output_dir: out}}
""",
        encoding="utf-8",
    )
    return config


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adoptloop.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )


def engine_csv(config: Path, as_of: str, by: str) -> list[dict[str, str]]:
    out = cli(config, "adoption", "--as-of", as_of, "--by", by, "--format", "csv")
    assert out.returncode == 0, out.stderr
    return list(csv.DictReader(io.StringIO(out.stdout)))
