"""`adoptloop version | init | validate | config schema`: getting a configuration right."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adoptloop import __version__
from adoptloop.cli.common import ConfigOption, fail, handled, load, out

if TYPE_CHECKING:
    from adoptloop.connectors.registry import Registry


def register(app: typer.Typer) -> None:
    app.command()(version)
    app.command()(init)
    app.command()(validate)
    config_app = typer.Typer(help="Configuration helpers.", no_args_is_help=True)
    config_app.command("schema")(config_schema)
    app.add_typer(config_app, name="config")


def version() -> None:
    """Print the version."""
    out.print(__version__)


def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path(),
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write a commented starter config (adoptloop.yaml) and capability map."""
    templates = resources.files("adoptloop") / "templates"
    directory.mkdir(parents=True, exist_ok=True)
    targets = {
        "adoptloop.yaml": directory / "adoptloop.yaml",
        "capabilities.yaml": directory / "capabilities.yaml",
    }
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not force:
        fail(f"not overwriting {', '.join(existing)} (use --force)", 2)
    for name, target in targets.items():
        target.write_text((templates / name).read_text(encoding="utf-8"), encoding="utf-8")
        out.print(f"wrote {target}")
    out.print(
        "next: set ADOPTLOOP_ACTOR_KEY, point the sources at your exports, then "
        f"`adoptloop validate --config {targets['adoptloop.yaml']}`"
    )


def validate(config: ConfigOption) -> None:
    """Check a config file (and the files it references) without running anything."""
    from adoptloop.pipeline.checks import check_inputs, check_roles
    from adoptloop.settings.capabilities import load_capability_map

    with handled():
        settings, registry = load(config)
        capabilities = load_capability_map(settings.capability_map)
        check_inputs(settings, registry, capabilities)  # a file's encoding, header, formats
        check_roles(settings, registry, capabilities)
        out.print(
            f"{config}: ok ({len(settings.sources)} sources, "
            f"{len(capabilities.capabilities)} capabilities, delivery to {settings.delivery.target})",
            soft_wrap=True,
        )


def config_schema(
    output: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of the config file (for editor completion and validation)."""
    from adoptloop.connectors.registry import Registry

    text = render_schema(Registry.from_entry_points())
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")


def render_schema(registry: Registry) -> str:
    from adoptloop.settings.model import settings_model

    schema = settings_model(registry).model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "adoptloop configuration"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
