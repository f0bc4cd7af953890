"""Tests for located YAML loading and secret references (adoptloop.settings.yaml)."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from adoptloop.errors import ConfigError
from adoptloop.fields import Reference, Resolved
from adoptloop.settings.yaml import Located, Mark, load_located


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _error(path: Path, environ: dict[str, str] | None = None) -> str:
    """The error of loading `path` and expanding every reference (as secret fields do)."""

    def load_and_expand() -> None:
        located = load_located(path, environ=environ if environ is not None else {})
        for reference in located.references:
            reference.resolve()

    with pytest.raises(ConfigError) as caught:
        load_and_expand()
    message = str(caught.value)
    assert caught.value.problems == [message]
    assert "\n" not in message
    return message


# --- positions ------------------------------------------------------------------------------


def test_marks_give_line_and_column_of_nested_keys_and_list_items(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.yaml",
        """
        xapi:
          actor:
            key: value
        sources:
          lms:
            identity:
              - {attribute: user_email, person_field: email}
              - attribute: employee_id
                person_field: employee_number
        """,
    )

    located = load_located(config, environ={})

    assert located.marks[("xapi",)] == Mark(1, 1)
    assert located.marks[("xapi", "actor", "key")] == Mark(3, 5)
    assert located.marks[("sources", "lms", "identity", 0)] == Mark(7, 9)
    assert located.marks[("sources", "lms", "identity", 0, "person_field")] == Mark(7, 33)
    assert located.marks[("sources", "lms", "identity", 1)] == Mark(8, 9)
    assert located.marks[("sources", "lms", "identity", 1, "person_field")] == Mark(9, 9)
    assert located.data["sources"]["lms"]["identity"][1] == {
        "attribute": "employee_id",
        "person_field": "employee_number",
    }


def test_where_falls_back_to_the_closest_written_parent(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", "xapi:\n  actor:\n    home_page: x\n")

    located = load_located(config, environ={})

    assert located.where(("xapi", "actor", "key")) == f"{config}:2:3"
    assert located.where(("xapi", "actor", "home_page")) == f"{config}:3:5"
    assert located.where(("nowhere",)) == f"{config}:1:1"


# --- references -----------------------------------------------------------------------------


def test_env_reference_is_kept_as_written_and_resolved_only_on_request(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.yaml",
        """
        key: ${ADOPTLOOP_ACTOR_KEY}
        literal: typed-into-the-yaml
        """,
    )

    data = load_located(config, environ={"ADOPTLOOP_ACTOR_KEY": "s3cret-value"}).data

    assert isinstance(data["key"], Reference)
    assert data["key"] == "${ADOPTLOOP_ACTOR_KEY}"  # not expanded until a secret field asks
    assert data["key"].resolve() == "s3cret-value"
    assert isinstance(data["key"].resolve(), Resolved)
    assert not isinstance(data["literal"], Reference | Resolved)


def test_env_reference_inside_a_longer_string_is_substituted(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", "url: postgresql+psycopg://app:${PGPASSWORD}@db/adopt\n")

    data = load_located(config, environ={"PGPASSWORD": "pw"}).data

    assert data["url"].resolve() == "postgresql+psycopg://app:pw@db/adopt"


def test_env_references_come_from_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADOPTLOOP_TEST_TOKEN", "from-env")
    config = _write(tmp_path / "c.yaml", "token: ${ADOPTLOOP_TEST_TOKEN}\n")

    assert load_located(config).data["token"].resolve() == "from-env"


def test_unset_env_var_is_a_located_error_naming_the_variable(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.yaml",
        """
        xapi:
          actor:
            key: ${ADOPTLOOP_ACTOR_KEY}
        """,
    )

    message = _error(config, environ={"OTHER": "x"})

    assert message == f"{config}:3:10 environment variable ADOPTLOOP_ACTOR_KEY is not set"


def test_reference_that_is_neither_env_nor_file_is_refused(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", "key: ${vault:secret/key}\n")

    message = _error(config)

    assert message.startswith(f"{config}:1:6 ")
    assert "'${vault:secret/key}' is neither ${ENV_VAR} nor ${file:/path}" in message


def test_file_reference_is_relative_to_the_yaml_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(tmp_path / "conf" / "c.yaml", "key: ${file:secrets/actor-key.txt}\n")
    _write(tmp_path / "conf" / "secrets" / "actor-key.txt", "from-the-file\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    data = load_located(config, environ={}).data

    assert data["key"].resolve() == "from-the-file"  # trailing newline stripped


def test_file_reference_accepts_an_absolute_path(tmp_path: Path) -> None:
    secret = _write(tmp_path / "secrets" / "key.txt", "abs-secret")
    config = _write(tmp_path / "conf" / "c.yaml", f"key: ${{file:{secret}}}\n")

    assert load_located(config, environ={}).data["key"].resolve() == "abs-secret"


def test_missing_secret_file_is_a_located_error(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.yaml",
        """
        xapi:
          actor:
            key: ${file:missing-key.txt}
        """,
    )

    message = _error(config)

    assert message == f"{config}:3:10 secret file {tmp_path / 'missing-key.txt'} not found"


def test_secret_file_that_is_not_text_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "key.bin").write_bytes(b"\xff\xfe\x00\x81")
    config = _write(tmp_path / "c.yaml", "key: ${file:key.bin}\n")

    message = _error(config)

    assert (
        message
        == f"{config}:1:6 secret file {tmp_path / 'key.bin'} cannot be read (UnicodeDecodeError)"
    )


# --- broken YAML ----------------------------------------------------------------------------


def test_invalid_yaml_is_a_located_error_with_line_and_column(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.yaml",
        """
        xapi:
          namespace: https://x.example.com
            actor: nested-too-deep
        """,
    )

    message = _error(config)

    assert re.fullmatch(rf"{re.escape(str(config))}:3:\d+ invalid YAML: .+", message)


def test_unclosed_flow_mapping_is_a_located_error(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", "identity:\n  - {attribute: user_email\n")

    message = _error(config)

    assert re.fullmatch(rf"{re.escape(str(config))}:\d+:\d+ invalid YAML: .+", message)


def test_duplicate_key_is_a_located_error(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "c.yaml",
        """
        sources:
          crm:
            type: file-coaching
          crm:
            type: file-people
        """,
    )

    message = _error(config)

    assert message == f"{config}:4:3 duplicate key 'crm'"


def test_impossible_date_is_a_located_error_not_a_crash(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", "adoption:\n  as_of: 2026-13-45\n")

    message = _error(config)

    assert message == f"{config}:2:10 invalid value: month must be in 1..12"


def test_unknown_tag_is_a_located_error_not_a_crash(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", "store:\n  url: !Ref StoreUrl\n")

    message = _error(config)

    assert message.startswith(f"{config}:2:8 invalid YAML: ")
    assert "!Ref" in message


def test_control_character_is_a_located_error_not_a_crash(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", "a: 1\nb: x\x07y\n")

    message = _error(config)

    assert message == f"{config}:2:5 invalid YAML: character #x0007 is not allowed"


def test_non_string_mapping_key_is_refused(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.yaml", "? [a, b]\n: 1\n")

    message = _error(config)

    assert message == f"{config}:1:3 mapping keys must be strings"


# --- empty and missing files ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_empty_file_gives_an_empty_mapping(tmp_path: Path, text: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text, encoding="utf-8")

    located = load_located(config, environ={})

    assert located == Located(config, {}, {})


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: file not found"


def test_an_alias_bomb_is_a_config_error_not_a_full_memory(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    config = _write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")

    message = _error(config)

    assert "expands to more than 100,000 values" in message
    assert message.startswith(f"{config}:")
