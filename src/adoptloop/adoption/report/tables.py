"""The report's group x capability grids as HTML tables: a heatmap that needs no script.

Each cell shows its figure (a percentage, "3/7" counts only, or "n<5"), its size and interval,
with the full reading in its tooltip (title). A shown percentage is shaded on one 0-100% scale
(chartkit.SHARE_SCALE); a cell whose whole Wilson interval sits below the org's figure is
marked ▼ with a red edge, above it ▲ with a green one, so good and bad never look alike.
"""

# Ranges are typeset with en dashes (5–9 people, 0–100%) on purpose: readers see them.
# ruff: noqa: RUF003

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence

from adoptloop.adoption.report.chartkit import (
    DIRECTIONAL_MARK,
    cell_view,
    interval,
    ordered,
    pct,
    share_colour,
)
from adoptloop.adoption.report.data import Cell

_NUM = ' class="num"'
MARKS = {"below": "▼", "above": "▲"}


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def table(
    head: Sequence[tuple[str, bool]],
    rows: Iterable[str],
    caption: str = "",
    titles: Sequence[str] = (),
) -> str:
    """A table in a scrolling wrapper; `head` is (label, numeric); `titles` are header tooltips."""
    return "".join(table_parts(head, rows, caption, titles))


def table_parts(
    head: Sequence[tuple[str, bool]],
    rows: Iterable[str],
    caption: str = "",
    titles: Sequence[str] = (),
) -> Iterator[str]:
    """`table` in pieces, its rows as `rows` makes them: a table of a row per team is written
    row by row, never held whole (1.6 MB of text at 50,000 reps, held three times over as it
    was joined)."""
    cols = "".join(
        f'<th scope="col"{_NUM if num else ""}'
        + (f' title="{e(titles[i])}"' if i < len(titles) and titles[i] else "")
        + f">{e(h)}</th>"
        for i, (h, num) in enumerate(head)
    )
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    yield f'<div class="table-wrap"><table>{cap}<thead><tr>{cols}</tr></thead><tbody>'
    yield from rows
    yield "</tbody></table></div>"


def grid(table_id: str, metric: str, cells: Sequence[Cell], group_label: str = "Region") -> str:
    """Groups (rows) x capabilities (columns), every cell as cell_view reads it."""
    groups = ordered(c.group for c in cells)
    capabilities = ordered(c.capability for c in cells)
    lookup = {(c.group, c.capability): c for c in cells}
    rows = []
    for group in groups:
        tds = [_grid_cell(metric, group, lookup.get((group, cap))) for cap in capabilities]
        rows.append(f'<tr><th scope="row">{e(group)}</th>{"".join(tds)}</tr>')
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in capabilities)
    return (
        f'<div class="table-wrap"><table class="grid" id="{e(table_id)}" '
        f'aria-label="{e(metric)} by {e(group_label.lower())} and capability">'
        f'<thead><tr><th scope="col">{e(group_label)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _grid_cell(metric: str, group: str, cell: Cell | None) -> str:
    view = cell_view(cell)
    classes = ["cell", view.kind]
    style = ""
    note = view.size
    if cell is not None and view.kind in ("directional", "comparable") and cell.value is not None:
        colour = share_colour(cell.value)
        ink = "#ffffff" if cell.value > 55 else "#1f2933"
        style = f' style="background:{colour};color:{ink}"'
        note = interval(cell.ci_low, cell.ci_high).replace("95% CI ", "") + f" · {view.size}"
    mark = ""
    if view.versus_org:
        classes.append(view.versus_org)
        mark = f'<span class="versus">{MARKS[view.versus_org]}</span>'
    title = f"{group} · {cell.capability if cell else ''} — {metric}: {view.detail}"
    return (
        f'<td class="{" ".join(classes)}"{style} title="{e(title)}">{mark}{e(view.figure)}'
        f'<span class="small">{e(note)}</span></td>'
    )


def summary(metric: str, cells: Sequence[Cell]) -> str:
    """One sentence on a grid: its range and what the small-number rules withheld."""
    views = [(c, cell_view(c)) for c in cells]
    shown = [c for c, v in views if v.kind in ("directional", "comparable") and c.value is not None]
    kinds = [v.kind for _, v in views]
    withheld = (
        f"{kinds.count('suppressed')} suppressed (n<5), "
        f"{kinds.count('counts-only')} counts only, "
        f"{kinds.count('directional')} directional ({DIRECTIONAL_MARK})."
    )
    below = sum(1 for _, v in views if v.versus_org == "below")
    above = sum(1 for _, v in views if v.versus_org == "above")
    if not shown:
        return f"{metric}: no cell is large enough to show a percentage; {withheld}"
    low = min(shown, key=lambda c: c.value or 0.0)
    high = max(shown, key=lambda c: c.value or 0.0)
    return (
        f"{metric} across {len(cells)} cells: from {pct(low.value)} ({low.group}, "
        f"{low.capability}) to {pct(high.value)} ({high.group}, {high.capability}); "
        f"{below} below the org (▼), {above} above it (▲); {withheld}"
    )
