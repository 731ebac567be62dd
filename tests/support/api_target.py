"""A target program with a few test-only commands, and a small client of one API session.

The commands exercise the job machinery without depending on any real command family:
``forever`` never ends by itself (it prints when it is interrupted), ``chatty N [-i SECONDS]`` emits N messages, ``needs`` has a
required argument, ``boom`` raises, ``stall N`` holds the agent's event loop (the distributor)
while it emits N messages, and ``unwritable`` / ``unencodable`` emit a result whose conversion to
JSON raises, or yields something JSON cannot hold (a command bug the API must survive).
"""

from __future__ import annotations

import time
from typing import Any

from support.targets import Target

TEST_COMMANDS = """
import threading
import time
from dataclasses import dataclass

from livescope.commands.base import Command, CommandError
from livescope.commands.registry import register
from livescope.commands.spec import Argument, Option
from livescope.model.base import ResultModel
from livescope.model.common import MessageModel


@register
class Forever(Command):
    name = "forever"
    summary = "Emit one message, then wait until interrupted"

    def run(self, ctx, args):
        ctx.emit(MessageModel(message="started"))
        ctx.wait()
        print(f"forever {ctx.job_id} ended", flush=True)


@register
class Chatty(Command):
    name = "chatty"
    summary = "Emit COUNT messages"
    arguments = (Argument("count", type=int),)
    options = (Option("interval", "i", type=float, default=0.0),)

    def run(self, ctx, args):
        for i in range(args.count):
            if ctx.interrupted:
                return
            ctx.emit(MessageModel(message=f"m{i}"))
            if args.interval:
                ctx.wait(args.interval)


@register
class Needs(Command):
    name = "needs"
    summary = "Requires an argument"
    arguments = (Argument("class-pattern"),)

    def run(self, ctx, args):
        ctx.emit(MessageModel(message=args.class_pattern))


@register
class Boom(Command):
    name = "boom"
    summary = "Fails"

    def run(self, ctx, args):
        raise CommandError("it broke", 1)


@register
class Stall(Command):
    name = "stall"
    summary = "Hold the agent's event loop for SECONDS while emitting COUNT messages"
    arguments = (Argument("count", type=int),)
    options = (Option("seconds", "s", type=float, default=0.6),)

    def run(self, ctx, args):
        held = threading.Event()

        def hold():
            held.set()
            time.sleep(args.seconds)

        ctx.agent.loop.call_soon_threadsafe(hold)
        held.wait(5)
        for i in range(args.count):
            if ctx.interrupted:
                return
            ctx.emit(MessageModel(message=f"m{i}"))


@dataclass(kw_only=True)
class UnwritableModel(ResultModel):
    type = "unwritable"

    def to_wire(self):
        raise RuntimeError("this model cannot be written")


@dataclass(kw_only=True)
class UnencodableModel(ResultModel):
    type = "unencodable"

    def to_wire(self):
        return {"type": self.type, "jobId": self.job_id, "value": object()}


@register
class Unwritable(Command):
    name = "unwritable"
    summary = "Emit a result whose to_wire raises"

    def run(self, ctx, args):
        ctx.emit(UnwritableModel())


@register
class Unencodable(Command):
    name = "unencodable"
    summary = "Emit a result holding a value JSON cannot encode"

    def run(self, ctx, args):
        ctx.emit(UnencodableModel())


# The agent listens before this module body has run; tests wait for this line.
print("test commands registered", flush=True)
while True:
    time.sleep(1)
"""


def start_api_target(**kwargs: Any) -> Target:
    target = Target(TEST_COMMANDS, **kwargs)
    target.wait_for_output("test commands registered")
    return target


class ApiSession:
    """One ``init_session`` session of a target and its first consumer."""

    def __init__(self, target: Target) -> None:
        self.target = target
        reply = target.api({"action": "init_session"})
        assert reply["state"] == "SUCCEEDED", reply
        self.session_id: str = reply["sessionId"]
        self.consumer_id: str = reply["consumerId"]

    def call(self, action: str, **fields: Any) -> dict:
        return self.target.api({"action": action, "sessionId": self.session_id, **fields})

    def pull(self, consumer_id: str | None = None) -> list[dict]:
        reply = self.call("pull_results", consumerId=consumer_id or self.consumer_id)
        assert reply["state"] == "SUCCEEDED", reply
        return reply["body"]["results"]

    def pull_until(self, predicate: Any, consumer_id: str | None = None, limit: float = 10.0):
        """Pull repeatedly, gathering items until one satisfies ``predicate``."""
        items: list[dict] = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            items.extend(self.pull(consumer_id))
            if any(predicate(item) for item in items):
                return items
        raise AssertionError(f"nothing matched after {limit}s: {items}")

    def welcome(self) -> list[dict]:
        return self.pull_until(lambda i: i["type"] == "input_status")

    def async_exec(self, command: str) -> dict:
        return self.call("async_exec", command=command)


def is_status(job_id: int):
    return lambda item: item["type"] == "status" and item["jobId"] == job_id
