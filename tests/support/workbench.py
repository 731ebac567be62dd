"""A target program with something for every command to look at, shared by the model and
option tests: a module of code to hook and inspect, 600 classes (more than one ``sc`` item
holds), a thread that keeps calling the code, a lock three threads wait on, an asyncio loop with
a named task, a logger with a handler and two small files.

The target prints ``workbench ready`` once everything exists; tests wait for that line.
"""

from __future__ import annotations

from typing import Any

from support.targets import Target

BULK_CLASSES = 600

WORKBENCH = """
import asyncio, logging, threading, time
from pathlib import Path

Path("workbench.py").write_text('''
RATES = {"eur": 1.0, "usd": 1.5}
LIMIT = 3


class Pricer:
    currency = "EUR"

    def __init__(self, rate):
        self.rate = rate

    def price(self, amount, tag="net"):
        return round(amount * self.rate, 2)

    def fail(self, amount):
        raise ValueError("bad amount: %d" % amount)


def checkout(pricer, amounts):
    return [pricer.price(a) for a in amounts]
''')
Path("bulk.py").write_text("".join("class C%03d:\\n    pass\\n" % i for i in range(BULK_CLASSES)))
Path("notes.txt").write_text("first line\\nsecond line\\n")
import bulk, workbench

PRICER = workbench.Pricer(1.5)


def caller():
    n = 0
    while True:
        n += 1
        workbench.checkout(PRICER, [n % 7, 2])
        try:
            PRICER.fail(n)
        except ValueError:
            pass
        time.sleep(0.01)


LOCK = threading.Lock()


def holder():
    with LOCK:
        time.sleep(3600)


def waiter():
    with LOCK:
        pass


async def napper():
    await asyncio.sleep(3600)


async def loop_main():
    asyncio.get_running_loop().create_task(napper(), name="napper-task")
    await asyncio.sleep(3600)


threading.Thread(target=holder, name="lock-holder", daemon=True).start()
time.sleep(0.1)
for i in range(3):
    threading.Thread(target=waiter, name="waiter-%d" % i, daemon=True).start()
threading.Thread(target=lambda: asyncio.run(loop_main()), name="event-loop", daemon=True).start()
threading.Thread(target=caller, name="caller", daemon=True).start()
orders = logging.getLogger("workbench.orders")
orders.addHandler(logging.StreamHandler())
orders.setLevel(logging.WARNING)
time.sleep(0.2)
print("workbench ready", flush=True)
while True:
    time.sleep(1)
""".replace("BULK_CLASSES", str(BULK_CLASSES))


def start_workbench(python: str, **kwargs: Any) -> Target:
    """A running workbench target (the caller closes it, by pid, through ``Target.close``)."""
    target = Target(WORKBENCH, python=python, **kwargs)
    try:
        target.wait_for_output("workbench ready", timeout=30)
    except BaseException:
        target.close()
        raise
    return target
