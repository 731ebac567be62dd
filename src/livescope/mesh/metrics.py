"""Counters a node exposes on ``GET /metrics`` in the Prometheus text format."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Metrics:
    clients: int = 0
    connections_total: int = 0
    messages_in: int = 0
    messages_out: int = 0
    slow_disconnects: int = 0
    queue_pushed: int = 0
    queue_popped: int = 0
    send_seconds: dict[str, float] = field(default_factory=lambda: {"local": 0.0, "forwarded": 0.0})
    send_count: dict[str, int] = field(default_factory=lambda: {"local": 0, "forwarded": 0})

    def observe_send(self, route: str, seconds: float) -> None:
        self.send_seconds[route] += seconds
        self.send_count[route] += 1

    def render(self, node_id: int) -> str:
        lines = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f'{name}{{node="{node_id}"{labels}}} {value}')

        metric("mesh_clients", "gauge", "Client connections open.", [("", self.clients)])
        metric(
            "mesh_connections_total",
            "counter",
            "Client connections accepted.",
            [("", self.connections_total)],
        )
        metric(
            "mesh_messages_in_total",
            "counter",
            "Messages received from clients.",
            [("", self.messages_in)],
        )
        metric(
            "mesh_messages_out_total",
            "counter",
            "Messages written to clients.",
            [("", self.messages_out)],
        )
        metric(
            "mesh_slow_disconnects_total",
            "counter",
            "Clients dropped for exceeding their outbound budget.",
            [("", self.slow_disconnects)],
        )
        metric(
            "mesh_queue_pushed_total",
            "counter",
            "Entries pushed to queue topics.",
            [("", self.queue_pushed)],
        )
        metric(
            "mesh_queue_popped_total",
            "counter",
            "Queue entries delivered to consumers.",
            [("", self.queue_popped)],
        )
        routes = ("local", "forwarded")
        metric(
            "mesh_send_duration_seconds",
            "summary",
            "mesh.send handling time by route.",
            [(f',route="{r}"', self.send_seconds[r]) for r in routes],
        )
        lines[-2:] = [
            lines[-2].replace("_seconds{", "_seconds_sum{"),
            lines[-1].replace("_seconds{", "_seconds_sum{"),
        ]
        lines.extend(
            f'mesh_send_duration_seconds_count{{node="{node_id}",route="{r}"}} {self.send_count[r]}'
            for r in routes
        )
        return "\n".join(lines) + "\n"
