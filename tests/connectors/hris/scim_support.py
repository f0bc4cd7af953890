"""A SCIM directory on the real server, seen by the connector through the kit's FakeApi.

Every request the connector sends goes through a FakeApi (so the kit can script 401/429/5xx
answers and malformed pages) and is then forwarded unchanged to the real scim2-server.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from adoptloop.testing.fake_api import FakeApi, text_response
from tests.harness.scim_server import LocalScimServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class ScimDirectory:
    """An empty tenant of the real server, an admin client for it, and the proxying FakeApi."""

    _numbers = itertools.count(100)

    def __init__(self, server: LocalScimServer) -> None:
        self.server = server
        self.base_url = server.base_url(server.new_tenant())
        self.api = FakeApi(self.base_url)
        self.api.route("GET", "/*", self._forward)
        self._broken_page: int | None = None
        self.on_listing_page: Callable[[int], None] | None = None  # called after page N is served
        self.hidden_from_reconciliation: set[str] = set()  # ids a full id listing leaves out

    # --- admin side (what an HR system does to the directory) ------------------------------

    def _admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        with httpx.Client(headers=self.server.auth_headers, timeout=10.0) as client:
            response = client.request(
                method,
                f"{self.base_url}{path}",
                json=body,
                headers={"Content-Type": "application/scim+json"},
            )
        response.raise_for_status()
        return dict(response.json()) if response.content else {}

    def create(
        self,
        employee_number: str | None,
        *,
        given: str = "Ana",
        family: str = "Ruiz",
        title: str | None = "Sales Representative",
        department: str = "Oncology Sales",
        division: str = "Commercial",
        manager: str | None = None,
    ) -> str:
        enterprise: dict[str, Any] = {"department": department, "division": division}
        if employee_number:
            enterprise["employeeNumber"] = employee_number
        if manager:
            enterprise["manager"] = {"value": manager}
        user: dict[str, Any] = {
            "schemas": [CORE, ENTERPRISE],
            "userName": f"user{next(self._numbers)}@example.com",
            "name": {"givenName": given, "familyName": family},
            "active": True,
            "emails": [{"value": f"{given}.{family}@Example.com", "primary": True}],
            ENTERPRISE: enterprise,
        }
        if title:
            user["title"] = title
        return str(self._admin("POST", "/Users", user)["id"])

    def load(self, path: Path) -> dict[str, str]:
        """Users as `bench.synthetic` writes them (`scim/Users.jsonl`), in file order
        (managers first); a manager reference there is an hr_id, replaced here by the SCIM id
        the server gave that manager. Returns hr_id -> SCIM id."""
        ids: dict[str, str] = {}
        with path.open("rb") as fh:
            for line in fh:
                user = orjson.loads(line)
                manager = user[ENTERPRISE].get("manager")
                if manager:
                    manager["value"] = ids[manager["value"]]
                ids[user["externalId"]] = str(self._admin("POST", "/Users", user)["id"])
        return ids

    def patch(self, scim_id: str, path: str, value: Any) -> None:
        operation = {"op": "replace", "path": path, "value": value}
        self._admin("PATCH", f"/Users/{scim_id}", {"schemas": [PATCH], "Operations": [operation]})

    def set_manager(self, scim_id: str, manager: str) -> None:
        self.patch(scim_id, f"{ENTERPRISE}:manager", {"value": manager})

    def delete(self, scim_id: str) -> None:
        self._admin("DELETE", f"/Users/{scim_id}")

    def user(self, scim_id: str) -> dict[str, Any]:
        return self._admin("GET", f"/Users/{scim_id}")

    # --- the kit's FakeVendor --------------------------------------------------------------

    def add(self, count: int) -> list[str]:
        keys = []
        for _ in range(count):
            number = f"E{next(self._numbers)}"
            self.create(number)
            keys.append(number)
        return keys

    def add_bad(self) -> str:
        """A user without a title: no role, so no Person; keyed by its SCIM id."""
        return self.create(f"E{next(self._numbers)}", title=None)

    def break_page(self, number: int) -> None:
        self._broken_page = number

    def _forward(self, request: httpx.Request) -> httpx.Response:
        page = _listing_page(request)
        if page is not None and page == self._broken_page:
            self._broken_page = None
            return text_response("<html>502 Bad Gateway</html>", 200)
        with httpx.Client(timeout=10.0) as client:
            upstream = client.request(
                request.method, request.url, headers=dict(request.headers), content=request.content
            )
        content = upstream.content
        if request.url.params.get("sortBy") == "meta.created" and self.hidden_from_reconciliation:
            body = orjson.loads(content)
            body["Resources"] = [
                r for r in body["Resources"] if r["id"] not in self.hidden_from_reconciliation
            ]
            content = orjson.dumps(body)
        headers = {k: v for k, v in upstream.headers.items() if k.lower() != "content-length"}
        response = httpx.Response(upstream.status_code, content=content, headers=headers)
        if page is not None and self.on_listing_page is not None:
            self.on_listing_page(page)
        return response


def _listing_page(request: httpx.Request) -> int | None:
    """Page number of a changed-users listing (sorted by meta.lastModified), else None."""
    params = request.url.params
    if not request.url.path.endswith("/Users") or params.get("sortBy") != "meta.lastModified":
        return None
    start, count = int(params.get("startIndex", "1")), int(params.get("count", "100"))
    return (start - 1) // max(count, 1) + 1
