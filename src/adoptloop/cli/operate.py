"""`adoptloop check | discover`: what an operator runs before the first sync, as Airbyte,
Meltano and dbt users expect.

- `check` reaches every enabled source with the configured credentials and proves the mapping
  fits it (a file's encoding, header and formats; an API's login and fields), without reading
  data into the store. Exit 0 when every source is fine, else the exit status of the worst
  problem: 2 (configuration or export unusable), 3 (refused us), 75 (unreachable for now).
- `discover` lists each source's columns or fields, which of them the mapping reads, what it
  names that the source lacks, and capability-map items that match nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from adoptloop.cli.common import ConfigOption, JsonOption, fail, handled, load, out

# the worst first: a configuration problem hides the others
_SEVERITY = (2, 3, 75, 70)


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command()(discover)


def _connectors(config: ConfigOption, only: list[str] | None) -> list[Any]:
    from adoptloop.errors import ConfigError
    from adoptloop.pipeline.run import build_connectors
    from adoptloop.settings.capabilities import load_capability_map

    settings, registry = load(config)
    capabilities = load_capability_map(
        settings.capability_map, default_window_days=settings.adoption.window_days
    )
    unknown = sorted(set(only or ()) - set(settings.sources))
    if unknown:
        raise ConfigError(
            f"no source {', '.join(unknown)} in {config}; the sources are "
            f"{', '.join(sorted(settings.sources))}"
        )
    built = build_connectors(settings, registry, capabilities)
    return [c for c in built if not only or c.name in only]


SourceOption = Annotated[
    list[str] | None,
    typer.Option("--source", "-s", help="Only this source (repeatable).", show_default=False),
]


def check(config: ConfigOption, source: SourceOption = None, json: JsonOption = False) -> None:
    """Reach every source and prove the configuration fits it; store nothing."""
    import orjson

    from adoptloop.errors import AdoptloopError, ConfigError

    results: list[dict[str, Any]] = []
    with handled():
        for connector in _connectors(config, source):
            try:
                connector.check()
            except ConfigError as exc:
                results.append(_result(connector, exc.exit_code, "\n".join(exc.problems)))
            except AdoptloopError as exc:
                results.append(_result(connector, exc.exit_code, str(exc)))
            except OSError as exc:  # a path it cannot read
                detail = f"cannot read {exc.filename or ''}: {exc.strerror or exc}"
                results.append(_result(connector, 2, detail))
            except Exception as exc:  # noqa: BLE001 - a bug in a connector: say which, go on
                results.append(_result(connector, 70, f"internal error ({type(exc).__name__})"))
            else:
                results.append(_result(connector, 0, "ok"))
    if json:
        out.print_json(orjson.dumps(results).decode())
    else:
        table = Table(title="check", title_justify="left")
        for column in ("source", "type", "result"):
            table.add_column(column, overflow="fold")
        for r in results:
            table.add_row(
                r["source"], r["type"], "ok" if r["ok"] else f"{r['exit']}: {r['detail']}"
            )
        out.print(table)
    codes = {r["exit"] for r in results if not r["ok"]}
    if codes:
        worst = next((c for c in _SEVERITY if c in codes), max(codes))
        failed = [r["source"] for r in results if not r["ok"]]
        fail(f"check failed for {', '.join(failed)}", worst)


def _result(connector: Any, code: int, detail: str) -> dict[str, Any]:
    return {
        "source": connector.name,
        "type": connector.type_name,
        "ok": code == 0,
        "exit": code,
        "detail": detail,
    }


def discover(config: ConfigOption, source: SourceOption = None, json: JsonOption = False) -> None:
    """Each source's columns or fields, which the mapping reads, and what matches nothing."""
    import orjson

    found: list[dict[str, Any]] = []
    with handled():
        for connector in _connectors(config, source):
            streams = connector.discover()
            if not streams:
                found.append({"source": connector.name, "type": connector.type_name, "streams": []})
                continue
            found.append(
                {
                    "source": connector.name,
                    "type": connector.type_name,
                    "streams": [
                        {
                            "stream": s.stream,
                            "where": s.where,
                            "available": list(s.available),
                            "used": list(s.used),
                            "unused": [a for a in s.available if a not in s.used],
                            "missing": list(s.missing),
                            "unmatched_items": list(s.unmatched_items),
                        }
                        for s in streams
                    ],
                }
            )
    if json:
        out.print_json(orjson.dumps(found).decode())
        return
    for entry in found:
        if not entry["streams"]:
            out.print(f"{entry['source']} ({entry['type']}): this connector does not list fields")
            continue
        table = Table(title=f"{entry['source']} ({entry['type']})", title_justify="left")
        for column in ("stream", "from", "used by the mapping", "not used", "missing"):
            table.add_column(column, overflow="fold")
        for s in entry["streams"]:
            table.add_row(
                s["stream"],
                s["where"],
                ", ".join(s["used"]),
                ", ".join(s["unused"]),
                ", ".join(s["missing"]),
            )
        out.print(table)
        for s in entry["streams"]:
            if s["unmatched_items"]:
                out.print(
                    f"capability-map items that match nothing in {s['where']}: "
                    + ", ".join(s["unmatched_items"])
                )
