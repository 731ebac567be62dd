"""A small client of the Arthas HTTP API (``POST /api``), shared by the console and ``exec``.

It speaks only the wire protocol, so it drives any compatible agent, not just livescope's.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8563"
USERNAME = "arthas"


class AgentUnreachable(ConnectionError):
    """Nothing answers at the URL (connection refused, unknown host, timeout on connect)."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"no agent listening at {url} — start one with livescope.start() "
            "or livescope attach PID"
        )
        self.url = url


class ApiError(RuntimeError):
    """The agent answered with an envelope state of FAILED or REFUSED (or an HTTP error)."""

    def __init__(self, state: str, message: str, response: dict[str, Any] | None = None) -> None:
        super().__init__(f"{state}: {message}")
        self.state = state
        self.message = message
        self.response = response or {}


def api_url(url: str) -> str:
    """``http://host:port`` or ``.../api`` → the ``/api`` endpoint."""
    url = url.rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url if url.endswith("/api") else url + "/api"


class ApiClient:
    """One agent endpoint; with a session after :meth:`init_session`."""

    def __init__(self, url: str = DEFAULT_URL, password: str | None = None) -> None:
        self.url = url
        self.endpoint = api_url(url)
        auth = httpx.BasicAuth(USERNAME, password) if password else None
        self.http = httpx.Client(auth=auth, timeout=httpx.Timeout(30.0, connect=5.0))
        self.session_id: str | None = None
        self.consumer_id: str | None = None

    def close(self) -> None:
        self.http.close()

    def request(self, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """POST one envelope; FAILED/REFUSED raise :class:`ApiError` carrying the response."""
        try:
            kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
            response = self.http.post(self.endpoint, json=payload, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise AgentUnreachable(self.url) from exc
        if response.status_code == 401:
            raise ApiError("REFUSED", "authentication failed (HTTP 401): check --password")
        if response.status_code != 200:
            raise ApiError("FAILED", f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
        except ValueError as exc:
            raise ApiError("FAILED", f"the agent sent invalid JSON: {exc}") from exc
        if data.get("state") in ("FAILED", "REFUSED"):
            raise ApiError(data["state"], data.get("message", ""), data)
        return data

    def exec(self, command: str, timeout_ms: int = 30000) -> dict[str, Any]:
        """One-shot synchronous exec (no session): the whole envelope."""
        payload = {"action": "exec", "command": command, "execTimeout": timeout_ms}
        return self.request(payload, timeout=timeout_ms / 1000 + 10)

    def init_session(self) -> None:
        data = self.request({"action": "init_session"})
        self.session_id, self.consumer_id = data["sessionId"], data["consumerId"]

    def async_exec(self, command: str) -> int:
        """Start ``command`` as a job of the session; returns its job id."""
        data = self.request(
            {"action": "async_exec", "command": command, "sessionId": self.session_id}
        )
        return int(data["body"]["jobId"])

    def pull_results(self) -> list[dict[str, Any]]:
        """One long poll (the agent waits up to ~2 s for something to send)."""
        data = self.request(
            {
                "action": "pull_results",
                "sessionId": self.session_id,
                "consumerId": self.consumer_id,
            }
        )
        return list((data.get("body") or {}).get("results") or [])

    def interrupt_job(self) -> None:
        # FAILED means nothing runs any more: the job ended on its own meanwhile.
        with contextlib.suppress(ApiError):
            self.request({"action": "interrupt_job", "sessionId": self.session_id})

    def close_session(self) -> None:
        if self.session_id is None:
            return
        # The agent may be gone or the session expired: then nothing is left to close.
        with contextlib.suppress(ApiError, AgentUnreachable, httpx.HTTPError):
            self.request({"action": "close_session", "sessionId": self.session_id})
        self.session_id = self.consumer_id = None
