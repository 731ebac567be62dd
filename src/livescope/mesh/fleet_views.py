"""Text views of ``livescope fleet``: the agent table, and many agents' answers as one view."""

from __future__ import annotations

import collections
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from livescope.console.output import Printer
from livescope.mesh.fleet import ANSWERED, AgentRecord, Outcome

STATE_STYLES = {"SUCCEEDED": "green", "INTERRUPTED": "yellow"}


def agents_table(agents: Sequence[AgentRecord]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("AGENT", "APP", "HOST", "PID", "PYTHON", "VERSION", "API", "NODE"):
        table.add_column(column)
    for agent in agents:
        info = agent.info
        table.add_row(
            agent.client,
            agent.app,
            str(info.get("host", "")),
            str(info.get("pid", "")),
            str(info.get("python", "")),
            str(info.get("version", "")),
            str(info.get("api", "")),
            str(agent.node),
        )
    return table


def state_of(outcome: Outcome) -> str:
    """The API state of an answer (SUCCEEDED, INTERRUPTED, FAILED...), else gone / no answer."""
    if outcome.state == ANSWERED and outcome.reply is not None:
        return str(outcome.reply.get("state", "?"))
    return outcome.state


def show_outcomes(printer: Printer, outcomes: Sequence[Outcome]) -> None:
    """Each agent's results under a header line, then one summary table and a count."""
    console = printer.console
    for outcome in outcomes:
        agent = outcome.agent
        state = state_of(outcome)
        header = Text(f"── {agent.app} {agent.info.get('host')}:{agent.info.get('pid')} ", "bold")
        header.append(f"agent {agent.client} ", "dim")
        header.append(state, STATE_STYLES.get(state, "red"))
        console.print(header)
        reply = outcome.reply or {}
        if outcome.state != ANSWERED:
            console.print(Text(outcome.detail, "red"))
        elif reply.get("message") and state != "SUCCEEDED":
            console.print(Text(str(reply["message"]), "red"))
        printer.show((reply.get("body") or {}).get("results") or [])
    summary = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("AGENT", "APP", "HOST", "PID", "STATE", "TIME"):
        summary.add_column(column)
    for outcome in outcomes:
        info = outcome.agent.info
        state = state_of(outcome)
        summary.add_row(
            outcome.agent.client,
            outcome.agent.app,
            str(info.get("host", "")),
            str(info.get("pid", "")),
            Text(state, STATE_STYLES.get(state, "red")),
            f"{outcome.seconds * 1000:.0f} ms" if outcome.state == ANSWERED else "-",
        )
    console.print()
    console.print(summary)
    counts = collections.Counter(state_of(o) for o in outcomes)
    parts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items()))
    console.print(f"{len(outcomes)} agent(s): {parts}")
