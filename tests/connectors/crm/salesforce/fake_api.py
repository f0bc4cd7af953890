"""The HTTP face of the fake org: `responses` callbacks for the endpoints the connector uses.

Status codes and error bodies follow Salesforce's REST docs and the reference shapes in
shared/reference/api-shapes/salesforce_errors.json: errors are a JSON array of
{message, errorCode}; INVALID_SESSION_ID is 401, REQUEST_LIMIT_EXCEEDED is 403,
QUERY_TIMEOUT and INVALID_QUERY_LOCATOR are 400.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import requests
import responses
from requests import PreparedRequest

from tests.connectors.crm.salesforce import payloads, soql
from tests.connectors.crm.salesforce.fake_org import INSTANCE, FakeOrg, query_string, stamp

Answer = tuple[int, dict[str, str], str]
Handler = Callable[[FakeOrg, PreparedRequest, re.Match[str]], Answer]

JSON = {"Content-Type": "application/json;charset=UTF-8"}


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Answer:
    return (
        status,
        {**JSON, **(headers or {})},
        json.dumps([{"message": message, "errorCode": code}]),
    )


def ok(body: Any) -> Answer:
    return 200, dict(JSON), json.dumps(body)


def install(org: FakeOrg, mock: responses.RequestsMock) -> None:
    for instance in (INSTANCE, *([org.served_at] if org.served_at else [])):
        _install_data(org, mock, instance)
    token_url = re.compile(r"https://(login|test|acme\.my)\.salesforce\.com/services/oauth2/token$")
    mock.add_callback(
        "POST", token_url, callback=_recorded(org, lambda r: _token(org, r)), content_type=None
    )
    if org.served_at:
        own = re.compile(re.escape(org.served_at) + r"/services/oauth2/token$")
        mock.add_callback(
            "POST", own, callback=_recorded(org, lambda r: _token(org, r)), content_type=None
        )
    soap_url = re.compile(r"https://(login|test)\.salesforce\.com/services/Soap/u/[\d.]+$")
    mock.add_callback(
        "POST", soap_url, callback=_recorded(org, lambda r: _soap(org, r)), content_type=None
    )


def _recorded(
    org: FakeOrg, callback: Callable[[PreparedRequest], Answer]
) -> Callable[[PreparedRequest], Answer]:
    """A login endpoint's callback that also lists the request in `org.requests`."""

    def record(request: PreparedRequest) -> Answer:
        org.requests.append((str(request.method), urlsplit(str(request.url)).path))
        return callback(request)

    return record


def _install_data(org: FakeOrg, mock: responses.RequestsMock, instance: str) -> None:
    data = re.escape(instance) + r"/services/data/v(?P<version>\d+\.\d)/"
    routes: list[tuple[str, str, Handler]] = [
        ("GET", data + r"(?P<kind>query|queryAll)/(?P<key>01g\w+)-(?P<offset>\d+)$", _more),
        ("GET", data + r"(?P<kind>query|queryAll)/?(\?.*)?$", _query),
        ("GET", data + r"sobjects/?$", _describe_global),
        ("GET", data + r"sobjects/(?P<sobject>\w+)/describe/?$", _describe),
        ("GET", data + r"sobjects/(?P<sobject>\w+)/deleted/?(\?.*)?$", _deleted),
        ("POST", data + r"jobs/query/?$", _create_job),
        ("GET", data + r"jobs/query/(?P<job>\w+)/results(\?.*)?$", _job_results),
        ("GET", data + r"jobs/query/(?P<job>\w+)$", _job),
    ]
    for method, pattern, handler in routes:
        compiled = re.compile(pattern)
        mock.add_callback(
            method, compiled, callback=_data_call(org, compiled, handler), content_type=None
        )


def _data_call(
    org: FakeOrg, pattern: re.Pattern[str], handler: Handler
) -> Callable[[PreparedRequest], Answer]:
    def callback(request: PreparedRequest) -> Answer:
        url = str(request.url)
        match = pattern.match(url)
        assert match is not None
        org.log.append((str(request.method), urlsplit(url).path, query_string(url).get("q", "")))
        org.requests.append((str(request.method), urlsplit(url).path))
        org.urls.append(url)
        token = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        if org.expire_after_calls is not None:
            if org.expire_after_calls <= 0:
                org.expire_sessions()
                org.expire_after_calls = None
            else:
                org.expire_after_calls -= 1
        if org.expire_at is not None and org.expire_at in urlsplit(url).path:
            org.expire_sessions()  # the session dies just as this kind of call arrives
            org.expire_at = None
        if token not in org.tokens:
            return error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        org.api_used += 1
        usage = {"Sforce-Limit-Info": f"api-usage={org.api_used}/{org.api_limit}"}
        if org.api_used > org.api_limit:
            return error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", usage)
        if org.fail_next:
            status = org.fail_next.pop(0)
            if status == 0:
                raise requests.ConnectionError("Connection reset by peer")
            return status, {"Content-Type": "text/html"}, "<html>Service Unavailable</html>"
        status, headers, body = handler(org, request, match)
        served = {"Date": format_datetime(org.now.astimezone(UTC), usegmt=True)}  # the org's clock
        return status, {**headers, **usage, **served}, body

    return callback


def _batch(request: PreparedRequest, org: FakeOrg) -> int:
    options = str(request.headers.get("Sforce-Query-Options", ""))
    match = re.search(r"batchSize=(\d+)", options)
    return min(int(match.group(1)) if match else 2000, org.page_size)


def _query(org: FakeOrg, request: PreparedRequest, match: re.Match[str]) -> Answer:
    text = query_string(str(request.url)).get("q", "")
    include_deleted = match.group("kind") == "queryAll"
    try:
        query, rows = org.run(text, include_deleted=include_deleted)
    except (ValueError, KeyError) as exc:
        return error(400, "MALFORMED_QUERY", f"unexpected token: {exc}")
    if org.span_too_long(query):
        return error(400, "QUERY_TIMEOUT", "Your query request was running for too long.")
    if query.is_count:
        return ok({"totalSize": len(rows), "done": True, "records": []})
    key = org.cursor([org.render(query, r) for r in rows], text)
    return ok(org.page(key, 0, _batch(request, org)))


def _more(org: FakeOrg, request: PreparedRequest, match: re.Match[str]) -> Answer:
    key, offset = match.group("key"), int(match.group("offset"))
    if org.locator_expired(key):
        return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return ok(org.page(key, offset, _batch(request, org)))


def _not_modified(request: PreparedRequest, modified: datetime | None) -> bool:
    """If-Modified-Since as Salesforce honours it on describe-global and sObject describe:
    304 Not Modified, no body, when the metadata did not change after the given date."""
    since = request.headers.get("If-Modified-Since")
    if not since:
        return False
    return modified is None or modified <= parsedate_to_datetime(str(since))


def _describe_global(org: FakeOrg, request: PreparedRequest, _match: re.Match[str]) -> Answer:
    if _not_modified(request, org.metadata_modified()):
        return 304, {}, ""
    return ok(
        {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [
                {k: v for k, v in org.describe(name).items() if k != "fields"}
                for name in payloads.OBJECTS
            ],
        }
    )


def _describe(org: FakeOrg, request: PreparedRequest, match: re.Match[str]) -> Answer:
    sobject = match.group("sobject")
    if sobject not in payloads.OBJECTS:
        return error(404, "NOT_FOUND", "The requested resource does not exist")
    if _not_modified(request, org.metadata_modified(sobject)):
        return 304, {}, ""
    return ok(org.describe(sobject))


def _deleted(org: FakeOrg, request: PreparedRequest, match: re.Match[str]) -> Answer:
    params = query_string(str(request.url))
    start, end = soql.sf_ts(params["start"]), soql.sf_ts(params["end"])
    if end - start <= timedelta(minutes=1):
        return error(
            400, "INVALID_REPLICATION_DATE", "startDate must precede endDate by more than a minute"
        )
    covered = end.replace(second=0, microsecond=0)
    return ok(
        {
            "deletedRecords": org.deleted_between(match.group("sobject"), start, covered),
            "earliestDateAvailable": stamp(org.now - timedelta(days=15)),
            "latestDateCovered": stamp(covered),
        }
    )


def _create_job(org: FakeOrg, request: PreparedRequest, _match: re.Match[str]) -> Answer:
    raw = request.body
    body = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw or "{}"))
    assert body["operation"] == "queryAll", body
    job_id = org.create_job(body["query"])
    return ok(
        {
            "id": job_id,
            "operation": "queryAll",
            "object": soql.parse(body["query"]).sobject,
            "state": "UploadComplete",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(org.version),
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
    )


def _job(org: FakeOrg, _request: PreparedRequest, match: re.Match[str]) -> Answer:
    job = org.job(match.group("job"))
    if job is None:
        return error(404, "NOT_FOUND", "Job not found")
    if job.polls_left > 0:
        job.polls_left -= 1
        return ok({"id": match.group("job"), "state": "InProgress"})
    return ok(
        {"id": match.group("job"), "state": "JobComplete", "numberRecordsProcessed": len(job.rows)}
    )


def _job_results(org: FakeOrg, request: PreparedRequest, match: re.Match[str]) -> Answer:
    job = org.job(match.group("job"))
    if job is None:
        return error(404, "NOT_FOUND", "Job not found")
    params = query_string(str(request.url))
    locator = params.get("locator")
    offset = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode()) if locator else 0
    text, following, count = org.job_csv(job, offset, int(params.get("maxRecords", 50000)))
    headers = {
        "Content-Type": "text/csv",
        "Sforce-Locator": following or "null",
        "Sforce-NumberOfRecords": str(count),
    }
    return 200, headers, text


def _token(org: FakeOrg, request: PreparedRequest) -> Answer:
    form = {k: v[0] for k, v in parse_qs(str(request.body or "")).items()}
    grant = form.get("grant_type", "")
    host = urlsplit(str(request.url)).hostname or ""
    own_host = org.served_at is not None and str(request.url).startswith(org.served_at)
    if org.credentials_revoked:
        grant = "revoked"
    granted = False
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        granted = org.check_jwt(form.get("assertion", ""))
    elif grant == "client_credentials":
        basic = str(request.headers.get("Authorization", "")).removeprefix("Basic ")
        pair = base64.b64decode(basic).decode() if basic else ""
        granted = (host.endswith(".my.salesforce.com") or own_host) and (
            pair == f"{org.client_id}:{org.client_secret}"
        )
    elif grant == "password":
        granted = form.get("password") == org.password + org.security_token
    if not granted:
        return (
            400,
            dict(JSON),
            json.dumps({"error": "invalid_grant", "error_description": "authentication failure"}),
        )
    token = org.issue_token(grant)
    return ok(
        {
            "access_token": token,
            "instance_url": org.served_at if own_host else INSTANCE,
            "id": "https://login.salesforce.com/id/00D5g000004ACME/0055g00000INTEG",
            "token_type": "Bearer",
            "issued_at": "1735689600000",
            "scope": "api",
        }
    )


def _soap(org: FakeOrg, request: PreparedRequest) -> Answer:
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
    expected = escape(org.password) + org.security_token
    if (
        f"<n1:username>{escape(org.username)}</n1:username>" not in body
        or f"<n1:password>{expected}</n1:password>" not in body
    ):
        fault = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
            "<faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, "
            "password, security token; or user locked out.</faultstring><detail><sf:LoginFault>"
            "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid "
            "username, password, security token; or user locked out.</sf:exceptionMessage>"
            "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        )
        return 500, {"Content-Type": "text/xml"}, fault
    token = org.issue_token("soap")
    answer = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
        f"<serverUrl>{INSTANCE}/services/Soap/u/{org.version}/00D5g000004ACME</serverUrl>"
        f"<sessionId>{escape(token)}</sessionId><userId>0055g00000INTEGAAA</userId>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return 200, {"Content-Type": "text/xml"}, answer
