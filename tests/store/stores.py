"""Pointing a demo config at a test store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

DEMO_STORE_LINE = "url: sqlite:///state/demo.db"


def point_demo_at(config: Path, store_url: str) -> dict[str, str]:
    """Use `store_url`; a password goes in as ${STORE_PASSWORD} (returned as environment)."""
    url = make_url(store_url)
    env: dict[str, str] = {}
    line = f"url: {store_url}"
    if url.password:
        env["STORE_PASSWORD"] = str(url.password)
        bare = URL.create(
            url.drivername, url.username, None, url.host, url.port, url.database, url.query
        ).render_as_string(hide_password=False)
        line = f"url: {bare}\n  password: ${{STORE_PASSWORD}}"
    text = config.read_text()
    assert DEMO_STORE_LINE in text
    config.write_text(text.replace(DEMO_STORE_LINE, line))
    return env
