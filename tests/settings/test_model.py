"""Tests for loading the YAML config into settings (adoptloop.settings.model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adoptloop.connectors.registry import Registry
from adoptloop.errors import ConfigError
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.settings.model import Settings, load_settings
from tests.support import DEMO_CONFIG

_LRS = """delivery:
  target: lrs
  lrs:
    endpoint: https://lrs.example.com/xAPI/
"""
_DELIVERY = "delivery:\n  target: store"


@pytest.fixture
def registry() -> Registry:
    return Registry.from_entry_points()


def _edit(config: Path, old: str, new: str) -> Path:
    """Replace the one occurrence of `old` in the config file."""
    text = config.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {config}"
    config.write_text(text.replace(old, new), encoding="utf-8")
    return config


def _at(config: Path, needle: str) -> str:
    """`file:line:col` of the first occurrence of `needle` in the config file."""
    text = config.read_text(encoding="utf-8")
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{config}:{line}:{column}"


def _only_problem(config: Path, registry: Registry) -> str:
    """Load `config`, expecting exactly one problem; it must be one located line."""
    with pytest.raises(ConfigError) as caught:
        load_settings(config, registry)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    assert str(caught.value) == problems[0]
    assert "\n" not in problems[0]
    assert re.match(rf"{re.escape(str(config))}:\d+:\d+ ", problems[0]), problems[0]
    return problems[0]


# --- the demo -------------------------------------------------------------------------------


def test_demo_config_loads(registry: Registry) -> None:
    settings = load_settings(DEMO_CONFIG, registry)

    assert isinstance(settings, Settings)
    assert settings.config_path == DEMO_CONFIG.resolve()
    assert set(settings.sources) == {"hris", "lms", "crm"}
    assert settings.delivery.target == "store"
    assert settings.adoption.window_days == 90
    assert settings.xapi.namespace == "https://xapi.example-pharma.com/adoptloop"


def test_settings_are_frozen(registry: Registry) -> None:
    settings = load_settings(DEMO_CONFIG, registry)

    with pytest.raises(ValueError, match="frozen"):
        settings.adoption.window_days = 30  # type: ignore[misc]


# --- typos ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "dotted", "right"),
    [
        ("    reports:\n", "    reprots:\n", "sources.crm.reprots", "reports"),
        ("  namespace:", "  namspace:", "xapi.namspace", "namespace"),
        ("    home_page:", "    homepage:", "xapi.actor.homepage", "home_page"),
        ("  window_days:", "  window_dyas:", "adoption.window_dyas", "window_days"),
        ("\nsources:", "\nsorces:", "sorces", "sources"),
    ],
)
def test_typo_names_place_path_and_the_right_key(
    demo_config: Path, registry: Registry, old: str, new: str, dotted: str, right: str
) -> None:
    _edit(demo_config, old, new)
    typo = dotted.rsplit(".", 1)[-1]

    message = _only_problem(demo_config, registry)

    where = _at(demo_config, f"{typo}:")
    assert message == f"{where} {dotted}: unknown field (did you mean '{right}')"


@pytest.mark.parametrize(
    ("old", "new", "dotted", "right"),
    [
        (
            "    path: demo/hris/people.csv",
            "    pth: demo/hris/people.csv",
            "sources.hris.pth",
            "path",
        ),
        ("    timezone:", "    timezon:", "sources.crm.timezon", "timezone"),
        (
            "      path: demo/crm/users.csv",
            "      paht: demo/crm/users.csv",
            "sources.crm.users.paht",
            "path",
        ),
        (
            "      - {attribute: user_email, person_field: email}",
            "      - {attribute: user_email, person_feild: email}",
            "sources.lms.identity.0.person_feild",
            "person_field",
        ),
    ],
)
def test_typo_inside_a_connector_suggests_the_connectors_key(
    demo_config: Path, registry: Registry, old: str, new: str, dotted: str, right: str
) -> None:
    _edit(demo_config, old, new)
    typo = dotted.rsplit(".", 1)[-1]

    message = _only_problem(demo_config, registry)

    assert message == (
        f"{_at(demo_config, f'{typo}:')} {dotted}: unknown field (did you mean '{right}')"
    )


def test_unknown_key_without_a_close_match_lists_the_valid_keys(
    demo_config: Path, registry: Registry
) -> None:
    _edit(demo_config, "  window_days: 90", "  window_days: 90\n  colour: blue")

    message = _only_problem(demo_config, registry)

    assert message == (
        f"{_at(demo_config, 'colour:')} adoption.colour: unknown field "
        "(valid here: as_of, by, output_dir, publish_estimates, report, window_days, write_back, "
        "write_back_dry_run)"
    )


def test_report_settings_default_to_names_and_a_two_day_staleness_limit(
    demo_config: Path, registry: Registry
) -> None:
    """Issue 16 point 4: adoption.report.show_names (default true: HR display names; false: the
    actor pseudonyms) and stale_after_days (default 2) are config, checked like the rest."""
    report = load_settings(demo_config, registry).adoption.report
    assert (report.show_names, report.stale_after_days) == (True, 2)

    _edit(
        demo_config,
        "  window_days: 90",
        "  window_days: 90\n  report:\n    show_names: false\n    stale_after_days: 3",
    )
    report = load_settings(demo_config, registry).adoption.report
    assert (report.show_names, report.stale_after_days) == (False, 3)

    _edit(demo_config, "    show_names: false", "    show_name: false")
    message = _only_problem(demo_config, registry)
    assert message == (
        f"{_at(demo_config, 'show_name:')} adoption.report.show_name: unknown field "
        "(did you mean 'show_names')"
    )


# --- referenced files -----------------------------------------------------------------------


def test_missing_capability_map_names_its_absolute_path(
    demo_config: Path, registry: Registry
) -> None:
    _edit(demo_config, "capability_map: demo/capabilities.yaml", "capability_map: demo/caps.yaml")

    message = _only_problem(demo_config, registry)

    missing = demo_config.parent.resolve() / "demo" / "caps.yaml"
    assert message == (
        f"{_at(demo_config, 'capability_map:')} capability_map: {missing} does not exist"
    )


@pytest.mark.parametrize(
    ("old", "dotted"),
    [
        ("demo/lms/completions.csv", "sources.lms.path"),
        ("demo/crm/calls.csv", "sources.crm.calls.path"),
    ],
)
def test_missing_connector_file_names_its_absolute_path(
    demo_config: Path, registry: Registry, old: str, dotted: str
) -> None:
    _edit(demo_config, old, "exports/gone.csv")

    message = _only_problem(demo_config, registry)

    missing = demo_config.parent.resolve() / "exports" / "gone.csv"
    where = _at(demo_config, "path: exports/gone.csv")
    assert message == f"{where} {dotted}: {missing} does not exist"


# --- wrong values ---------------------------------------------------------------------------


def test_wrong_type_is_one_located_line(demo_config: Path, registry: Registry) -> None:
    _edit(demo_config, "window_days: 90", "window_days: ninety")

    message = _only_problem(demo_config, registry)

    assert message.startswith(f"{_at(demo_config, 'window_days:')} adoption.window_days: ")
    assert "valid integer" in message


def test_out_of_range_batch_size_is_one_located_line(demo_config: Path, registry: Registry) -> None:
    _edit(demo_config, _DELIVERY, _LRS + "    batch_size: 5000\n#")

    message = _only_problem(demo_config, registry)

    assert message == (
        f"{_at(demo_config, 'batch_size:')} delivery.lrs.batch_size: "
        "Input should be less than or equal to 1000"
    )


def test_relative_url_is_refused(demo_config: Path, registry: Registry) -> None:
    _edit(demo_config, "namespace: https://xapi.example-pharma.com/adoptloop", "namespace: /x")

    message = _only_problem(demo_config, registry)

    assert message == (
        f"{_at(demo_config, 'namespace:')} xapi.namespace: '/x' is not an absolute http(s) URL"
    )


@pytest.mark.parametrize(
    ("old", "new", "dotted"),
    [
        ("key: ${file:demo/actor-key.txt}", "key: plaintext-actor-key-123", "xapi.actor.key"),
        (
            _DELIVERY,
            _LRS + "    username: lrs-user\n    password: ${file:demo/actor-key.txt}\n#",
            "delivery.lrs.username",
        ),
    ],
)
def test_literal_secret_is_refused_with_the_reference_hint(
    demo_config: Path, registry: Registry, old: str, new: str, dotted: str
) -> None:
    _edit(demo_config, old, new)

    message = _only_problem(demo_config, registry)

    field = dotted.rsplit(".", 1)[-1]
    assert message.startswith(f"{_at(demo_config, f'{field}:')} {dotted}: ")
    assert "may not be written into the YAML" in message
    assert "${ENV_VAR}" in message


def test_secret_from_the_environment_is_accepted_and_hidden(
    demo_config: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADOPTLOOP_ACTOR_KEY", "an-actor-key-from-env")
    _edit(demo_config, "${file:demo/actor-key.txt}", "${ADOPTLOOP_ACTOR_KEY}")

    settings = load_settings(demo_config, registry)

    assert settings.xapi.actor.key.get_secret_value() == "an-actor-key-from-env"
    assert "an-actor-key-from-env" not in repr(settings)


def test_actor_key_shorter_than_16_bytes_is_refused(
    demo_config: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADOPTLOOP_ACTOR_KEY", "too-short")
    _edit(demo_config, "${file:demo/actor-key.txt}", "${ADOPTLOOP_ACTOR_KEY}")

    message = _only_problem(demo_config, registry)

    assert message == (
        f"{_at(demo_config, 'key: ${ADOPTLOOP_ACTOR_KEY}')} xapi.actor.key: "
        "the actor key must be at least 16 bytes"
    )
    assert "too-short" not in message


def test_unknown_connector_type_lists_the_valid_types(
    demo_config: Path, registry: Registry
) -> None:
    _edit(demo_config, "type: file-people", "type: file-peeple")

    message = _only_problem(demo_config, registry)

    assert message.startswith(f"{_at(demo_config, 'type: file-peeple')} sources.hris.type: ")
    assert "unknown connector type 'file-peeple' (did you mean 'file-people'" in message
    for valid in ("'file-coaching'", "'file-completions'", "'file-people'"):
        assert valid in message


def test_lrs_target_without_lrs_section_is_refused(demo_config: Path, registry: Registry) -> None:
    _edit(demo_config, "target: store ", "target: lrs   ")

    message = _only_problem(demo_config, registry)

    assert message == (
        f"{_at(demo_config, 'delivery:')} delivery: "
        "target 'lrs' needs an `lrs:` section with at least `endpoint`"
    )


def test_lrs_target_with_lrs_section_loads(demo_config: Path, registry: Registry) -> None:
    _edit(demo_config, _DELIVERY, _LRS + "#")

    settings = load_settings(demo_config, registry)

    assert settings.delivery.lrs is not None
    assert settings.delivery.lrs.endpoint == "https://lrs.example.com/xAPI/"


def test_config_without_an_enabled_source_is_refused(demo_config: Path, registry: Registry) -> None:
    for name in ("hris", "lms", "crm"):
        _edit(demo_config, f"  {name}:\n", f"  {name}:\n    enabled: false\n")

    message = _only_problem(demo_config, registry)

    assert message.endswith(" (top level): configure at least one enabled source under `sources:`")


def test_several_mistakes_are_each_reported_on_their_own_line(
    demo_config: Path, registry: Registry
) -> None:
    _edit(demo_config, "window_days: 90", "window_days: ninety")
    _edit(demo_config, "  namespace:", "  namspace:")

    with pytest.raises(ConfigError) as caught:
        load_settings(demo_config, registry)

    problems = caught.value.problems
    assert [p.split(" ", 2)[1] for p in problems] == ["xapi.namspace:", "adoption.window_days:"]
    assert all("\n" not in p for p in problems)


# --- paths relative to the config file ------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    demo_dir = DEMO_CONFIG.parent.resolve()

    settings = load_settings(DEMO_CONFIG, registry)

    assert settings.capability_map == demo_dir / "demo" / "capabilities.yaml"
    assert settings.sources["hris"].model_dump()["path"] == demo_dir / "demo/hris/people.csv"
    assert settings.adoption.output_dir == demo_dir / "state" / "out"


def test_relative_config_path_works_from_its_parent_folder(
    demo_config: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_config.parent.parent)

    settings = load_settings(Path(demo_config.parent.name) / demo_config.name, registry)

    assert settings.config_path == demo_config.resolve()
    assert settings.capability_map == demo_config.parent.resolve() / "demo" / "capabilities.yaml"


def test_sqlite_store_url_is_made_absolute_relative_to_the_config_folder(
    demo_config: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_config.parent / "demo")

    settings = load_settings(demo_config, registry)

    assert settings.store.url == f"sqlite:///{demo_config.parent.resolve() / 'state' / 'demo.db'}"


def test_omitted_store_and_output_dir_default_next_to_the_config(
    demo_config: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _edit(demo_config, "store:\n  url: sqlite:///state/demo.db", "")
    _edit(demo_config, "  output_dir: state/out\n", "")
    monkeypatch.chdir(demo_config.parent / "demo")
    folder = demo_config.parent.resolve()

    settings = load_settings(demo_config, registry)

    assert settings.store.url == f"sqlite:///{folder / 'state' / 'adoptloop.db'}"
    assert settings.adoption.output_dir == folder / "out"


@pytest.mark.parametrize(
    "url", ["sqlite:////var/lib/adoptloop/store.db", "sqlite:///:memory:", "postgresql://h/db"]
)
def test_absolute_and_non_file_store_urls_are_kept(
    demo_config: Path, registry: Registry, url: str
) -> None:
    _edit(demo_config, "url: sqlite:///state/demo.db", f'url: "{url}"')

    assert load_settings(demo_config, registry).store.url == url


@pytest.mark.parametrize(
    ("old", "new", "dotted"),
    [
        (  # a label that would put the actor key into every statement
            "  namespace: https://xapi.example-pharma.com/adoptloop",
            "  namespace: https://xapi.example-pharma.com/${file:demo/actor-key.txt}",
            "xapi.namespace",
        ),
        (
            "url: sqlite:///state/demo.db",
            "url: postgresql+psycopg://app@${PGPASSWORD}/adoptloop",
            "store.url",
        ),
    ],
)
def test_a_reference_outside_a_secret_field_is_refused_without_expanding_it(
    demo_config: Path,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    old: str,
    new: str,
    dotted: str,
) -> None:
    monkeypatch.setenv("PGPASSWORD", "the-database-password")
    _edit(demo_config, old, new)
    key = (demo_config.parent / "demo" / "actor-key.txt").read_text(encoding="utf-8").strip()

    message = _only_problem(demo_config, registry)

    assert f" {dotted}: " in message
    assert "work only in secret fields" in message
    assert key not in message
    assert "the-database-password" not in message


def test_a_reference_in_the_capability_map_is_refused(
    demo_config: Path, registry: Registry
) -> None:
    capabilities = demo_config.parent / "demo" / "capabilities.yaml"
    text = capabilities.read_text(encoding="utf-8")
    assert "name: Opening the call" in text
    capabilities.write_text(
        text.replace("name: Opening the call", 'name: "${file:actor-key.txt}"'), encoding="utf-8"
    )

    with pytest.raises(ConfigError, match="work only in secret fields"):
        load_capability_map(capabilities)
