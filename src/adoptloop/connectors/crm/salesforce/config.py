"""Configuration of the `salesforce` connector: auth, profile (Veeva or generic), sync limits.

Every object and field name is configurable because every org customises; the defaults are
Veeva CRM's. At the start of each run the connector describes every configured object and
stops with a ConfigError naming each configured field the org does not have.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from adoptloop.connectors.base import ConnectorConfig
from adoptloop.fields import ExistingPath, HttpURL, Secret, Sensitive, TimeZone
from adoptloop.mappings.identity import IdentityRule

_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")


def _api_name(value: str) -> str:
    if not _API_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Salesforce API name (letters, digits and '_', "
            "relationship paths joined by '.')"
        )
    return value


ApiName = Annotated[str, AfterValidator(_api_name)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def is_salesforce_host(url: str) -> bool:
    """A login host of Salesforce's own (login, test, or a My Domain under salesforce.com)."""
    return (urlsplit(url).hostname or "").endswith(".salesforce.com")


def login_domain(url: str) -> str:
    """simple-salesforce's `domain`: a Salesforce login host without `.salesforce.com`."""
    return (urlsplit(url).hostname or "").removesuffix(".salesforce.com")


def _login_host(url: str) -> str:
    return url.rstrip("/")


# Limited to Salesforce hosts unless the source sets `allow_custom_login_host` (checked by
# SalesforceConfig, which sees both).
LoginURL = Annotated[HttpURL, AfterValidator(_login_host)]


# --- auth ----------------------------------------------------------------------------------


class JwtBearerAuth(_Frozen):
    """OAuth 2.0 JWT bearer flow: a certificate-signed assertion, no password, no secret."""

    type: Literal["jwt-bearer"]
    client_id: Sensitive = Field(min_length=1, description="The connected app's consumer key")
    username: Sensitive = Field(min_length=1, description="The integration user's username")
    private_key: Secret | None = Field(
        default=None, description="PEM private key: ${SF_JWT_PRIVATE_KEY} or ${file:/path/key.pem}"
    )
    private_key_file: ExistingPath | None = Field(
        default=None, description="Path to the PEM private key (instead of private_key)"
    )
    login_url: LoginURL = Field(
        default="https://login.salesforce.com",
        description="Token endpoint host: login, test, or your My Domain",
    )
    sandbox: bool = Field(
        default=False, description="Sign the assertion for test.salesforce.com (a sandbox)"
    )

    @model_validator(mode="after")
    def _one_key(self) -> JwtBearerAuth:
        if (self.private_key is None) == (self.private_key_file is None):
            raise ValueError("set exactly one of private_key and private_key_file")
        return self


class ClientCredentialsAuth(_Frozen):
    """OAuth 2.0 client credentials flow; the connected app's "Run As" user reads the data."""

    type: Literal["client-credentials"]
    client_id: Sensitive = Field(min_length=1, description="The connected app's consumer key")
    client_secret: Secret
    login_url: LoginURL = Field(description="Your My Domain, e.g. https://acme.my.salesforce.com")

    @model_validator(mode="after")
    def _my_domain(self) -> ClientCredentialsAuth:
        if is_salesforce_host(self.login_url) and login_domain(self.login_url) in ("login", "test"):
            raise ValueError(
                "the client credentials flow needs your My Domain as login_url "
                "(e.g. https://acme.my.salesforce.com), not login/test.salesforce.com"
            )
        return self


class SessionAuth(_Frozen):
    """An existing session id and instance URL (e.g. handed over by an orchestrator)."""

    type: Literal["session"]
    instance_url: HttpURL
    session_id: Secret


class PasswordAuth(_Frozen):
    """Username, password and security token. Deprecated: Salesforce is retiring SOAP login."""

    type: Literal["password"]
    username: Sensitive = Field(min_length=1)
    password: Secret
    security_token: Secret | None = None
    client_id: Sensitive | None = Field(
        default=None, description="With client_secret: OAuth password flow"
    )
    client_secret: Secret | None = None
    login_url: LoginURL = "https://login.salesforce.com"


Auth = Annotated[
    JwtBearerAuth | ClientCredentialsAuth | SessionAuth | PasswordAuth, Field(discriminator="type")
]


# --- streams -------------------------------------------------------------------------------


def _default_identity() -> list[IdentityRule]:
    return [
        IdentityRule(attribute="FederationIdentifier", person_field="hr_id"),
        IdentityRule(attribute="EmployeeNumber", person_field="employee_number"),
        IdentityRule(attribute="Email", person_field="email"),
    ]


class UsersStream(_Frozen):
    object: ApiName = "User"
    active: ApiName = "IsActive"
    where: str | None = Field(
        default=None, description="Extra SOQL filter, e.g. UserType = 'Standard'"
    )
    identity: list[IdentityRule] = Field(
        default_factory=_default_identity,
        description="User fields matched to HR records, tried in order",
    )


class CallFields(_Frozen):
    rep: ApiName = "OwnerId"
    call_date: ApiName = "Call_Date_vod__c"
    call_datetime: ApiName | None = "Call_Datetime_vod__c"
    status: ApiName = "Status_vod__c"
    channel: ApiName | None = "Call_Channel_vod__c"
    call_type: ApiName | None = "Call_Type_vod__c"
    territory: ApiName | None = "Territory_vod__c"
    parent: ApiName = "Parent_Call_vod__c"
    attendee_type: ApiName = "Attendee_Type_vod__c"
    attendee_user: ApiName = "User_vod__c"


class CallsStream(_Frozen):
    object: ApiName = "Call2_vod__c"
    fields: CallFields = CallFields()
    where: str | None = None
    counted_statuses: list[str] = Field(
        default=["Submitted_vod"], description="Only calls in these statuses are visits"
    )
    manager_attendee_type: str = Field(
        default="User_vod", description="Attendee type of a child call that is a ride-along"
    )


class ReportFields(_Frozen):
    observer: ApiName = "Manager_vod__c"
    observed: ApiName = "Employee_vod__c"
    visit_date: ApiName = "Review_Date__c"
    status: ApiName = "Status__c"
    submitted_at: ApiName | None = None
    ratings: list[ApiName] | None = Field(
        default=None,
        description="Rating fields; default: the capability map's coaching items ending in __c",
    )
    comments: list[ApiName] = Field(
        default=[], description="Free-text fields: reduced to word count and capability mention"
    )
    next_steps: list[ApiName] = Field(default=[], description="Free-text fields of a next step")


class CoachingReportsStream(_Frozen):
    object: ApiName = "Coaching_Report_vod__c"
    fields: ReportFields = ReportFields()
    where: str | None = None
    counted_statuses: list[str] = ["Submitted", "Approved", "Submitted_vod", "Completed_vod"]
    rating_values: dict[str, float] = Field(
        default={}, description="Picklist labels of ratings -> numbers, e.g. 'Meets': 3"
    )


class CustomReportsStream(CoachingReportsStream):
    object: ApiName = Field(description="Your coaching report object, e.g. Coaching_Report__c")


class SurveyTargetFields(_Frozen):
    observer: ApiName = "Coach_vod__c"
    observed: ApiName = "Employee_vod__c"
    status: ApiName = "Report_Status_vod__c"
    submitted_at: ApiName | None = "Submitted_DateTime_vod__c"
    visit_date: ApiName | None = Field(
        default=None, description="Visit date field; default: the local date of submitted_at"
    )


class ResponseFields(_Frozen):
    target: ApiName = "Survey_Target_vod__c"
    question_id: ApiName | None = "Survey_Question_vod__c"
    question_text: ApiName | None = "Question_Text_vod__c"
    answer_choice: ApiName = "Answer_Choice_vod__c"
    number: ApiName = "Number_vod__c"
    text: ApiName | None = "Text_vod__c"


class AdvancedCoachingStream(_Frozen):
    object: ApiName = "Survey_Target_vod__c"
    record_type: str | None = Field(
        default="Coaching_Report_vod", description="RecordType.DeveloperName of coaching reports"
    )
    fields: SurveyTargetFields = SurveyTargetFields()
    responses_object: ApiName = "Question_Response_vod__c"
    response_fields: ResponseFields = ResponseFields()
    target_relationship: ApiName = Field(
        default="Survey_Target_vod__r", description="Relationship from a response to its report"
    )
    counted_statuses: list[str] = ["Completed_vod"]
    next_step_questions: list[str] = Field(
        default=[], description="Question ids/texts whose free-text answer is a next step"
    )
    rating_values: dict[str, float] = {}


class VisitsStream(_Frozen):
    """Generic profile: an Event is a visit, an invited User on it (EventRelation) a co-visit."""

    object: ApiName = "Event"
    rep: ApiName = "OwnerId"
    visit_date: ApiName = "ActivityDate"
    channel: ApiName | None = None
    visit_type: ApiName | None = "Type"
    status: ApiName | None = None
    counted_statuses: list[str] = Field(
        default=[], description="With `status`: only these count; empty = every event counts"
    )
    where: str | None = "IsChild = false"
    relations_object: ApiName = "EventRelation"
    relation_event: ApiName = "EventId"
    relation_user: ApiName = "RelationId"
    relations_where: str | None = "IsInvitee = true"


class VeevaProfile(_Frozen):
    type: Literal["veeva"] = "veeva"
    calls: CallsStream | None = CallsStream()
    coaching_reports: CoachingReportsStream | None = CoachingReportsStream()
    advanced_coaching_reports: AdvancedCoachingStream | None = AdvancedCoachingStream()


class GenericProfile(_Frozen):
    type: Literal["generic"]
    visits: VisitsStream | None = VisitsStream()
    coaching_reports: CustomReportsStream | None = None


def _veeva_unless_said(value: object) -> object:
    """`profile:` without a `type:` is the default, Veeva."""
    if isinstance(value, dict) and "type" not in value:
        return {"type": "veeva", **value}
    return value


Profile = Annotated[
    VeevaProfile | GenericProfile,
    BeforeValidator(_veeva_unless_said),
    Field(discriminator="type"),
]


class SyncSettings(_Frozen):
    lookback_minutes: int = Field(
        default=10, ge=0, le=1440, description="Re-read this much before the last watermark"
    )
    page_size: int = Field(default=2000, ge=200, le=2000, description="REST query batch size")
    bulk_above_rows: int | None = Field(
        default=10_000, ge=0, description="Use Bulk API 2.0 above this many rows; null = never"
    )
    bulk_page_size: int = Field(
        default=10_000, ge=1, le=500_000, description="Bulk API 2.0 result page (maxRecords)"
    )
    bulk_poll_seconds: float = Field(default=2.0, gt=0)
    bulk_timeout_minutes: float = Field(default=60.0, gt=0)
    max_api_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Stop and checkpoint at this share of the daily API limit",
    )
    max_attempts: int = Field(default=5, ge=1, le=20, description="Tries on 5xx / network errors")
    min_split_seconds: int = Field(
        default=60, ge=1, description="QUERY_TIMEOUT splits the window down to this span"
    )
    lookup_chunk: int = Field(default=200, ge=1, le=500, description="Ids per IN (...) lookup")
    timeout_seconds: float = Field(default=120.0, gt=0, description="Per HTTP request")


def _api_version(value: str) -> str:
    if not re.fullmatch(r"\d{2,3}\.0", value):
        raise ValueError(f"{value!r} is not an API version like '62.0' (no leading 'v')")
    return value


class SalesforceConfig(ConnectorConfig):
    type: Literal["salesforce"]
    auth: Auth
    api_version: Annotated[str, AfterValidator(_api_version)] = "62.0"
    timezone: TimeZone = Field(
        default="UTC", description="IANA zone that visit dates without one are local to"
    )
    users: UsersStream = UsersStream()
    profile: Profile = VeevaProfile()
    sync: SyncSettings = SyncSettings()
    allow_custom_login_host: bool = Field(
        default=False,
        description="Let auth.login_url be a host other than Salesforce's (a proxy, a test "
        "org) for the jwt-bearer and client-credentials logins",
    )

    @model_validator(mode="after")
    def _login_host(self) -> SalesforceConfig:
        url = getattr(self.auth, "login_url", None)
        if url is None or is_salesforce_host(url):
            return self
        if not self.allow_custom_login_host:
            raise ValueError(
                f"auth.login_url: {url!r} is not a Salesforce login host: use "
                "https://login.salesforce.com, https://test.salesforce.com or your My Domain "
                "(https://NAME.my.salesforce.com); to log in through a proxy or a test org, "
                "set allow_custom_login_host: true on this source"
            )
        if isinstance(self.auth, PasswordAuth):
            raise ValueError(
                f"auth.login_url: {url!r}: a custom login host works with auth.type jwt-bearer "
                "or client-credentials, not password"
            )
        return self
