"""Who may use the console, and proof that a POST came from its own pages (README "Console").

Every visitor holds a signed session cookie (HttpOnly, SameSite=Strict, an id and, after login, the access key
id). With access keys configured, pages need a login: the access key id and its secret, compared in constant
time with the configured pair (the same pairs that verify SigV4 signatures, api/auth.py). Without keys, the
console answers only the loopback Host names the API answers (DNS rebinding). Every POST carries a CSRF token,
an HMAC of the session id, in a form field or the ``X-CSRF-Token`` header htmx sends; the secret never reaches
a page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..config import Settings

COOKIE = "openpersonalize_console"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Session:
    """One browser's session: a random id and the access key id it logged in with (None: not logged in)."""

    id: str
    key_id: str | None = None


def _signing_secret(settings: Settings) -> bytes:
    """Derived from the configured secrets, so every server node of one deployment accepts the same cookie (and a
    changed secret ends every session); without keys, random per process (loopback only, nothing to share)."""
    if not settings.access_keys:
        return secrets.token_bytes(32)
    material = "\n".join(f"{k}:{v}" for k, v in sorted(settings.access_keys.items())).encode()
    return hmac.new(material, b"openpersonalize console session", hashlib.sha256).digest()


class Gate:
    """Sessions, login and CSRF tokens for one deployment's settings."""

    def __init__(self, settings: Settings) -> None:
        self.keys = dict(settings.access_keys)
        self.secret = _signing_secret(settings)
        self.serializer = URLSafeTimedSerializer(self.secret, salt="console-session")

    @property
    def login_required(self) -> bool:
        return bool(self.keys)

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie, or None if it is absent, forged or expired."""
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return None
        key_id = data.get("key")
        if key_id is not None and key_id not in self.keys:
            return None  # the key was removed from the configuration
        return Session(data["id"], key_id)

    def new_session(self, key_id: str | None = None) -> Session:
        return Session(secrets.token_urlsafe(18), key_id)

    def cookie(self, session: Session) -> str:
        return self.serializer.dumps({"id": session.id, "key": session.key_id})

    def allowed(self, session: Session) -> bool:
        return not self.login_required or session.key_id is not None

    def check_login(self, key_id: str, secret: str) -> bool:
        """Whether ``secret`` is the configured secret of ``key_id`` (constant time whatever is wrong)."""
        expected = self.keys.get(key_id, "")
        same = hmac.compare_digest(expected.encode(), secret.encode())
        return bool(expected) and same

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self.secret, f"csrf:{session.id}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.csrf_token(session), token)
