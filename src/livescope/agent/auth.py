"""Who may talk to the agent: the HTTP-level check of Arthas (reference §1.1).

With a password set, a request passes if its ``asession`` cookie belongs to an HTTP session that
authenticated before, if it carries ``Authorization: Basic`` or ``?password=`` credentials, or if
it comes from the loopback address while loopback is exempt. Without a password everyone passes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import string
from collections import OrderedDict
from collections.abc import Mapping

COOKIE_NAME = "asession"
COOKIE_SESSIONS = 1024  # Arthas keeps the subjects of this many HTTP sessions (LRU)
LOOPBACK_PEERS = frozenset({"127.0.0.1", "::1"})
_COOKIE_ALPHABET = string.ascii_letters + string.digits


def new_cookie_value() -> str:
    """32 random alphanumerics, the shape of Arthas's ``asession`` cookie.

    Drawn from ``os.urandom`` by rejection (no modulo bias) rather than ``secrets``, which
    would load ``random`` and ``hashlib`` into every idle target.
    """
    limit = 256 - 256 % len(_COOKIE_ALPHABET)
    chars: list[str] = []
    while len(chars) < 32:
        chars += [_COOKIE_ALPHABET[b % len(_COOKIE_ALPHABET)] for b in os.urandom(48) if b < limit]
    return "".join(chars[:32])


def parse_cookie(header: str, name: str = COOKIE_NAME) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, if present."""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


class Authenticator:
    """Decides whether a request is let through, and remembers authenticated cookies."""

    def __init__(
        self, password: str | None, username: str = "arthas", loopback_exempt: bool = True
    ) -> None:
        self.username = username
        self.password = password
        self.loopback_exempt = loopback_exempt
        # cookie value -> whether that HTTP session authenticated; only cookies we issued
        self._sessions: OrderedDict[str, bool] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.password is not None

    def session_cookie(self, sent: str | None) -> str:
        """The cookie to set on the response: the client's own if we issued it, else a new one."""
        if sent is not None and sent in self._sessions:
            self._sessions.move_to_end(sent)
            return sent
        value = new_cookie_value()
        self._remember(value, False)
        return value

    def check(
        self, peer_host: str, headers: Mapping[str, str], query: Mapping[str, str], cookie: str
    ) -> bool:
        """True if the request may proceed; an authenticated request marks ``cookie`` as such."""
        if not self.enabled:
            return True
        if self._sessions.get(cookie):
            return True
        if self._credentials_ok(headers, query):
            self._remember(cookie, True)
            return True
        return self.loopback_exempt and peer_host in LOOPBACK_PEERS

    def _credentials_ok(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        authorization = headers.get("authorization", "")
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() == "basic" and encoded:
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user, sep, password = decoded.partition(":")
            if sep and self._matches(user, password):
                return True
        if "password" in query:
            return self._matches(query.get("username") or self.username, query["password"])
        return False

    def _matches(self, user: str, password: str) -> bool:
        assert self.password is not None
        user_ok = hmac.compare_digest(user.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user_ok and password_ok

    def _remember(self, cookie: str, authenticated: bool) -> None:
        self._sessions[cookie] = authenticated or self._sessions.get(cookie, False)
        self._sessions.move_to_end(cookie)
        while len(self._sessions) > COOKIE_SESSIONS:
            self._sessions.popitem(last=False)
