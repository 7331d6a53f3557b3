"""Google's OAuth token endpoint for service accounts, and the bearer check behind it.

`POST /token` takes the JWT-bearer grant that google-auth's `service_account.Credentials`
sends to its `token_uri`: an RS256 JWT signed with the service account's private key. We
verify it against the public keys of the configured service-account files and answer an
access token. Access tokens are HMAC-signed by a secret kept in the data directory, so they
survive a restart of the simulator as Google's do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from veorelay.simulator.validation import SimulatorError

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # google-auth's `aud`, whatever token_uri
_CLOCK_SKEW = 300.0
_MAX_ASSERTION_LIFETIME = 3600.0
_TOKEN_PREFIX = "ya29.sim."


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    project_id: str
    private_key_id: str
    token_uri: str
    public_key: rsa.RSAPublicKey

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccount:
        info = json.loads(path.read_text())
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: the private key is not an RSA key")
        return cls(
            client_email=info["client_email"],
            project_id=info["project_id"],
            private_key_id=info.get("private_key_id", ""),
            token_uri=info.get("token_uri", ""),
            public_key=key.public_key(),
        )


@dataclass(frozen=True)
class Principal:
    """Who an access token speaks for, and the projects it may use."""

    client_email: str
    projects: frozenset[str]


class OAuthError(Exception):
    """An answer from the token endpoint: 400 invalid_grant and friends."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class TokenAuthority:
    def __init__(
        self,
        accounts: tuple[ServiceAccount, ...],
        projects: frozenset[str],
        token_seconds: float,
        secret_file: Path,
        clock: Callable[[], float],
    ):
        self._accounts = {account.client_email: account for account in accounts}
        self._projects = projects
        self._token_seconds = token_seconds
        self._secret_file = secret_file
        self._secret: bytes | None = None
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self._accounts)

    def grant(self, form: dict[str, str], endpoint_url: str) -> dict[str, Any]:
        """Exchange a signed JWT assertion for an access token."""
        if form.get("grant_type") != JWT_BEARER:
            raise OAuthError("unsupported_grant_type", "Invalid grant_type.")
        assertion = form.get("assertion", "")
        account, claims = self._verify_assertion(assertion)
        now = self._clock()
        audiences = {GOOGLE_TOKEN_URI, account.token_uri, endpoint_url}
        if claims.get("aud") not in audiences:
            raise OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token.")
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            raise OAuthError("invalid_grant", "Invalid JWT: iat and exp are required.")
        if expires - issued > _MAX_ASSERTION_LIFETIME or issued > now + _CLOCK_SKEW:
            raise OAuthError(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        if expires < now - _CLOCK_SKEW:
            raise OAuthError("invalid_grant", "Invalid JWT: Token has expired.")
        if CLOUD_PLATFORM not in str(claims.get("scope", "")).split():
            raise OAuthError(
                "invalid_scope",
                "Invalid OAuth scope or ID token audience provided.",
            )
        return {
            "access_token": self._issue(account.client_email, now + self._token_seconds),
            "expires_in": int(self._token_seconds),
            "token_type": "Bearer",
        }

    def principal(self, authorization: str | None) -> Principal:
        """The principal behind an `Authorization: Bearer` header, or a 401."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise unauthenticated("CREDENTIALS_MISSING")
        email = self._check_token(authorization[7:].strip())
        account = self._accounts.get(email) if email else None
        if account is None:
            raise unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED")
        return Principal(account.client_email, self._projects or frozenset({account.project_id}))

    def _verify_assertion(self, assertion: str) -> tuple[ServiceAccount, dict[str, Any]]:
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header = json.loads(_unb64(header_b64))
            claims = json.loads(_unb64(payload_b64))
            signature = _unb64(signature_b64)
        except (ValueError, binascii.Error):
            raise OAuthError("invalid_grant", "Invalid JWT Signature.") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "Invalid JWT: the algorithm must be RS256.")
        account = self._accounts.get(str(claims.get("iss")))
        if account is None:
            raise OAuthError("invalid_grant", "Invalid grant: account not found")
        try:
            account.public_key.verify(
                signature,
                f"{header_b64}.{payload_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise OAuthError("invalid_grant", "Invalid JWT Signature.") from None
        return account, claims

    def _issue(self, email: str, expires_at: float) -> str:
        payload = _b64(json.dumps({"sub": email, "exp": expires_at}).encode())
        return f"{_TOKEN_PREFIX}{payload}.{self._sign(payload)}"

    def _check_token(self, token: str) -> str | None:
        if not token.startswith(_TOKEN_PREFIX) or token.count(".") != 3:
            return None
        payload, signature = token[len(_TOKEN_PREFIX) :].split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        claims = json.loads(_unb64(payload))
        if self._clock() >= claims["exp"]:
            raise unauthenticated("ACCESS_TOKEN_EXPIRED")
        return str(claims["sub"])

    def _sign(self, payload: str) -> str:
        if self._secret is None:
            self._secret = _load_or_create_secret(self._secret_file)
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())


def unauthenticated(reason: str) -> SimulatorError:
    return SimulatorError(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ],
    )


def _load_or_create_secret(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    tmp = path.with_suffix(".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    try:
        os.link(tmp, path)  # the first writer wins; a racing one reads the winner's secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
