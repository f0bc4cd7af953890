"""The connector of docs/writing-a-connector.md, run from the document itself.

The Python blocks of its sections 2 to 4 (config class, stream, connector) are executed in
order as the module `tests.testing.tutorial_code`, so the tests run exactly the code a plugin
author copies. For mypy, the two classes the tests use are declared with their shape below.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from adoptloop.connectors.rest import HttpConnector, HttpSourceConfig
from adoptloop.domain import Item
from adoptloop.fields import Secret
from adoptloop.mappings.identity import IdentityRule

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-connector.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_SECTIONS = ("## 2. The config class", "## 3. One paginated endpoint", "## 4. The connector")


def python_blocks(section: str) -> list[str]:
    """The ```python blocks under one `## ` heading of the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    return _BLOCK.findall(text[start : end if end != -1 else len(text)])


def _load() -> ModuleType:
    module = ModuleType("tests.testing.tutorial_code")
    module.__file__ = str(GUIDE)
    sys.modules[module.__name__] = module
    for section in _SECTIONS:
        for block in python_blocks(section):
            exec(compile(block, f"{GUIDE}:{section}", "exec"), module.__dict__)  # noqa: S102 - the guide's own code
    return module


if TYPE_CHECKING:

    class MyLmsConfig(HttpSourceConfig):
        type: Literal["my-lms"]
        token: Secret
        identity: list[IdentityRule] = Field(default=[])

    class MyLmsConnector(HttpConnector[MyLmsConfig]):
        def completion(self, raw: Any) -> Item: ...

else:
    _tutorial = _load()
    MyLmsConfig = _tutorial.MyLmsConfig
    MyLmsConnector = _tutorial.MyLmsConnector
