"""Commands a program registers itself (plugins), against a real agent over real HTTP."""

from __future__ import annotations

import http.client
import json
import time

from support.targets import Target

PLUGIN_PROGRAM = """
import os, livescope
from livescope.commands.base import Command
from livescope.commands.registry import register
from livescope.model.common import MessageModel

livescope.start(port=int(os.environ["LIVESCOPE_TEST_PORT"]))


@register
class Hello(Command):
    name = "hello"
    summary = "A plugin command"

    def run(self, ctx, args):
        ctx.emit(MessageModel(message="hello from the plugin"))


print("plugin registered", flush=True)
import time
time.sleep(600)
"""

EXEC_VERSION = json.dumps({"action": "exec", "command": "version"})


def first_request_as_soon_as_listening(port: int) -> http.client.HTTPConnection:
    """Send ``exec version`` the moment the port accepts (no TLS set-up or pool in between)."""
    deadline = time.monotonic() + 15
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/api", body=EXEC_VERSION)
            return conn
        except OSError:
            conn.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def test_plugin_registered_during_the_first_request_is_kept(make_target) -> None:
    # The agent listens before the program registers its command, so the agent's first command
    # lookup (for this request) and the program's registration load the registry together.
    target: Target = make_target(PLUGIN_PROGRAM, agent=False)
    conn = first_request_as_soon_as_listening(target.port)
    try:
        assert json.loads(conn.getresponse().read())["state"] == "SUCCEEDED"
    finally:
        conn.close()
    target.wait_for_output("plugin registered")
    reply = target.exec("hello")
    assert reply["state"] == "SUCCEEDED", reply
    assert reply["body"]["results"][0]["message"] == "hello from the plugin"
