"""The Arthas HTTP API actions behind ``POST /api``: envelope parsing, dispatch, exact replies.

The HTTP server hands each request body to :meth:`ApiHandler.handle` on the agent's event loop
and serialises the dict it returns. Nothing here blocks the loop: commands run in their job's
worker thread, and every wait (exec polling, long polls) is an asyncio wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from livescope.agent.jobs import Job, JobCreationError, Sink, lookup, parse_line
from livescope.agent.sessions import Session, SessionManager
from livescope.commands.base import AgentView
from livescope.model.base import ResultModel
from livescope.model.common import CommandRequestModel

DEFAULT_EXEC_TIMEOUT = 30000
EXEC_BUFFER = 500
EXEC_POLL = 0.1
INTERRUPT_GRACE = 0.5
TIME_LIMIT_MESSAGE = "The job is exceeded time limit, force interrupt"
PARSE_ERROR = "Process request error: parse request failed: "
STRING_FIELDS = ("action", "requestId", "sessionId", "consumerId", "command", "userId")


class RequestError(Exception):
    """The body is not a request envelope."""


@dataclass
class ApiRequest:
    action: str | None = None
    request_id: str | None = None
    session_id: str | None = None
    consumer_id: str | None = None
    command: str | None = None
    exec_timeout: int | None = None
    user_id: str | None = None


def _string(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"field '{name}' expects a string, got {json.dumps(value)[:80]}")
    return str(value)


def _timeout(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value.strip())
    if number is None or not math.isfinite(number):  # NaN and 1e999 are numbers JSON allows
        raise RequestError(f"field 'execTimeout' expects a number, got {json.dumps(value)[:80]}")
    return int(number)


def parse_request(body: bytes) -> ApiRequest:
    """Decode the envelope: unknown fields ignored, numbers accepted where strings are expected."""
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        raise RequestError("request body is empty")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RequestError(f"invalid JSON: {exc}") from exc
    except RecursionError:  # e.g. ten thousand nested arrays
        raise RequestError("invalid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise RequestError(f"expected a JSON object, got {type(data).__name__}")
    fields = {name: _string(name, data.get(name)) for name in STRING_FIELDS}
    return ApiRequest(
        action=fields["action"],
        request_id=fields["requestId"],
        session_id=fields["sessionId"],
        consumer_id=fields["consumerId"],
        command=fields["command"],
        exec_timeout=_timeout(data.get("execTimeout")),
        user_id=fields["userId"],
    )


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def reply(state: str, message: str | None = None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"state": state}
    if message is not None:
        out["message"] = message
    out.update((k, v) for k, v in fields.items() if v is not None)
    return out


Action = Callable[[ApiRequest, Session], Awaitable[dict[str, Any]]]


def create_job(agent: AgentView, session: Session, command: str | None, sink: Sink) -> Job:
    """Tokenise, allocate a job id, find the command; JobCreationError on failure."""
    line = parse_line(command or "")
    job_id = session.manager.next_job_id()
    cls = lookup(line.name)
    loop = asyncio.get_running_loop()
    return Job(job_id, session, agent, line, cls, sink, loop, on_end=session.job_ended)


def schedule_job(agent: AgentView, session: Session, command: str | None) -> Job:
    """What ``async_exec`` does once the session is free: the job, registered and ready to start.

    Its results go to every consumer of the session, so the web terminal, which is a session
    too, runs commands exactly as the API does. Raises JobCreationError (already reported to
    the consumers) when the line is not a command.
    """
    if command is not None:
        session.history.append(command)
    try:
        job = create_job(agent, session, command, session.distribute)
    except JobCreationError as exc:
        message = f"Async exec command failed:{exc}"
        session.distribute(
            CommandRequestModel(command=command or "", state="FAILED", message=message)
        )
        raise
    session.distribute(CommandRequestModel(job_id=job.job_id, command=command, state="SCHEDULED"))
    session.jobs.add(job)
    session.foreground = job
    session.input_status("ALLOW_INTERRUPT")
    if job.background:
        session.foreground = None
        session.input_status("ALLOW_INPUT")
    return job


class ApiHandler:
    """The seven documented actions plus ``session_info``, for one agent."""

    def __init__(self, agent: AgentView) -> None:
        self.agent = agent
        self._actions: dict[str, Action] = {
            "exec": self._exec,
            "async_exec": self._async_exec,
            "interrupt_job": self._interrupt_job,
            "pull_results": self._pull_results,
            "join_session": self._join_session,
            "close_session": self._close_session,
            "session_info": self._session_info,
        }

    @property
    def sessions(self) -> SessionManager:
        manager = getattr(self.agent, "sessions", None)
        if manager is None:
            manager = SessionManager(self.agent)
            self.agent.sessions = manager  # type: ignore[attr-defined]
        return manager

    async def handle(self, body: bytes, peer_host: str, user_id: str | None) -> dict[str, Any]:
        """One POST /api body → the response object (never raises)."""
        try:
            request = parse_request(body)
        except RequestError as exc:
            return reply("FAILED", f"{PARSE_ERROR}{exc}")
        try:
            out = await self._dispatch(request, user_id)
        except Exception as exc:  # an action bug must not become an HTTP 500
            out = reply("FAILED", f"process http api request failed: {exc}")
        if request.request_id is not None:
            out["requestId"] = request.request_id
        return out

    async def _dispatch(self, request: ApiRequest, url_user_id: str | None) -> dict[str, Any]:
        if _blank(request.action):
            return reply("FAILED", "'action' is required")
        action = request.action.strip().lower()
        user_id = request.user_id if not _blank(request.user_id) else url_user_id
        if action == "init_session":
            return self._init_session(user_id)
        handler = self._actions.get(action)
        if handler is None:
            return reply("FAILED", f"unknown action: {request.action}")
        if _blank(request.session_id):
            if action == "exec":
                return await self._one_shot_exec(request, user_id)
            return reply("FAILED", "'sessionId' is required")
        session_id = request.session_id.strip()
        session = self.sessions.get(session_id)
        if session is None:
            return reply("FAILED", f"session not found: {session_id}")
        session.touch()
        if user_id:
            session.user_id = user_id
        return await handler(request, session)

    # --- sessions -------------------------------------------------------------------------
    def _init_session(self, user_id: str | None) -> dict[str, Any]:
        session = self.sessions.create(user_id)
        consumer = session.add_consumer()
        session.welcome(self.agent)
        return reply("SUCCEEDED", sessionId=session.session_id, consumerId=consumer.consumer_id)

    async def _join_session(self, request: ApiRequest, session: Session) -> dict[str, Any]:
        consumer = session.join()
        return reply("SUCCEEDED", sessionId=session.session_id, consumerId=consumer.consumer_id)

    async def _close_session(self, request: ApiRequest, session: Session) -> dict[str, Any]:
        self.sessions.remove(session)
        return reply("SUCCEEDED")

    async def _session_info(self, request: ApiRequest, session: Session) -> dict[str, Any]:
        body = {
            "createTime": int(session.create_time * 1000),
            "lastAccessTime": int(session.last_access_time * 1000),
            "pid": self.agent.pid,
        }
        return reply("SUCCEEDED", body=body, sessionId=session.session_id)

    async def _pull_results(self, request: ApiRequest, session: Session) -> dict[str, Any]:
        if _blank(request.consumer_id):
            return reply("FAILED", "'consumerId' is required")
        consumer_id = request.consumer_id.strip()
        consumer = session.consumers.get(consumer_id)
        if consumer is None:
            return reply("FAILED", f"consumer not found: {consumer_id}")
        results = await consumer.pull()
        return reply(
            "SUCCEEDED",
            body={"results": [r.to_wire() for r in results]},
            consumerId=consumer_id,
            sessionId=session.session_id,
        )

    # --- jobs -----------------------------------------------------------------------------
    def _busy(self, session: Session, command: str | None) -> dict[str, Any] | None:
        body = {"command": command}
        if session.executing:
            return reply(
                "REFUSED", "Another command is executing.", body=body, sessionId=session.session_id
            )
        if session.foreground is not None:
            return reply(
                "REFUSED", "Another job is running.", body=body, sessionId=session.session_id
            )
        return None

    async def _one_shot_exec(self, request: ApiRequest, user_id: str | None) -> dict[str, Any]:
        session = self.sessions.create(user_id, temporary=True)
        try:
            return await self._exec(request, session)
        finally:
            self.sessions.remove(session)

    async def _exec(self, request: ApiRequest, session: Session) -> dict[str, Any]:
        command = request.command
        refused = self._busy(session, command)
        if refused is not None:
            return refused
        session.executing = True
        try:
            results: list[ResultModel] = []
            job = self._start_exec_job(session, command, results)
            if not job.background:
                return await self._finish_exec(request, session, job, results)
        except JobCreationError as exc:
            return reply(
                "FAILED",
                f"Exec command failed:{exc}",
                body={"command": command},
                sessionId=session.session_id,
            )
        finally:
            session.executing = False
        # A line ending in `&` runs as a background job: it never holds the session's foreground
        # slot or command lock, so other commands (and interrupt_job) work on the session while
        # this request still waits for the job's own results, and ends it at execTimeout.
        return await self._finish_exec(request, session, job, results)

    def _start_exec_job(self, session: Session, command: str | None, results: list) -> Job:
        """Create and start an exec job whose results go into ``results`` (≤500 of them)."""

        def collect(model: ResultModel) -> None:
            if len(results) < EXEC_BUFFER:
                results.append(model)

        if command is not None:
            session.history.append(command)
        job = create_job(self.agent, session, command, collect)
        session.jobs.add(job)
        if not job.background:
            session.foreground = job
        if session.consumers:
            session.input_status("ALLOW_INTERRUPT")
            if job.background:
                session.input_status("ALLOW_INPUT")
        job.start()
        return job

    async def _finish_exec(
        self, request: ApiRequest, session: Session, job: Job, results: list[ResultModel]
    ) -> dict[str, Any]:
        """Wait for the job up to execTimeout (interrupting it then) and build the reply."""
        timeout_ms = request.exec_timeout
        if timeout_ms is None or timeout_ms <= 0:
            timeout_ms = DEFAULT_EXEC_TIMEOUT
        expired = not await job.wait_done(timeout_ms / 1000)
        if expired:
            job.interrupt()
            await job.wait_done(INTERRUPT_GRACE)
        body: dict[str, Any] = {
            "command": request.command,
            "jobId": job.job_id,
            "jobStatus": job.status,
            "results": [r.to_wire() for r in results],
            "timeExpired": expired,
        }
        if expired:
            body["timeout"] = timeout_ms
            return reply("INTERRUPTED", TIME_LIMIT_MESSAGE, body=body, sessionId=session.session_id)
        return reply("SUCCEEDED", body=body, sessionId=session.session_id)

    async def _async_exec(self, request: ApiRequest, session: Session) -> dict[str, Any]:
        command = request.command
        refused = self._busy(session, command)
        if refused is not None:
            return refused
        try:
            job = schedule_job(self.agent, session, command)
        except JobCreationError as exc:
            message = f"Async exec command failed:{exc}"
            return reply("FAILED", message, body={"command": command}, sessionId=session.session_id)
        body = {"command": command, "jobId": job.job_id, "jobStatus": job.status}
        job.start()
        return reply("SCHEDULED", body=body, sessionId=session.session_id)

    async def _interrupt_job(self, request: ApiRequest, session: Session) -> dict[str, Any]:
        job = session.foreground
        if job is None:
            return reply("FAILED", "no foreground job is running")
        job.interrupt()
        await job.wait_done(INTERRUPT_GRACE)
        return reply("SUCCEEDED", body={"jobId": job.job_id, "jobStatus": job.status})


__all__ = ["ApiHandler", "ApiRequest", "create_job", "parse_request", "reply", "schedule_job"]
