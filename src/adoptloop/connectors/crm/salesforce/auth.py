"""Getting a Salesforce session with simple-salesforce's login helpers.

JWT bearer and client credentials are the first-class flows; an existing session id is used
as given (it cannot be renewed); username/password (+ security token) still works but is
logged as deprecated, because Salesforce is retiring the SOAP login() call and the OAuth
username-password flow. Tokens are never logged, and no error message carries one.

simple-salesforce builds its token URL as https://NAME.salesforce.com; a custom login host
(`allow_custom_login_host`: a proxy, a test org) gets the same JWT assertion and token request
posted to `login_url` by simple-salesforce's own `token_login`.
"""

from __future__ import annotations

import base64
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import requests
import structlog
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import SalesforceLogin, token_login

from adoptloop.connectors.crm.salesforce.config import (
    Auth,
    ClientCredentialsAuth,
    JwtBearerAuth,
    PasswordAuth,
    SessionAuth,
    is_salesforce_host,
    login_domain,
)
from adoptloop.errors import ConfigError, RetriableError
from adoptloop.http.client import AuthFailed

log = structlog.get_logger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCE = "https://login.salesforce.com"  # the JWT's audience, whatever the host


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str  # https://acme.my.salesforce.com

    def __repr__(self) -> str:  # never show the token, not even in a traceback
        return f"Token(instance_url={self.instance_url!r}, access_token=[redacted])"


_HINTS = {
    "jwt-bearer": "check the connected app's certificate, that the integration user is "
    "pre-authorized (Admin approved users + its profile or permission set), and the username",
    "client-credentials": "check the consumer key/secret, that the client credentials flow is "
    "enabled and a Run As user is set, and that login_url is your My Domain",
    "password": "check username, password and security token (and consider jwt-bearer)",
}


class Authenticator:
    """Logs in (again) on request; `renewable` says whether a new session can be had."""

    def __init__(
        self, auth: Auth, *, api_version: str, session: requests.Session, source: str = "salesforce"
    ) -> None:
        self.auth = auth
        self.api_version = api_version
        self.session = session
        self.source = source

    @property
    def org(self) -> str:
        """Which org a message is about: the source and the host it logs in at."""
        auth = self.auth
        host = auth.instance_url if isinstance(auth, SessionAuth) else auth.login_url
        return f"sources.{self.source} ({host})"

    @property
    def renewable(self) -> bool:
        return not isinstance(self.auth, SessionAuth)

    def login(self) -> Token:
        auth = self.auth
        if isinstance(auth, SessionAuth):
            return Token(auth.session_id.get_secret_value(), auth.instance_url.rstrip("/"))
        if isinstance(auth, PasswordAuth):
            log.warning(
                "salesforce password login is deprecated",
                hint="Salesforce is retiring SOAP login() and the username-password flow; "
                "move this source to auth.type jwt-bearer or client-credentials",
            )
        try:
            with warnings.catch_warnings():
                # simple-salesforce warns with an authorize URL when the app is not approved;
                # the hint in our own error says the same without a URL to click blindly.
                warnings.simplefilter("ignore")
                session_id, instance = self._login(auth)
        except SalesforceAuthenticationFailed as exc:
            hint = _HINTS.get(auth.type, "")
            raise AuthFailed(
                f"{self.org}: Salesforce refused the {auth.type} login ({exc.code}: "
                f"{exc.auth_message}); the credentials are revoked or wrong: {hint}"
            ) from None
        except (jwt.PyJWTError, ValueError, TypeError) as exc:  # the key cannot sign
            raise ConfigError(
                f"the Salesforce {auth.type} login cannot sign its JWT assertion: the private key "
                f"is not a usable PEM RSA key ({exc.__class__.__name__}); check auth.private_key "
                "or auth.private_key_file"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(
                f"cannot reach the Salesforce login host ({exc.__class__.__name__})"
            ) from None
        log.info("salesforce login", flow=auth.type, instance=instance)
        return Token(session_id, f"https://{instance}")

    def _login(self, auth: JwtBearerAuth | ClientCredentialsAuth | PasswordAuth) -> tuple[str, str]:
        if not is_salesforce_host(auth.login_url) and not isinstance(auth, PasswordAuth):
            return self._custom_host_login(auth)
        if isinstance(auth, JwtBearerAuth):
            domain = login_domain(auth.login_url)
            key = auth.private_key.get_secret_value() if auth.private_key else None
            return SalesforceLogin(
                username=auth.username,
                consumer_key=auth.client_id,
                privatekey=key,
                privatekey_file=str(auth.private_key_file) if auth.private_key_file else None,
                domain="test" if auth.sandbox else "login",
                instance_url=None if domain in ("login", "test") else domain,
                session=self.session,
                sf_version=self.api_version,
            )
        if isinstance(auth, ClientCredentialsAuth):
            return SalesforceLogin(
                consumer_key=auth.client_id,
                consumer_secret=auth.client_secret.get_secret_value(),
                domain=login_domain(auth.login_url),
                session=self.session,
                sf_version=self.api_version,
            )
        password = auth.password.get_secret_value()
        token = auth.security_token.get_secret_value() if auth.security_token else None
        if auth.client_id and auth.client_secret:
            # the OAuth username-password flow takes the token appended to the password
            return SalesforceLogin(
                username=auth.username,
                password=password + (token or ""),
                consumer_key=auth.client_id,
                consumer_secret=auth.client_secret.get_secret_value(),
                domain=login_domain(auth.login_url),
                session=self.session,
                sf_version=self.api_version,
            )
        return SalesforceLogin(
            username=auth.username,
            password=password,
            security_token=token,
            domain=login_domain(auth.login_url),
            session=self.session,
            sf_version=self.api_version,
        )

    def _custom_host_login(self, auth: JwtBearerAuth | ClientCredentialsAuth) -> tuple[str, str]:
        """The OAuth token request of the flow, posted to a login host that is not Salesforce's
        (a proxy, a test org): what simple-salesforce sends, at `login_url`."""
        headers: dict[str, str] | None = None
        if isinstance(auth, JwtBearerAuth):
            key = (
                auth.private_key.get_secret_value()
                if auth.private_key
                else Path(str(auth.private_key_file)).read_text(encoding="utf-8")
            )
            audience = "https://test.salesforce.com" if auth.sandbox else LOGIN_AUDIENCE
            claims = {
                "iss": auth.client_id,
                "sub": auth.username,
                "aud": audience,
                "exp": int((datetime.now(UTC) + timedelta(minutes=3)).timestamp()),
            }
            assertion = jwt.encode(claims, key, algorithm="RS256")
            data = {"grant_type": JWT_GRANT, "assertion": assertion}
        else:
            pair = f"{auth.client_id}:{auth.client_secret.get_secret_value()}"
            headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
            data = {"grant_type": "client_credentials"}
        token_url = f"{auth.login_url}/services/oauth2/token"
        session_id, instance = token_login(
            token_url, data, auth.login_url, auth.client_id, headers, None, self.session
        )
        return str(session_id), str(instance)
