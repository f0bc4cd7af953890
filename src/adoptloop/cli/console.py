"""The console commands print to: rich on a terminal, plain and full-width anywhere else.

Under cron, in a pipe or into a file there is no terminal width to fit, and a table wrapped at
80 columns splits its rows over several lines (and cuts its values), which nobody can grep.
So when stdout is not a terminal:

- the width is unlimited (COLUMNS is ignored): every row of a table stays on one line;
- tables are drawn with ASCII characters (`+`, `-`, `|`);
- a table's title is printed on its own line before it, not wrapped to the table's width;
- no colour (rich leaves it out for a stream that is not a terminal).

On a terminal nothing changes. Whether stdout is a terminal is asked at every print, so the
same console object serves a test's captured output as well as a real terminal.
"""

from __future__ import annotations

import copy
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.table import Table

PLAIN_WIDTH = 10_000  # wider than any row adoptloop prints; rich pads nothing to it


class OutputConsole(Console):
    """A rich Console that prints plain, full-width text when not on a terminal."""

    @property
    def plain(self) -> bool:
        return not self.is_terminal

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return ConsoleDimensions(PLAIN_WIDTH, size.height) if self.plain else size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    @property
    def encoding(self) -> str:
        # rich draws boxes with ASCII when the encoding is not a UTF one; only the drawing
        # reads this (the text itself is written as it is)
        return "ascii" if self.plain else super().encoding

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if self.plain and any(isinstance(o, Table) and o.title for o in objects):
            for item in objects:
                shown = item
                if isinstance(item, Table) and item.title:
                    super().print(item.title, soft_wrap=True)
                    shown = copy.copy(item)
                    shown.title = None
                super().print(shown, **kwargs)
            return
        super().print(*objects, **kwargs)
