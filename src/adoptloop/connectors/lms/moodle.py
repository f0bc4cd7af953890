"""Moodle web services (REST, `wstoken`): course and activity completion, and write-back.

- Every call is a POST to `/webservice/rest/server.php` with the token in the form body (never
  in a URL). Moodle reports errors as HTTP 200 with `{"exception", "errorcode", "message"}`:
  `invalidtoken` and access errors raise `AuthFailed`; other errors of a per-learner call
  quarantine that enrolment and the read goes on.
- Moodle has no "completed since" call, so the mapped courses are polled: the capability map's
  `course:<id>` modules plus `courses:` from the config. Per course, the enrolled users
  (`core_enrol_get_enrolled_users`, paged with limitfrom/limitnumber), then per enrolment
  `core_completion_get_course_completion_status` and, when the map names activities
  (`cm:<cmid>`), `core_completion_get_activities_completion_status`.
- The cursor remembers the settled enrolments (course completed, every mapped activity done)
  and skips them; every `reconcile_every_days` all enrolments are polled again and a
  completion that disappeared (reset, unenrolled) is sent as `Deleted(kind="completion")`.
- Write-back: `core_completion_override_activity_completion_status` sets the configured
  "field-observed" activity of the capability and state to complete. The activity is a
  function of the record's key (capability, state) and the learner, so the check before the
  write is the activity's own completion state: complete means "already-present". Moodle's
  override carries no date; the observation date is kept in the audit row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from adoptloop.connectors.base import SupportsWriteBack
from adoptloop.connectors.rest import (
    HttpConnector,
    HttpSourceConfig,
    MalformedPage,
    RestStream,
    json_body,
    text,
)
from adoptloop.connectors.state import pack_state, unpack_state
from adoptloop.connectors.values import BadValue, optional_date
from adoptloop.domain import (
    Checkpoint,
    Completion,
    CompletionStatus,
    Deleted,
    Item,
    PersonRef,
    Rejected,
    TranscriptRecord,
)
from adoptloop.domain import WriteBackResult as Result
from adoptloop.errors import ConfigError, FatalSyncError
from adoptloop.fields import Secret
from adoptloop.http.client import AuthFailed, RestClient, short
from adoptloop.mappings.identity import IdentityRule

ENDPOINT = "webservice/rest/server.php"
STREAM = "completions"
_AUTH_ERRORS = {"invalidtoken", "accessexception", "webservice_access_exception", "invalidlogin"}
_ACTIVITY_STATUS: Mapping[int, CompletionStatus] = {1: "completed", 2: "passed", 3: "failed"}


class MoodleError(FatalSyncError):
    """A Moodle exception body; `errorcode` says which."""

    def __init__(self, errorcode: str, message: str) -> None:
        super().__init__(f"Moodle error {errorcode}: {message}")
        self.errorcode = errorcode


class FieldObservedActivities(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    adopted: int = Field(description="cmid of the activity completed when adopted")
    sustained: int | None = Field(default=None, description="cmid for sustained, if any")


class MoodleWriteBack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    course_id: int = Field(description="The course that holds the field-observed activities")
    activities: dict[str, FieldObservedActivities] = Field(
        description="capability id -> the activities (cmid) to complete per adoption state"
    )


class MoodleConfig(HttpSourceConfig):
    type: Literal["moodle"]
    token: Secret = Field(description="Web service token of a read (+ override) service")
    courses: list[int] = Field(
        default_factory=list, description="Courses to poll besides the map's course:<id> modules"
    )
    identity: list[IdentityRule] = Field(
        default=[
            IdentityRule(attribute="idnumber", person_field="employee_number"),
            IdentityRule(attribute="email", person_field="email"),
        ],
        description="How a Moodle user is matched to an HR record, tried in order",
    )
    reconcile_every_days: int = Field(default=7, ge=1)
    write_back: MoodleWriteBack | None = None


def check_moodle(response: httpx.Response) -> None:
    """Moodle answers errors with HTTP 200 and an exception object."""
    body = json_body(response)
    if isinstance(body, dict) and "exception" in body:
        code = str(body.get("errorcode") or body.get("exception"))
        message = short(str(body.get("message", "")))
        if code in _AUTH_ERRORS:
            raise AuthFailed(
                f"Moodle refused the web service token ({code}: {message}); check the token "
                "and that the service allows the functions adoptloop calls"
            )
        raise MoodleError(code, message)


def call(client: RestClient, function: str, **args: Any) -> Any:
    form = {"wsfunction": function, "moodlewsrestformat": "json", **_flatten(args)}
    return json_body(client.request("POST", ENDPOINT, data=form, validate=check_moodle))


def _flatten(args: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Moodle's PHP-style form arrays: options[0][name]=limitfrom."""
    out: dict[str, str] = {}
    for key, value in args.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, name))
        elif isinstance(value, list | tuple):
            out.update(_flatten({str(i): v for i, v in enumerate(value)}, name))
        else:
            out[name] = str(int(value) if isinstance(value, bool) else value)
    return out


class _EnrolledUsers(RestStream):
    method = "POST"
    path = ENDPOINT

    def __init__(self, client: RestClient, token: str, course_id: int, page_size: int) -> None:
        super().__init__(client)
        self.token = token
        self.course_id = course_id
        self.page_size = page_size

    def body(self, token: Any) -> dict[str, Any]:
        options = [
            {"name": "limitfrom", "value": token or 0},
            {"name": "limitnumber", "value": self.page_size},
            {"name": "userfields", "value": "id,username,email,idnumber"},
        ]
        return {
            "wstoken": self.token,
            "wsfunction": "core_enrol_get_enrolled_users",
            "moodlewsrestformat": "json",
            **_flatten({"courseid": self.course_id, "options": options}),
        }

    def validate_response(self, response: httpx.Response) -> None:
        check_moodle(response)

    def next_page(self, _response: httpx.Response, records: Sequence[Any], token: Any) -> Any:
        return (token or 0) + len(records) if len(records) == self.page_size else None


class MoodleConnector(HttpConnector[MoodleConfig], SupportsWriteBack):
    type_name = "moodle"
    family = "lms"
    config_class = MoodleConfig
    service = "Moodle"

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.identity

    def streams(self) -> Sequence[str]:
        return (STREAM,)

    def _call(self, client: RestClient, function: str, **args: Any) -> Any:
        return call(client, function, wstoken=self.config.token.get_secret_value(), **args)

    # --- reading ---------------------------------------------------------------------------

    def courses(self) -> list[int]:
        mapped = {
            int(module.removeprefix("course:"))
            for module in self.context.capabilities.spec.modules
            if module.startswith("course:") and module.removeprefix("course:").isdigit()
        }
        return sorted(mapped | set(self.config.courses))

    def _mapped_activities(self) -> set[int]:
        return {
            int(module.removeprefix("cm:"))
            for module in self.context.capabilities.spec.modules
            if module.startswith("cm:") and module.removeprefix("cm:").isdigit()
        }

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        if stream != STREAM:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        state = unpack_state(cursor)
        settled: set[str] = set(state.get("settled", []))
        seen: dict[str, list[str]] = {k: list(v) for k, v in state.get("seen", {}).items()}
        run_date = self.context.run_date
        last = optional_date(str(state.get("reconciled_on") or ""), "reconciled_on")
        reconcile = cursor is not None and (
            last is None or (run_date - last).days >= self.config.reconcile_every_days
        )
        polled: dict[str, list[str]] = {}  # enrolment -> its completion ids, as polled now
        failed: set[str] = set()  # courses and enrolments that could not be polled
        with self.client() as client:
            try:
                for course in self.courses():
                    try:
                        yield from self._course(client, course, settled, polled, reconcile, failed)
                    except MoodleError as exc:  # e.g. a course id that does not exist
                        failed.add(f"{course}:")
                        yield Rejected(
                            STREAM, f"course:{course}", f"Moodle course {course}", str(exc)
                        )
            except MalformedPage as exc:
                yield Rejected(STREAM, "page", exc.where or "Moodle", str(exc))
                return
        yield from _vanished(seen, polled, failed, everything_polled=reconcile)
        kept = {k: v for k, v in seen.items() if not reconcile or _in(k, failed)}
        seen = {**kept, **polled}
        new_state = {
            "settled": sorted(settled),
            "seen": seen,
            "reconciled_on": (
                run_date if reconcile or cursor is None else last or run_date
            ).isoformat(),
        }
        yield Checkpoint(STREAM, pack_state(new_state))

    def _course(
        self,
        client: RestClient,
        course: int,
        settled: set[str],
        polled: dict[str, list[str]],
        reconcile: bool,
        failed: set[str],
    ) -> Iterator[Item]:
        token = self.config.token.get_secret_value()
        for page in _EnrolledUsers(client, token, course, self.config.page_size).pages():
            for user in page.records:
                key = f"{course}:{text(user, 'id')}" if isinstance(user, dict) else ""
                if key in settled and not reconcile:
                    continue
                yield from self._enrolment(client, course, user, key, polled, settled, failed)

    def _enrolment(
        self,
        client: RestClient,
        course: int,
        user: Any,
        key: str,
        polled: dict[str, list[str]],
        settled: set[str],
        failed: set[str],
    ) -> Iterator[Item]:
        if not key:
            yield Rejected(STREAM, "(no user id)", f"Moodle course {course}", "a user without id")
            return
        record_key = f"course:{course}:user:{text(user, 'id')}"
        try:
            learner = PersonRef(
                self.system,
                text(user, "id"),
                {a: text(user, a) for a in ("email", "idnumber", "username") if text(user, a)},
            )
            found: list[Completion] = []
            course_done = self._course_completion(client, course, learner, found)
            activities_done = self._activity_completions(client, course, learner, found)
        except (BadValue, MoodleError) as exc:
            failed.add(key)
            yield Rejected(STREAM, record_key, f"Moodle course {course}", str(exc))
            return
        polled[key] = [c.source_record_id for c in found]
        if course_done and activities_done:
            settled.add(key)
        else:
            settled.discard(key)  # e.g. a completion reset since
        yield from found

    def _course_completion(
        self, client: RestClient, course: int, learner: PersonRef, found: list[Completion]
    ) -> bool:
        body = self._call(
            client,
            "core_completion_get_course_completion_status",
            courseid=course,
            userid=learner.external_id,
        )
        status = body.get("completionstatus") if isinstance(body, dict) else None
        if not isinstance(status, dict):
            raise BadValue("the completion status answer has no completionstatus")
        if status.get("completed") is not True:
            return False
        times: list[int] = [
            c["timecompleted"]
            for c in status.get("completions") or []
            if isinstance(c, dict) and isinstance(c.get("timecompleted"), int)
        ]
        if not times:
            raise BadValue("the course is completed but Moodle reports no completion time")
        found.append(
            Completion(
                source_record_id=f"course:{course}:user:{learner.external_id}",
                learner=learner,
                module_id=f"course:{course}",
                module_title=None,
                status="completed",
                completed_at=datetime.fromtimestamp(max(times), UTC),
                score=None,
                location=f"Moodle course {course}",
            )
        )
        return True

    def _activity_completions(
        self, client: RestClient, course: int, learner: PersonRef, found: list[Completion]
    ) -> bool:
        mapped = self._mapped_activities()
        if not mapped:
            return True
        body = self._call(
            client,
            "core_completion_get_activities_completion_status",
            courseid=course,
            userid=learner.external_id,
        )
        statuses = body.get("statuses") if isinstance(body, dict) else None
        if not isinstance(statuses, list):
            raise BadValue("the activities completion answer has no statuses")
        all_done = True
        for status in statuses:
            cmid = status.get("cmid") if isinstance(status, dict) else None
            if cmid not in mapped:
                continue
            outcome = _ACTIVITY_STATUS.get(int(status.get("state") or 0))
            when = status.get("timecompleted")
            if outcome is None or not isinstance(when, int) or when <= 0:
                all_done = False
                continue
            found.append(
                Completion(
                    source_record_id=f"cm:{cmid}:user:{learner.external_id}",
                    learner=learner,
                    module_id=f"cm:{cmid}",
                    module_title=None,
                    status=outcome,
                    completed_at=datetime.fromtimestamp(when, UTC),
                    score=None,
                    location=f"Moodle course {course} cm {cmid}",
                )
            )
        return all_done

    # --- write-back ------------------------------------------------------------------------

    def write_back(
        self, records: Sequence[TranscriptRecord], *, dry_run: bool = False
    ) -> list[Result]:
        config = self.config.write_back
        if config is None:
            raise ConfigError(f"sources.{self.name}.write_back: not configured for Moodle")
        results: list[Result] = []
        with self.client() as client:
            for record in records:
                try:
                    results.append(self._write_one(client, config, record, dry_run=dry_run))
                except AuthFailed:
                    raise
                except (MoodleError, MalformedPage) as exc:
                    results.append(Result(record.key, "failed", None, short(str(exc))))
        return results

    def _write_one(
        self,
        client: RestClient,
        config: MoodleWriteBack,
        record: TranscriptRecord,
        *,
        dry_run: bool,
    ) -> Result:
        activities = config.activities.get(record.capability_id)
        cmid = None if activities is None else getattr(activities, record.state)
        if cmid is None:
            return Result(
                record.key,
                "failed",
                None,
                f"no field-observed activity configured for {record.capability_id}/{record.state}",
            )
        external_id = f"cm:{cmid}/user:{record.lms_user_id}"
        body = self._call(
            client,
            "core_completion_get_activities_completion_status",
            courseid=config.course_id,
            userid=record.lms_user_id,
        )
        statuses = body.get("statuses") if isinstance(body, dict) else None
        status = next(
            (s for s in statuses or [] if isinstance(s, dict) and s.get("cmid") == cmid), None
        )
        if status is None:
            return Result(
                record.key,
                "failed",
                external_id,
                f"activity {cmid} has no completion tracking in course {config.course_id} "
                "for this learner (enrolled? completion enabled?)",
            )
        if int(status.get("state") or 0) in (1, 2):
            return Result(record.key, "already-present", external_id, "activity already complete")
        if dry_run:
            return Result(
                record.key,
                "would-write",
                external_id,
                f"would complete activity {cmid} ({record.title}, observed {record.observed_on})",
            )
        answer = self._call(
            client,
            "core_completion_override_activity_completion_status",
            userid=record.lms_user_id,
            cmid=cmid,
            newstate=1,
        )
        state = answer.get("state") if isinstance(answer, dict) else None
        if state not in (1, 2):
            return Result(record.key, "failed", external_id, short(f"override answered {answer}"))
        return Result(record.key, "written", external_id, f"override state {state}")


def _in(key: str, failed: set[str]) -> bool:
    """Whether an enrolment (`course:user`) or its course could not be polled this run."""
    return key in failed or f"{key.split(':', 1)[0]}:" in failed


def _vanished(
    seen: Mapping[str, Sequence[str]],
    polled: Mapping[str, Sequence[str]],
    failed: set[str],
    *,
    everything_polled: bool,
) -> Iterator[Deleted]:
    """Completions read before that Moodle no longer reports (reset, or unenrolled)."""
    for key, ids in sorted(seen.items()):
        if _in(key, failed) or (key not in polled and not everything_polled):
            continue
        for record_id in sorted(set(ids) - set(polled.get(key, ()))):
            yield Deleted("completion", record_id, location=f"Moodle enrolment {key}")
