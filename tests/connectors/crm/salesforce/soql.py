"""A small SOQL interpreter for the fake org: the subset the connector sends, evaluated for real.

SELECT f, ... | COUNT() FROM Obj [WHERE expr] [ORDER BY f [, f]] where expr combines
comparisons (=, !=, <, <=, >, >=, IN (...), NOT IN (...)) with AND / OR / NOT and parentheses.
Values: 'strings', dateTime (2024-01-02T10:00:00Z), dates, numbers, true / false / null.
Relationship paths (RecordType.DeveloperName, Survey_Target_vod__r.RecordType.DeveloperName)
are resolved by a callback the org provides.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]
Resolve = Callable[[Record, str], Any]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op><=|>=|!=|=|<|>)"
    r"|(?P<punct>[(),])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


def _ts(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def sf_ts(text: str) -> datetime:
    """A stored Salesforce dateTime ('2024-01-02T10:00:00.000+0000') as aware UTC."""
    if text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return _ts(text)


@dataclass(frozen=True)
class Query:
    fields: list[str]
    sobject: str
    where: Any  # a parsed expression tree, or None
    order: list[str]
    is_count: bool


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot parse SOQL at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.upper() == word:
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        _, got = self.take()
        if got.upper() != value:
            raise ValueError(f"expected {value}, got {got!r}")

    def query(self) -> Query:
        self.expect("SELECT")
        fields: list[str] = []
        is_count = False
        while True:
            _, name = self.take()
            if name.upper() == "COUNT":
                self.expect("(")
                self.expect(")")
                is_count = True
            else:
                fields.append(name)
            if self.peek()[1] != ",":
                break
            self.take()
        self.expect("FROM")
        sobject = self.take()[1]
        where = self.expr() if self.keyword("WHERE") else None
        order: list[str] = []
        if self.keyword("ORDER"):
            self.expect("BY")
            order.append(self.take()[1])
            while self.peek()[1] == ",":
                self.take()
                order.append(self.take()[1])
        if self.peek()[0] != "end":
            raise ValueError(f"unexpected {self.peek()[1]!r}")
        return Query(fields, sobject, where, order, is_count)

    def expr(self) -> Any:
        node = self.term()
        while self.keyword("OR"):
            node = ("or", node, self.term())
        return node

    def term(self) -> Any:
        node = self.factor()
        while self.keyword("AND"):
            node = ("and", node, self.factor())
        return node

    def factor(self) -> Any:
        if self.keyword("NOT"):
            return ("not", self.factor())
        if self.peek()[1] == "(":
            self.take()
            node = self.expr()
            self.expect(")")
            return node
        _, field = self.take()
        if self.keyword("NOT"):
            self.expect("IN")
            return ("not", ("in", field, self.values()))
        if self.keyword("IN"):
            return ("in", field, self.values())
        kind, op = self.take()
        if kind != "op":
            raise ValueError(f"expected an operator after {field}, got {op!r}")
        return ("cmp", field, op, self.value())

    def values(self) -> list[Any]:
        self.expect("(")
        out = [self.value()]
        while self.peek()[1] == ",":
            self.take()
            out.append(self.value())
        self.expect(")")
        return out

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
        if kind == "datetime":
            return _ts(text)
        if kind in ("date", "number"):
            return text if kind == "date" else float(text)
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        raise ValueError(f"unexpected value {text!r}")


def parse(text: str) -> Query:
    return _Parser(text).query()


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        left = sf_ts(left)
    if isinstance(right, float) and isinstance(left, int | float) and not isinstance(left, bool):
        left = float(left)
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    result: bool = {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]
    return result


def matches(node: Any, record: Record, resolve: Resolve) -> bool:
    if node is None:
        return True
    kind = node[0]
    if kind == "or":
        return matches(node[1], record, resolve) or matches(node[2], record, resolve)
    if kind == "and":
        return matches(node[1], record, resolve) and matches(node[2], record, resolve)
    if kind == "not":
        return not matches(node[1], record, resolve)
    if kind == "in":
        return resolve(record, node[1]) in node[2]
    return _compare(resolve(record, node[1]), node[2], node[3])
