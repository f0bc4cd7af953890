"""Every file entry says how its file is written (encoding, delimiter, quotechar, date_format,
decimal); a file that cannot be read as configured is refused by the pre-flight with exit 2,
naming the file, the line and the key to set."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adoptloop.connectors.files.coaching import CoachingFileConfig, CoachingFileConnector
from adoptloop.connectors.files.completions import (
    CompletionsFileConfig,
    CompletionsFileConnector,
)
from adoptloop.connectors.files.people import PeopleFileConfig, PeopleFileConnector
from adoptloop.domain import CoachingObservation, Completion, Person, Rejected
from adoptloop.errors import ConfigError
from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile
from adoptloop.testing.kit import drain, last_cursor, make_context

RUN_DATE = date(2026, 6, 30)
HEADER = "record_id,user_id,user_email,module_id,module_title,status,completed_at,score\n"


def completions(path: Path, **config: Any) -> CompletionsFileConnector:
    settings = CompletionsFileConfig.model_validate(
        {"type": "file-completions", "path": path, **config}
    )
    return CompletionsFileConnector(settings, make_context(name="lms", run_date=RUN_DATE))


def people(path: Path, **config: Any) -> PeopleFileConnector:
    settings = PeopleFileConfig.model_validate({"type": "file-people", "path": path, **config})
    return PeopleFileConnector(settings, make_context(name="hr", run_date=RUN_DATE))


def used(items: list[Any]) -> list[str]:
    return [i.source_record_id for i in items if isinstance(i, Completion)]


def test_a_cp1252_file_reads_with_its_encoding_set(tmp_path: Path) -> None:
    path = tmp_path / "completions.csv"
    row = "C1,u-1,,MOD-1,Einwände behandeln \u2013 Grundkurs,completed,2026-02-03T10:00:00Z,\n"
    path.write_bytes((HEADER + row).encode("cp1252"))
    connector = completions(path, encoding="cp1252")

    connector.preflight()
    items = drain(connector, "completions")

    titles = [i.module_title for i in items if isinstance(i, Completion)]
    assert titles == ["Einwände behandeln \u2013 Grundkurs"]


def test_a_cp1252_file_read_as_utf8_stops_naming_line_byte_and_the_encoding_to_set(
    tmp_path: Path,
) -> None:
    path = tmp_path / "completions.csv"
    good = "".join(
        f"C{n},u-{n},,MOD-1,Objections,completed,2026-02-03T10:00:00Z,\n" for n in range(1, 4)
    )
    bad = (
        "C9,u-9,,MOD-1,Einwände behandeln für Ärzte und Apotheker \u2013 Grundkurs,completed,"
        "2026-02-03T10:00:00Z,\n"
    )
    data = (HEADER + good + bad).encode("cp1252")
    path.write_bytes(data)

    with pytest.raises(ConfigError) as caught:
        completions(path).preflight()

    message = str(caught.value)
    offset = data.index("ä".encode("cp1252"))
    assert message.startswith(f"{path}:5: byte {offset} (0xe4) cannot be read as utf-8")
    assert "it looks like cp1252: set `encoding: cp1252`" in message
    assert message.endswith("under sources.lms")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "completions.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + (HEADER + "C1,u-1,,MOD-1,,completed,2026-02-03T10:00:00Z,\n").encode()
    )
    connector = completions(path)

    connector.preflight()

    assert used(drain(connector, "completions")) == ["C1"]


def test_semicolons_decimal_comma_and_day_first_dates_are_read_as_configured(
    tmp_path: Path,
) -> None:
    path = tmp_path / "completions.csv"
    path.write_text(
        HEADER.replace(",", ";")
        + "C1;u-1;;MOD-1;Einwände, Grundkurs;completed;03.02.2026 10:30;87,5\n"
        + "C2;u-2;;MOD-1;;passed;04.02.2026;90\n",
        encoding="utf-8",
    )
    connector = completions(path, delimiter=";", decimal=",", date_format="%d.%m.%Y")

    connector.preflight()
    items = [i for i in drain(connector, "completions") if isinstance(i, Completion)]

    assert [(i.module_title, i.completed_at, i.score) for i in items] == [
        ("Einwände, Grundkurs", datetime(2026, 2, 3, 10, 30, tzinfo=UTC), 87.5),
        (None, datetime(2026, 2, 4, tzinfo=UTC), 90.0),
    ]


def test_day_first_dates_without_date_format_stop_the_run_naming_the_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "hr_id,first_name,last_name,role,hire_date\n"
        "E1,Ada,Rep,rep,03.02.2024\nE2,Bo,Rep,rep,28.11.2023\nE3,Cy,Rep,rep,\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as caught:
        people(path).preflight()

    assert str(caught.value) == (
        f"{path}:2: hire_date: 2 of 2 values are not dates as configured (e.g. '03.02.2024'); "
        'set `date_format: "%d.%m.%Y"` under sources.hr'
    )


def test_a_decimal_comma_without_the_setting_stops_the_run_naming_the_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "completions.csv"
    path.write_text(
        HEADER.replace(",", ";")
        + "C1;u-1;;MOD-1;;completed;2026-02-03;87,5\nC2;u-2;;MOD-1;;completed;2026-02-03;90,5\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError, match=r'score: 2 of 2 .* set `decimal: ","` under sources.lms'):
        completions(path, delimiter=";").preflight()


def test_one_bad_date_among_good_ones_is_a_row_defect_not_a_file_error(tmp_path: Path) -> None:
    rows = "".join(f"C{n},u-{n},,MOD-1,,completed,2026-02-0{n}T10:00:00Z,\n" for n in range(1, 4))
    path = tmp_path / "completions.csv"
    path.write_text(HEADER + rows + "C4,u-4,,MOD-1,,completed,yesterday,\n", encoding="utf-8")
    connector = completions(path)

    connector.preflight()  # 1 of 4 fails: the value is wrong, not the format
    items = drain(connector, "completions")

    assert used(items) == ["C1", "C2", "C3"]
    assert [r.location for r in items if isinstance(r, Rejected)] == ["completions.csv:5"]


def test_a_missing_column_names_the_closest_header_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("hr_id,first_name,lastname,role\nE1,Ada,Rep,rep\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        people(path).preflight()

    assert str(caught.value) == (
        f"{path}:1: column 'last_name' not found (did you mean 'lastname'?); set its name with "
        "`columns.last_name` under sources.hr (the header has hr_id, first_name, lastname, role)"
    )


def test_an_empty_file_stops_the_run(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"people.csv:1: no header row \(the file is empty\)"):
        people(path).preflight()


def test_a_directory_as_path_stops_the_run_without_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "people.csv"
    folder.mkdir()
    connector = people(folder)

    with pytest.raises(ConfigError, match=r"people.csv: cannot be read \(Is a directory\)"):
        connector.preflight()
    with pytest.raises(ConfigError, match=r"check sources\.hr\.path"):
        drain(connector, "people")


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ({"encoding": "latin-9x"}, "is not an encoding Python knows"),
        ({"date_format": "%d.%m"}, "does not write and read back a whole date"),
        ({"decimal": ";"}, "Input should be '.' or ','"),
        ({"decimal": ","}, 'decimal "," needs another delimiter'),
        ({"delimiter": '"'}, "delimiter must differ from quotechar"),
    ],
)
def test_a_bad_file_option_is_a_config_error(
    tmp_path: Path, option: dict[str, str], says: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("hr_id\n", encoding="utf-8")

    with pytest.raises(ValidationError, match=says):
        PeopleFileConfig.model_validate({"type": "file-people", "path": path, **option})


def test_json_lines_take_their_encoding_and_decimal(tmp_path: Path) -> None:
    path = tmp_path / "completions.jsonl"
    path.write_bytes(
        '{"record_id": "C1", "user_id": "u-1", "user_email": "a@example.com", '
        '"module_id": "MOD-1", "module_title": "Einwände", "status": "completed", '
        '"completed_at": "03.02.2026", "score": 87.5}\n'.encode("cp1252")
    )
    connector = completions(path, encoding="cp1252", decimal=",", date_format="%d.%m.%Y")

    connector.preflight()
    items = [i for i in drain(connector, "completions") if isinstance(i, Completion)]

    assert [(i.module_title, i.score) for i in items] == [("Einwände", 87.5)]


# --- file-coaching: each sub-file has its own options -----------------------------------------

CAPABILITIES = CapabilityMap(
    CapabilityMapFile.model_validate(
        {
            "scales": {"five": {"min": 1, "max": 5}},
            "capabilities": [{"id": "objection-handling", "name": "Objections", "threshold": 0.75}],
            "coaching_items": {
                "Objections__c": {"capability": "objection-handling", "scale": "five"}
            },
        }
    )
)


def coaching(**config: Any) -> CoachingFileConnector:
    settings = CoachingFileConfig.model_validate({"type": "file-coaching", **config})
    return CoachingFileConnector(
        settings, make_context(CAPABILITIES, name="crm", run_date=RUN_DATE)
    )


def _one_report(tmp_path: Path) -> Path:
    """A coaching reports export with one submitted report, R1."""
    reports = tmp_path / "reports.csv"
    reports.write_text(
        "Id,Manager_vod__c,Employee_vod__c,Review_Date__c,Status__c\n"
        "R1,005M,005E,2026-02-03,Submitted\n",
        encoding="utf-8",
    )
    return reports


def test_the_ratings_file_is_read_with_its_own_delimiter_and_decimal(tmp_path: Path) -> None:
    reports = _one_report(tmp_path)
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        "Coaching_Report__c;Item__c;Value__c\nR1;Objections__c;4,5\nR9;Objections__c;3\n",
        encoding="utf-8",
    )
    connector = coaching(
        reports={"path": reports, "ratings": {"path": ratings, "delimiter": ";", "decimal": ","}}
    )

    connector.preflight()
    items = drain(connector, "reports")

    observations = [i for i in items if isinstance(i, CoachingObservation)]
    assert [r.raw for o in observations for r in o.ratings] == [4.5]
    orphans = [(r.location, r.reason) for r in items if isinstance(r, Rejected)]
    assert orphans == [("ratings.csv:3", "rating of report R9, which is not in reports.csv")]


def test_a_coaching_sub_file_in_another_encoding_names_its_own_key(tmp_path: Path) -> None:
    reports = _one_report(tmp_path)
    actions = tmp_path / "actions.csv"
    actions.write_bytes(
        (
            "Id,Employee_vod__c,Capability__c,Agreed_Date__c,Status__c\n"
            "A1,005E,objection-handling,2026-02-03,Geöffnet\n"
        ).encode("cp1252")
    )

    with pytest.raises(ConfigError, match=r"actions.csv:2: byte .* under sources.crm.actions$"):
        coaching(reports={"path": reports}, actions={"path": actions}).preflight()


def test_people_history_rows_are_no_duplicates_but_a_repeated_row_is(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "hr_id,first_name,last_name,role,valid_from\n"
        "E1,Ada,Rep,rep,2025-01-01\nE1,Ada,Rep,manager,2026-01-01\nE1,Ada,Rep,rep,2025-01-01\n",
        encoding="utf-8",
    )
    items = drain(people(path), "people")

    assert [p.valid_from for p in items if isinstance(p, Person)] == [
        date(2025, 1, 1),
        date(2026, 1, 1),
    ]
    assert [(r.location, r.reason) for r in items if isinstance(r, Rejected)] == [
        ("people.csv:4", "duplicate record id E1@2025-01-01: line 2 is used")
    ]


def test_a_symlink_loop_as_path_is_a_config_error(tmp_path: Path) -> None:
    loop = tmp_path / "people.csv"
    loop.symlink_to(loop)

    with pytest.raises(ValidationError, match="is a symlink to nothing"):
        PeopleFileConfig.model_validate({"type": "file-people", "path": loop})


def test_visits_and_actions_after_the_run_date_are_quarantined(tmp_path: Path) -> None:
    reports = tmp_path / "reports.csv"
    reports.write_text(
        "Id,Manager_vod__c,Employee_vod__c,Review_Date__c,Status__c\n"
        "R1,005M,005E,2026-06-30,Submitted\n"
        "R2,005M,005E,2026-07-01,Submitted\n"  # one day ahead: a zone east of UTC
        "R3,005M,005E,2026-07-02,Submitted\n",
        encoding="utf-8",
    )
    actions = tmp_path / "actions.csv"
    actions.write_text(
        "Id,Employee_vod__c,Capability__c,Agreed_Date__c,Due_Date__c,Status__c\n"
        "A1,005E,objection-handling,2026-06-01,2026-09-01,Open\n"
        "A2,005E,objection-handling,2027-06-01,2027-09-01,Open\n",
        encoding="utf-8",
    )
    connector = coaching(reports={"path": reports}, actions={"path": actions})

    connector.preflight()
    visits = drain(connector, "reports")
    agreed = drain(connector, "actions")

    assert [o.source_record_id for o in visits if isinstance(o, CoachingObservation)] == [
        "R1",
        "R2",
    ]
    assert [(r.location, r.reason) for r in visits + agreed if isinstance(r, Rejected)] == [
        (
            "reports.csv:4",
            "Review_Date__c: 2026-07-02 is in the future (the run date is 2026-06-30)",
        ),
        (
            "actions.csv:3",
            "Agreed_Date__c: 2027-06-01 is in the future (the run date is 2026-06-30)",
        ),
    ]


def test_a_stray_quote_in_the_ratings_file_costs_only_its_line(tmp_path: Path) -> None:
    reports = tmp_path / "reports.csv"
    reports.write_text(
        "Id,Manager_vod__c,Employee_vod__c,Review_Date__c,Status__c\n"
        + "".join(f"R{n},005M,005E,2026-02-03,Submitted\n" for n in range(1, 4)),
        encoding="utf-8",
    )
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        'Coaching_Report__c,Item__c,Value__c\nR1,Objections__c,4\nR2,"Objections__c,3\n'
        "R3,Objections__c,5\n",
        encoding="utf-8",
    )
    items = drain(coaching(reports={"path": reports, "ratings": {"path": ratings}}), "reports")

    rated = {
        o.source_record_id: [r.raw for r in o.ratings]
        for o in items
        if isinstance(o, CoachingObservation)
    }
    assert rated == {"R1": [4.0], "R2": [], "R3": [5.0]}
    assert [r.location for r in items if isinstance(r, Rejected)] == ["ratings.csv:3"]


def test_preflight_does_not_parse_again_a_file_its_cursor_says_is_unchanged(
    tmp_path: Path,
) -> None:
    """Issue 17, point 2 (a run's fixed costs): an unchanged export (its content hash is the
    cursor its last committed read left) is skipped by the read, so the pre-flight does not
    parse it again either; a changed one is checked whole as before. The proof: the pre-flight
    of a utf-8 reading of a cp1252 file stops the run only once the file changed."""
    path = tmp_path / "completions.csv"
    row = "C1,u-1,,MOD-1,Einwände behandeln,completed,2026-02-03T10:00:00Z,\n"
    path.write_bytes((HEADER + row).encode("cp1252"))
    cursor = last_cursor(drain(completions(path, encoding="cp1252"), "completions"))
    assert cursor is not None

    unchanged = completions(path)
    unchanged.restore({"completions": cursor})
    unchanged.preflight()  # not parsed: it is the file the last read committed
    with pytest.raises(ConfigError, match="cannot be read as utf-8"):
        completions(path).preflight()  # no cursor: checked whole

    path.write_bytes((HEADER + row + row.replace("C1", "C2")).encode("cp1252"))
    changed = completions(path)
    changed.restore({"completions": cursor})
    with pytest.raises(ConfigError, match="cannot be read as utf-8"):
        changed.preflight()


def test_preflight_of_coaching_reports_rechecks_when_only_the_ratings_file_changed(
    tmp_path: Path,
) -> None:
    """Issue 17, point 2: the reports stream's cursor covers the reports and the ratings file;
    the pre-flight skips both only while both are unchanged."""
    reports = _one_report(tmp_path)
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        "Coaching_Report__c;Item__c;Value__c\nR1;Objections__c;4,5\n", encoding="utf-8"
    )
    config = {
        "path": reports,
        "ratings": {"path": ratings, "delimiter": ";", "decimal": ","},
    }
    cursor = last_cursor(drain(coaching(reports=config), "reports"))
    assert cursor is not None
    wrong = {**config, "ratings": {**config["ratings"], "decimal": "."}}  # type: ignore[dict-item]

    kept = coaching(reports=wrong)
    kept.restore({"reports": cursor})
    kept.preflight()

    ratings.write_text(
        "Coaching_Report__c;Item__c;Value__c\nR1;Objections__c;3,5\n", encoding="utf-8"
    )
    changed = coaching(reports=wrong)
    changed.restore({"reports": cursor})
    with pytest.raises(ConfigError, match="decimal"):
        changed.preflight()
