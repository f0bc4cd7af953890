"""Configuration of the `vault-crm` connector: the Vault, its integration user, objects, limits.

Every object and field name is configurable: Vault CRM renamed CRM on Salesforce's
`*_vod__c` fields to `*__v`, and some of those names are not in Veeva's public pages (see
docs/vault-crm.md, "Field names"). The defaults are Vault CRM's. Before a run reads anything
the connector retrieves each configured object's metadata and stops with a ConfigError naming
every configured field the Vault does not have.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from adoptloop.connectors.base import ConnectorConfig
from adoptloop.fields import Secret, Sensitive, TimeZone
from adoptloop.mappings.identity import IdentityRule

_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


def _vql_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Vault field name (lower-case letters, digits and '_', "
            "relationship paths joined by '.', e.g. object_type__vr.api_name__v)"
        )
    return value


VqlName = Annotated[str, AfterValidator(_vql_name)]


def _vault_url(value: str) -> str:
    url = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^/\s]+(/[^\s]*)?", url):
        raise ValueError(
            f"{value!r} is not an absolute http(s) URL like https://myvault.veevavault.com"
        )
    return url.removesuffix("/api")


# The Vault's URL: written as it is or as ${VAULT_URL} (one config for several Vaults).
VaultURL = Annotated[Sensitive, AfterValidator(_vault_url)]


def _api_version(value: str) -> str:
    if not re.fullmatch(r"v\d{2}\.\d", value):
        raise ValueError(f"{value!r} is not a Vault API version like 'v24.1'")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PasswordAuth(_Frozen):
    """`POST /api/{version}/auth` with the integration user's name and password."""

    type: Literal["password"] = "password"
    username: Sensitive = Field(min_length=1, description="The integration user's user name")
    password: Secret


# --- streams -------------------------------------------------------------------------------


def _default_identity() -> list[IdentityRule]:
    return [
        IdentityRule(attribute="federated_id__sys", person_field="hr_id"),
        IdentityRule(attribute="email__sys", person_field="email"),
    ]


class UsersStream(_Frozen):
    object: VqlName = "user__sys"
    status: VqlName = "status__v"
    active_statuses: list[str] = Field(default=["active__v"], description="status__v values")
    where: str | None = Field(default=None, description="Extra VQL filter on user__sys")
    identity: list[IdentityRule] = Field(
        default_factory=_default_identity,
        description="user__sys fields matched to HR records, tried in order",
    )


class CallFields(_Frozen):
    rep: VqlName = "ownerid__v"
    call_date: VqlName = "call_date__v"
    status: VqlName = "call2_status__v"
    channel: VqlName | None = "call_channel__v"
    call_type: VqlName | None = "call_type__v"
    parent: VqlName = "parent_call__v"
    attendee_type: VqlName = "attendee_type__v"
    attendee_user: VqlName = "user__v"


class CallsStream(_Frozen):
    object: VqlName = "call2__v"
    fields: CallFields = CallFields()
    where: str | None = None
    counted_statuses: list[str] = Field(
        default=["submitted__v"], description="Only calls in these statuses are visits"
    )
    manager_attendee_type: str = Field(
        default="user__v", description="attendee_type__v of a child call that is a ride-along"
    )


class TargetFields(_Frozen):
    observer: VqlName = "coach__v"
    observed: VqlName = "employee__v"
    status: VqlName = "report_status__v"
    submitted_at: VqlName | None = "submitted_datetime__v"
    visit_date: VqlName | None = Field(
        default=None, description="Visit date field; default: the local date of submitted_at"
    )


class ResponseFields(_Frozen):
    target: VqlName = "survey_target__v"
    question_id: VqlName | None = "survey_question__v"
    question_text: VqlName | None = "question_text__v"
    answer_choice: VqlName = "answer_choice__v"
    number: VqlName = "number__v"
    text: VqlName | None = "text__v"


class CoachingStream(_Frozen):
    """Survey-based coaching reports: a survey_target__v of the coaching object type."""

    object: VqlName = "survey_target__v"
    object_type_field: VqlName = Field(
        default="object_type__vr.api_name__v", description="How a target's object type is named"
    )
    object_type: str | None = Field(
        default="coaching_report__v", description="Object type of coaching reports; null: all"
    )
    fields: TargetFields = TargetFields()
    responses_object: VqlName = "question_response__v"
    response_fields: ResponseFields = ResponseFields()
    target_relationship: VqlName = Field(
        default="survey_target__vr", description="Relationship from an answer to its report"
    )
    counted_statuses: list[str] = Field(
        default=["completed__v"], description="Only reports in these statuses count"
    )
    next_step_questions: list[str] = Field(
        default=[], description="Question ids/texts whose free-text answer is a next step"
    )
    rating_values: dict[str, float] = Field(
        default={}, description="Answer choices -> numbers, e.g. 'meets__c': 3"
    )


class SyncSettings(_Frozen):
    lookback_minutes: int = Field(
        default=10, ge=0, le=1440, description="Re-read this much before the last watermark"
    )
    page_size: int = Field(default=1000, ge=1, le=1000, description="VQL PAGESIZE")
    lookup_chunk: int = Field(default=200, ge=1, le=500, description="Ids per CONTAINS lookup")
    deletions_page_size: int = Field(default=1000, ge=1, le=5000)
    burst_headroom: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="Share of the 5-minute burst limit left to other integrations: at or "
        "below it the connector pauses until a new burst window has begun",
    )
    burst_window_seconds: float = Field(
        default=300.0, gt=0, description="How long a burst-limit pause lasts (Vault: 5 min)"
    )
    max_attempts: int = Field(default=5, ge=1, le=20, description="Tries on 5xx / network errors")
    max_retry_seconds: float = Field(default=600.0, gt=0)
    timeout_seconds: float = Field(default=120.0, gt=0, description="Per HTTP request")


class VaultConfig(ConnectorConfig):
    type: Literal["vault-crm"]
    url: VaultURL = Field(description="Your Vault, e.g. https://myvault.veevavault.com")
    api_version: Annotated[str, AfterValidator(_api_version)] = "v24.1"
    auth: PasswordAuth
    timezone: TimeZone = Field(
        default="UTC", description="IANA zone that visit dates without one are local to"
    )
    users: UsersStream = UsersStream()
    calls: CallsStream | None = CallsStream()
    coaching_reports: CoachingStream | None = CoachingStream()
    sync: SyncSettings = SyncSettings()
