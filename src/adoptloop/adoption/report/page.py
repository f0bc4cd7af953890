"""The report's page around its sections: one self-contained HTML document that opens offline.

Plotly's basic bundle (vendor/plotly-basic.min.js: scatter and bar traces, 1.2 MB instead of
the full 4.8 MB bundle) is inlined, the figures travel as JSON in a
<script type="application/json"> block, and a short script draws them. A
Content-Security-Policy forbids every network fetch, so a CDN link could not load. The
sections themselves are written by html.py.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from importlib.resources import files
from typing import Any

CHARTS_ELEMENT = "adoptloop-charts"
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)


def document_parts(
    *, title: str, generator: str, body: Iterable[str], charts: Callable[[], dict[str, Any]]
) -> Iterator[str]:
    """The whole page in pieces, to be written as they are made: head (CSP, style), the pieces
    of `body` (escaped HTML), then the chart specs `charts()` (called once `body` is used up:
    its sections collect them) and the scripts."""
    yield f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">
<meta name="generator" content="{_e(generator)}">
<title>{_e(title)}</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body data-charts="pending">
<main>
"""
    yield from body
    yield f"""
</main>
<script type="application/json" id="{CHARTS_ELEMENT}">"""
    yield from json_parts_for_html(charts())
    yield """</script>
<script id="plotly-js">"""
    yield plotly_basic()
    yield f"""</script>
<script>{_DRAW}</script>
</body>
</html>
"""


@cache
def plotly_basic() -> str:
    """The vendored Plotly basic bundle (see vendor/README.md), read once per process."""
    path = files("adoptloop.adoption.report").joinpath("vendor", "plotly-basic.min.js")
    return path.read_text(encoding="utf-8")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def json_for_html(value: Any) -> str:
    """JSON that cannot close or comment out the <script> element it sits in."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def json_parts_for_html(value: Any) -> Iterator[str]:
    """json_for_html of `value` in pieces, the same text: a dict (with string keys) entry by
    entry and a list holding dicts or lists item by item, each as its own pieces; anything
    else (a list of plain values: a chart's labels or values) whole. The charts' specs, a
    band per team in two of them, are never one string (1.9 MB of text at 50,000 reps, a
    list of its pieces beside it and a copy for each character escaped)."""
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + json_for_html(key) + ":"
            yield from json_parts_for_html(item)
        yield "}"
    elif isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple) for v in value):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from json_parts_for_html(item)
        yield "]"
    else:
        yield json_for_html(value)


_DRAW = """
(function () {
  "use strict";
  var body = document.body;
  function fail(error) {
    body.setAttribute("data-charts", "failed");
    console.error("adoptloop report: a chart could not be drawn", error);
  }
  try {
    var specs = JSON.parse(document.getElementById("__CHARTS__").textContent);
    var drawing = Object.keys(specs).map(function (id) {
      var spec = specs[id];
      return Plotly.newPlot(id, spec.data, spec.layout, spec.config);
    });
    Promise.all(drawing).then(function () { body.setAttribute("data-charts", "ready"); }, fail);
  } catch (error) {
    fail(error);
  }
})();
""".replace("__CHARTS__", CHARTS_ELEMENT)

_CSS = """
:root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --rule: #d9dee4;
  --soft: #f5f7fa; --accent: #08306b; --hatch: #9aa5b1; --bad: #b91c1c; --good: #047857; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink); font-size: 15px; line-height: 1.5;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 28px; font-weight: 650; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 21px; font-weight: 620; margin: 8px 0 4px; }
h3 { font-size: 16px; margin: 24px 0 4px; }
.meta { color: var(--muted); margin: 0; }
.guide { margin: 16px 0 0; padding: 12px 16px; background: var(--soft);
  border-left: 4px solid var(--accent); max-width: 80ch; }
.tally { margin: 10px 0 0; font-size: 14px; color: var(--muted); }
nav ol { list-style: none; padding: 0; margin: 18px 0 0; display: flex; flex-wrap: wrap;
  gap: 4px 18px; font-size: 14px; }
nav a, details summary { color: var(--accent); }
section { margin-top: 40px; padding-top: 8px; border-top: 1px solid var(--rule); }
.lede { color: var(--muted); margin: 0 0 12px; max-width: 80ch; }
.empty { color: var(--muted); font-style: italic; }
figure { margin: 20px 0 32px; break-inside: avoid; }
figcaption { font-weight: 600; font-size: 16px; margin-bottom: 4px; }
.chart { width: 100%; min-height: 140px; }
.summary { margin: 6px 0 0; font-size: 14px; max-width: 80ch; }
.key { list-style: none; padding: 0; margin: 10px 0 0; display: flex; flex-wrap: wrap;
  gap: 4px 20px; font-size: 13px; color: var(--muted); }
.swatch { display: inline-block; width: 20px; height: 14px; margin-right: 6px;
  vertical-align: -2px; border: 1px solid var(--hatch); }
.swatch.scale { background: linear-gradient(90deg, #e3eef9, #6baed6, #08306b); border: 0; }
.swatch.hatched, td.suppressed { background: repeating-linear-gradient(135deg,
  var(--soft) 0 4px, #c8ced6 4px 5px); }
.swatch.counts { border-style: dotted; }
.swatch.below, .swatch.above { text-align: center; font-size: 11px; line-height: 12px; }
.swatch.below { border: 2px solid var(--bad); color: var(--bad); }
.swatch.above { border: 2px solid var(--good); color: var(--good); }
.mark { display: inline-block; width: 20px; margin-right: 6px; text-align: center;
  color: var(--ink); font-weight: 700; }
.table-wrap { overflow-x: auto; margin-top: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 14px;
  font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 8px 0 4px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--rule);
  vertical-align: top; }
thead th { font-weight: 600; border-bottom: 2px solid var(--ink); }
.num { text-align: right; }
.nowrap { white-space: nowrap; }
tr.suppressed, tr.counts-only, td.suppressed, td.counts-only { color: var(--muted); }
table.grid td { text-align: center; min-width: 92px; white-space: nowrap; }
table.grid td.below { box-shadow: inset 0 0 0 3px var(--bad); }
table.grid td.above { box-shadow: inset 0 0 0 3px var(--good); }
.versus { font-size: 11px; margin-right: 3px; }
td.below .versus { color: var(--bad); }
td.above .versus { color: var(--good); }
table.grid td[style] .small { color: inherit; opacity: 0.85; }
.cards { list-style: none; padding: 0; margin: 12px 0 0; display: grid; gap: 12px; }
.card { border: 1px solid var(--rule); border-left: 6px solid var(--bad); padding: 10px 16px;
  border-radius: 4px; }
.card.works { border-left-color: var(--good); }
.card.coverage { border-left-color: #b45309; }
.card h3 { margin: 0 0 4px; font-size: 17px; }
.card p { margin: 4px 0; }
.badge { display: inline-block; margin-left: 10px; padding: 1px 8px; font-size: 12px;
  font-weight: 600; border-radius: 10px; background: var(--soft); color: var(--ink);
  vertical-align: 2px; }
.evidence { color: var(--muted); font-size: 14px; }
div.stale { margin: 16px 0 0; padding: 12px 16px; border: 2px solid var(--bad);
  background: #fdecea; color: var(--bad); border-radius: 4px; }
div.stale ul { margin: 6px 0; }
section.alert h2 { color: var(--bad); }
tr.stale td { color: var(--bad); font-weight: 600; }
dl.states { display: grid; gap: 4px; margin: 10px 0 0; font-size: 14px; }
dl.states div { display: flex; gap: 8px; }
dl.states dt { font-weight: 600; min-width: 90px; text-transform: capitalize; }
dl.states dd { margin: 0; }
.small { display: block; font-size: 12px; color: var(--muted); }
details { margin-top: 8px; font-size: 14px; }
details summary { cursor: pointer; }
dl.defs dt { font-weight: 600; margin-top: 12px; }
dl.defs dd { margin: 2px 0 0; max-width: 80ch; }
.notes { padding-left: 20px; }
footer { margin-top: 48px; padding-top: 12px; border-top: 1px solid var(--rule);
  color: var(--muted); font-size: 13px; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav, details { display: none; }
  section { border-top-color: #999; }
  .guide { border-left-color: #000; }
}
"""
