"""Every curl example of spec/002 and spec/003, pasted into bash against the demo program.

The examples are read from the documents at test time and run verbatim with the real ``curl``
(and ``json_pp``, ``sed``, ``awk`` where they use them); only ``localhost:8563`` becomes the
target's address, and the session and consumer ids the documents show (or their ``<sessionId>``
placeholders) become the ones the agent handed out. Each response is compared with the sample
the document shows for it, structurally (see ``support/json_shape.py``): same keys, same JSON
types, same ``state`` and result ``type``s in the same order; ids, versions, times, pids, costs
and random numbers are free.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support.json_shape import MORE, Rules, parse_shown, shape_mismatches
from support.spec_examples import SPEC_DIR, Block, Document, load_document
from support.targets import Target

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
needs_json_pp = pytest.mark.skipif(
    shutil.which("json_pp") is None, reason="json_pp (perl) is not installed"
)


@dataclass(frozen=True)
class Example:
    """One curl example: how to recognise it, and which sample shows its response."""

    key: str
    signature: str
    """A regular expression only this example's text matches."""
    shown_after: str | None = None
    """The sample is the first one after this text; None: the first one after the example."""


PULL_LOOP_OUTPUT_002 = "查看上面自动拉取结果消息脚本的shell输出"
PULL_LOOP_OUTPUT_003 = "The shell output of the script that continuously pulls"

# Per document, its curl examples in document order. The pull loop's own sample comes later in
# the text: what the loop printed once `async_exec` had started the watch.
EXAMPLES: dict[str, tuple[Example, ...]] = {
    "002": (
        Example("exec version", r'"command":"version"'),
        Example("init_session", r'"action":"init_session"'),
        Example("join_session", r'"action":"join_session"'),
        Example("pull_results", r'^curl .*"action":"pull_results"'),
        Example("pull loop", r"^while true; do curl", shown_after=PULL_LOOP_OUTPUT_002),
        Example("async_exec watch", r'"action":"async_exec"'),
        Example("interrupt_job", r'"action":"interrupt_job"'),
        Example("close_session", r'"action":"close_session"'),
        Example("classpath", r"^json_data=\$\(curl"),
        Example("exec watch map", r"-d @- << EOF"),
    ),
    "003": (
        Example("init_session", r'"action":"init_session"'),
        Example("join_session", r'"action":"join_session"'),
        Example("pull_results", r'^curl .*"action":"pull_results"'),
        Example("pull loop", r"^while true; do curl", shown_after=PULL_LOOP_OUTPUT_003),
        Example("async_exec watch", r'"action":"async_exec"'),
        Example("interrupt_job", r'"action":"interrupt_job"'),
        Example("close_session", r'"action":"close_session"'),
    ),
}

RULES = Rules(
    fixed_values=frozenset(
        {
            "state",
            "type",
            "inputStatus",
            "jobStatus",
            "timeExpired",
            "success",
            "command",
            "statusCode",
            "sizeLimit",
            "expand",
        }
    ),
    # watch `ts`: the documents' 3.3.7 samples show epoch milliseconds; the project deliberately
    # sends the string `yyyy-MM-dd HH:mm:ss.SSS` of Arthas 4 (tests/test_api_models.py item 57).
    free_types=frozenset({"ts"}),
    # Fields Arthas added to these models after 3.3.7 (reference Appendix A: WatchModel,
    # WelcomeModel); the samples predate them.
    extra_keys={"watch": {"className", "methodName", "accessPoint"}, "welcome": {"mainClass"}},
    # Reference §6: a StackTraceElement has `classLoaderName` only when the frame's class loader
    # has a name (Java's own frames have none); Python frames have no class loader at all.
    optional_keys={"stackTrace": {"classLoaderName"}},
)

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
CONSUMER_ID = re.compile(r"\b[0-9a-f]{32}_\d+\b")
LOOP_ROUNDS = 3

# math-game, five times faster than the original's once a second, so that a few pulls see
# calls that return and calls that throw.
DEMO = """
import json, os, sys, livescope.demo
sys.path.insert(0, os.path.dirname(livescope.demo.__file__))
import demo
print("sys.path=" + json.dumps(sys.path), flush=True)
demo.main(0.2)
"""


def document(number: str) -> Document:
    doc = load_document(number)
    if doc is None:
        pytest.skip(f"spec/{number}_*.txt is not in {SPEC_DIR} (set LIVESCOPE_SPEC_DIR)")
    return doc


def identify(doc: Document, number: str) -> dict[str, tuple[Example, Block]]:
    """The document's curl examples by key, asserting each matches exactly one table entry."""
    found: dict[str, tuple[Example, Block]] = {}
    for block in doc.curl_examples():
        keys = [e for e in EXAMPLES[number] if re.search(e.signature, block.text, re.S)]
        assert len(keys) == 1, f"{block.where(doc.name)} matches {[e.key for e in keys]}"
        assert keys[0].key not in found, f"two examples are {keys[0].key!r}"
        found[keys[0].key] = (keys[0], block)
    return found


def sample(doc: Document, entry: tuple[Example, Block]) -> Block:
    example, block = entry
    return doc.shown_after(block, example.shown_after)


def assert_shaped_like(actual: Any, shown: Block, doc: Document, value: Any = None) -> None:
    """``actual`` is shaped like the sample ``shown`` (or like ``value``, read from it)."""
    problems = shape_mismatches(actual, parse_shown(shown.text) if value is None else value, RULES)
    assert not problems, (
        f"response unlike the sample at {shown.where(doc.name)}:\n"
        + "\n".join(problems)
        + f"\nresponse: {json.dumps(actual)[:3000]}"
    )


@dataclass
class Ids:
    """The ids the agent handed out, to paste where the document shows its own."""

    session: str = ""
    consumer: str = ""


@dataclass
class Terminal:
    """A user's shell: document text through bash, with the target's address and ids put in."""

    target: Target
    cwd: Path
    background: list[subprocess.Popen] = field(default_factory=list)

    def paste(self, text: str, ids: Ids | None = None) -> str:
        text = text.replace("localhost:8563", f"127.0.0.1:{self.target.port}")
        if ids is not None:
            text = UUID.sub(ids.session, text).replace("<sessionId>", ids.session)
            text = CONSUMER_ID.sub(ids.consumer, text).replace("<consumerId>", ids.consumer)
        return text

    def run(self, script: str) -> str:
        done = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=90, cwd=self.cwd
        )
        assert done.returncode == 0 and not done.stderr, (done.returncode, done.stderr)
        return done.stdout

    def run_json(self, script: str) -> dict:
        out = self.run(script)
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            pytest.fail(f"not one JSON document: {out!r}")

    def start(self, script: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            ["bash", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.cwd,
            start_new_session=True,
        )
        self.background.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def terminal(make_target: Callable[..., Target], tmp_path: Path) -> Iterator[Terminal]:
    """The demo program with an agent, and a shell to paste examples into."""
    demo = make_target(DEMO)
    demo.wait_for_output("sys.path=")
    shell = Terminal(demo, tmp_path)
    yield shell
    shell.close()


def bounded(loop: str) -> str:
    """The document's endless pull loop, run a few rounds instead of until Ctrl-C."""
    assert loop.startswith("while true; do ") and loop.rstrip().endswith("done"), loop
    return f"for _ in {' '.join(['x'] * LOOP_ROUNDS)}; do " + loop[len("while true; do ") :]


def json_documents(text: str) -> list[dict]:
    """The JSON documents printed one after another (json_pp output of each round)."""
    decoder = json.JSONDecoder()
    documents, at = [], 0
    while text[at:].strip():
        while text[at].isspace():
            at += 1
        document_, at = decoder.raw_decode(text, at)
        documents.append(document_)
    return documents


def read_one_document(proc: subprocess.Popen) -> dict:
    """Block until the background loop printed a whole JSON document; return it."""
    assert proc.stdout is not None
    text = ""
    for line in proc.stdout:
        text += line
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(text)
    pytest.fail(f"the loop ended before printing a document: {text!r} {proc.stderr.read()!r}")


def with_any_results(shown: Block) -> Any:
    """The sample's envelope with its result list open: for one round of the loop."""
    value = parse_shown(shown.text)
    value["body"]["results"] = [MORE]
    return value


@pytest.mark.parametrize("number", ["002", "003"])
def test_every_curl_example_of_the_document_is_in_the_table(number: str) -> None:
    doc = document(number)
    found = identify(doc, number)
    assert list(found) == [e.key for e in EXAMPLES[number]]
    for key, entry in found.items():
        assert sample(doc, entry).text.strip(), key


CHANGES: dict[str, Callable[[dict], object]] = {
    "a key missing": lambda r: r["body"].pop("jobStatus"),
    "a key added": lambda r: r["body"].update(timeout=1000),
    "a value of another type": lambda r: r["body"].update(timeExpired="false"),
    "another state": lambda r: r.update(state="FAILED"),
    "results reordered": lambda r: r["body"]["results"].reverse(),
    "another result type": lambda r: r["body"]["results"][0].update(type="echo"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_comparison_notices_a_different_shape(change: str) -> None:
    """The comparison is not vacuous: the sample matches itself, and no longer once changed."""
    doc = document("002")
    shown = sample(doc, identify(doc, "002")["exec version"])
    response = parse_shown(shown.text)
    assert shape_mismatches(response, parse_shown(shown.text), RULES) == []
    CHANGES[change](response)
    assert shape_mismatches(response, parse_shown(shown.text), RULES)


@needs_curl
@needs_json_pp
@pytest.mark.parametrize("number", ["002", "003"])
def test_session_examples_in_the_documents_order(number: str, terminal: Terminal) -> None:
    """Create, join, pull, pull in a loop while async_exec watches, interrupt, close.

    Both documents pull with the consumer `join_session` gave (spec/003 says to note that one;
    spec/002's loop shows another session's ids, which are pasted over with this session's).
    """
    doc = document(number)
    examples = identify(doc, number)
    order = [
        "init_session",
        "join_session",
        "pull_results",
        "pull loop",
        "async_exec watch",
        "interrupt_job",
        "close_session",
    ]
    assert [k for k in examples if k in order] == order

    def check(key: str, ids: Ids) -> dict:
        response = terminal.run_json(terminal.paste(examples[key][1].text, ids))
        assert_shaped_like(response, sample(doc, examples[key]), doc)
        return response

    ids = Ids()
    ids.session = check("init_session", ids)["sessionId"]
    ids.consumer = check("join_session", ids)["consumerId"]
    assert ids.consumer.endswith("_2")
    check("pull_results", ids)

    loop_shown = sample(doc, examples["pull loop"])
    loop = terminal.start(terminal.paste(bounded(examples["pull loop"][1].text), ids))
    rounds = [read_one_document(loop)]  # the loop is pulling; now start the watch
    check("async_exec watch", ids)
    out, err = loop.communicate(timeout=60)
    assert loop.returncode == 0 and not err, (loop.returncode, err)
    rounds += json_documents(out)
    assert len(rounds) == LOOP_ROUNDS
    for printed in rounds:
        assert_shaped_like(printed, loop_shown, doc, with_any_results(loop_shown))
    printed_together = dict(rounds[-1])
    printed_together["body"] = {"results": [r for p in rounds for r in p["body"]["results"]]}
    assert_shaped_like(printed_together, loop_shown, doc)

    check("interrupt_job", ids)
    check("close_session", ids)


@needs_curl
def test_one_shot_version_example(terminal: Terminal) -> None:
    doc = document("002")
    entry = identify(doc, "002")["exec version"]
    response = terminal.run_json(terminal.paste(entry[1].text))
    assert_shaped_like(response, sample(doc, entry), doc)


@needs_curl
def test_watch_map_example_through_a_here_document(terminal: Terminal) -> None:
    """spec/002 "watch命令输出map对象": `-d @- << EOF`, the OGNL map `#{...}`, `-n 3`."""
    doc = document("002")
    entry = identify(doc, "002")["exec watch map"]
    response = terminal.run_json(terminal.paste(entry[1].text))
    assert_shaped_like(response, sample(doc, entry), doc)
    assert response["body"]["results"][-1] == {
        "type": "status",
        "jobId": response["body"]["jobId"],
        "statusCode": 0,
    }


@needs_curl
@pytest.mark.parametrize("extraction", ["sed", pytest.param("json_pp", marks=needs_json_pp)])
def test_classpath_recipe(extraction: str, terminal: Terminal) -> None:
    """spec/002 "获取Java应用的Classpath": the curl, then the sed or the json_pp/awk extraction,
    print the module search path (the target's ``java.class.path``)."""
    doc = document("002")
    entry = identify(doc, "002")["classpath"]
    steps = [b for b in doc.bash_after(entry[1], "class_path=") if extraction in b.text]
    assert len(steps) == 1, steps
    printed = terminal.run(terminal.paste(entry[1].text) + "\n" + steps[0].text)
    label = sample(doc, entry).text.split()[0]  # "classpath:", before the doc's own jar name
    path = json.loads(terminal.target.output().split("sys.path=", 1)[1].splitlines()[0])
    assert printed == f"{label} {os.pathsep.join(path)}\n"
