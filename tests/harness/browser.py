"""Headless Chromium for tests: Debian's `chromium`, driven by Playwright; never a downloaded browser.

    ADOPTLOOP_CHROMIUM=/path/to/chromium
        use that binary (default: /usr/bin/chromium, then `chromium` or `chromium-browser` on PATH).

Playwright's Python package talks to the browser over the DevTools protocol; it is pointed at
the system binary with `executable_path`, so `playwright install` is never needed (and could
not work on a machine without general network access). Each visit starts a fresh browser with
a throwaway profile and the flags below, which keep it from calling home.

Use::

    reason = chromium_unavailable()          # None, or why the browser cannot run here
    visit = visit_page(path.as_uri(), ready="document.body.dataset.done === '1'",
                       probe="document.title", screenshot=Path("shot.png"))
    assert visit.console_errors == []
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Error, Request, Route

ENV_CHROMIUM = "ADOPTLOOP_CHROMIUM"
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# What a page may load without touching the network.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


@dataclass
class PageVisit:
    """What happened while a page loaded: errors, network attempts, and what the probe saw."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions
    network: list[str] = field(default_factory=list)  # requests that would leave the machine
    probe: Any = None  # the JSON value the probe expression returned
    screenshot: Path | None = None


def find_chromium() -> Path | None:
    configured = os.environ.get(ENV_CHROMIUM)
    if configured:
        return Path(configured) if _executable(Path(configured)) else None
    if _executable(DEBIAN_CHROMIUM):
        return DEBIAN_CHROMIUM
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def chromium_unavailable() -> str | None:
    """None when a headless visit can run here; otherwise the reason it cannot."""
    if find_chromium() is None:
        configured = os.environ.get(ENV_CHROMIUM)
        if configured:
            return f"{ENV_CHROMIUM}={configured} is not an executable file"
        return (
            "no Chromium binary (install Debian's package: apt-get install -y chromium, "
            f"or set {ENV_CHROMIUM})"
        )
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing (pip install -e '.[test]')"
    return None


def visit_page(
    url: str,
    *,
    ready: str,
    probe: str,
    screenshot: Path | None = None,
    viewport: tuple[int, int] = (1200, 900),
    timeout_s: float = 60.0,
) -> PageVisit:
    """Open `url` headless, wait until the JS expression `ready` is truthy, evaluate `probe`.

    Requests for anything but local schemes are aborted and listed in `network`; console
    errors and warnings and uncaught page errors are collected; a full-page PNG is written to
    `screenshot` when given. Raises RuntimeError when no browser is available.
    """
    from playwright.sync_api import sync_playwright

    binary = find_chromium()
    if binary is None:
        raise RuntimeError(chromium_unavailable() or "no Chromium")
    visit = PageVisit(url)

    def on_console(message: ConsoleMessage) -> None:
        where = message.location
        text = f"{message.text} ({where.get('url', '')}:{where.get('lineNumber', '')})"
        if message.type == "error":
            visit.console_errors.append(text)
        elif message.type == "warning":
            visit.console_warnings.append(text)

    def on_page_error(error: Error) -> None:
        visit.page_errors.append(f"{error.name}: {error.message}")

    def on_request(request: Request) -> None:
        if not request.url.startswith(LOCAL_SCHEMES):
            visit.network.append(request.url)

    def refuse(route: Route) -> None:
        route.abort("blockedbyclient")

    timeout_ms = timeout_s * 1000
    with (
        tempfile.TemporaryDirectory(
            prefix="adoptloop-chromium-", ignore_cleanup_errors=True
        ) as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=binary,
            headless=True,
            args=list(FLAGS),
            viewport={"width": viewport[0], "height": viewport[1]},
            timeout=timeout_ms,
        )
        try:
            context.route("http://**/*", refuse)
            context.route("https://**/*", refuse)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", on_page_error)
            page.on("request", on_request)
            page.goto(url, wait_until="load", timeout=timeout_ms)
            page.wait_for_function(ready, timeout=timeout_ms)
            visit.probe = page.evaluate(probe)
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=screenshot, full_page=True, timeout=timeout_ms)
                visit.screenshot = screenshot
        finally:
            context.close()
    return visit
