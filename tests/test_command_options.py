"""Every registered command and every option of its argument spec, run against one real
workbench target per CPython over real HTTP: good lines give status 0 (or the documented code)
and the expected primary model first; bad lines give a clear ``status`` message and leave the
agent answering. A static check keeps the tables complete as commands and options are added.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from livescope.commands.cmdline import tokenize
from livescope.commands.registry import all_commands
from support.pythons import available_pythons
from support.targets import Target
from support.workbench import start_workbench

pytestmark = pytest.mark.timeout(120)

PYTHONS = available_pythons()


class Good(NamedTuple):
    line: str
    primary: str  # type of the first result ("status" when the job emits nothing else)
    status: int = 0


class Bad(NamedTuple):
    line: str
    status: int
    message: str  # a fragment the status message must contain


WORKBENCH_HASH = f"{zlib.crc32(b'workbench'):08x}"  # the -c of the module workbench
GOOD = (
    Good("help", "help"),
    Good("help watch", "help"),
    Good("keymap", "status", -1),
    Good("version", "version"),
    Good("session", "session"),
    Good("sysprop", "sysprop"),
    Good("sysprop user.dir", "sysprop"),
    Good("sysprop livescope.test.key value", "message"),
    Good("sysenv", "sysenv"),
    Good("sysenv PATH", "sysenv"),
    Good("options", "options"),
    Good("options unsafe", "options"),
    Good("options unsafe false", "options"),
    Good("history", "history"),
    Good("history 1", "history"),
    Good("history -n 1", "history"),
    Good("history -c", "status"),
    Good("cat notes.txt", "cat"),
    Good("cat --encoding latin-1 -M 100 notes.txt", "cat"),
    Good("base64 notes.txt", "base64"),
    Good("base64 -i hello", "base64"),
    Good("base64 -d -i aGVsbG8=", "base64"),
    Good("base64 -M 1000 -i hello -o encoded.txt", "base64"),
    Good("echo hello", "echo"),
    Good("pwd", "pwd"),
    Good("cls", "status", -1),
    Good("reset", "reset"),
    Good("reset workbench.*", "reset"),
    Good("watch workbench.Pricer price -n 1", "enhancer"),
    Good(
        'watch workbench.Pricer price "{params, returnObj}" "params[0] >= 0" -s -x 2 -M 100000 -v -n 1',
        "enhancer",
    ),
    Good("watch workbench.Pricer fail throwExp -e -n 1", "enhancer"),
    Good("watch workbench.Pricer price params -b -n 1", "enhancer"),
    Good("watch workbench.Pricer price returnObj -f -n 1", "enhancer"),
    Good(
        'watch -E "workbench\\.Pric.*" "pri.e" --exclude-class-pattern workbench.Other -n 1',
        "enhancer",
    ),
    Good("stack workbench.Pricer price -n 1", "enhancer"),
    Good(
        'stack -E "workbench\\.Pricer" price "params[0] >= 0" --exclude-class-pattern x -n 1',
        "enhancer",
    ),
    Good("monitor -c 0.2 -n 1 workbench.Pricer price", "enhancer"),
    Good(
        'monitor -b -E -c 0.2 -n 1 --exclude-class-pattern x "workbench\\.Pricer" price '
        '"params[0] >= 0"',
        "enhancer",
    ),
    Good("tt -t workbench.Pricer price -n 1", "enhancer"),
    Good(
        'tt -t -E "workbench\\.Pricer" price "params[0] >= 0" -x 2 -M 100000 '
        "--exclude-class-pattern x -n 1",
        "enhancer",
    ),
    Good("trace workbench checkout --skipJDKMethod false -n 1", "enhancer"),
    Good("tt -l", "tt"),
    Good('tt -s "params[0] >= 0"', "tt"),
    Good("tt --delete-all", "message"),
    Good("trace workbench checkout -n 1", "enhancer"),
    Good(
        'trace -E workbench "check.*" "#cost >= 0" --skip-builtins false '
        "--exclude-class-pattern x -n 1",
        "enhancer",
    ),
    Good("thread", "thread"),
    Good("thread {pid}", "thread"),
    Good("thread -n 2 -i 100 -d 3", "thread"),
    Good("thread -b -d 2", "thread"),
    Good("thread --state BLOCKED", "thread"),
    Good("thread --all", "thread"),
    Good("thread --tasks -d 2", "thread"),
    Good("thread -b --lockedMonitors --lockedSynchronizers -d 2", "thread"),
    Good("memory", "memory"),
    Good("dashboard -i 100 -n 1", "dashboard"),
    Good("dashboard --interval 100 --number-of-execution 1", "dashboard"),
    Good("pyvm", "jvm"),
    Good("jvm", "jvm"),
    Good("vmoption", "vmoption"),
    Good("vmoption gc.threshold0", "vmoption"),
    Good("vmoption gc.enabled true", "vmoption"),
    Good("sc workbench.*", "sc"),
    Good("sc -d -f -x 2 workbench.Pricer", "sc"),
    Good('sc -E "bulk\\.C00[0-9]"', "sc"),
    Good("sc -d -n 10 bulk.C00*", "sc"),
    Good(f"sc -d -c {WORKBENCH_HASH} workbench.*", "sc"),
    Good(f"sm -c {WORKBENCH_HASH} workbench.Pricer", "sm"),
    Good("dump workbench.Pricer", "dump"),
    Good(f"dump -E 'workbench\\.Pric.*' -c {WORKBENCH_HASH} -d classdump-here -l 5", "dump"),
    Good(f"ognl -c {WORKBENCH_HASH} LIMIT", "ognl"),
    Good("ognl --classLoaderClass workbench LIMIT", "ognl"),
    Good("perfcounter", "perfcounter"),
    Good("perfcounter -d", "perfcounter"),
    Good("sm workbench.Pricer", "sm"),
    Good("sm -d -n 2 workbench.Pricer pri*", "sm"),
    Good('sm -E "workbench\\.Pricer" "p.*"', "sm"),
    Good("jad workbench.checkout", "jad"),
    Good("jad --source-only workbench.checkout", "jad"),
    Good("jad --lineNumber false workbench.checkout", "jad"),
    Good('jad -E "workbench\\.Pric.*"', "jad"),
    Good("getstatic workbench RATES", "getstatic"),
    Good("getstatic -x 2 workbench RATES \"target['usd']\"", "getstatic"),
    Good('getstatic -E "workbench\\.Pricer" currency', "getstatic"),
    Good('ognl "workbench.LIMIT"', "ognl"),
    Good('ognl -x 2 "workbench.RATES"', "ognl"),
    Good("redefine -l", "redefine"),
    Good("redefine --reset-all", "redefine"),
    Good("retransform -l", "redefine"),
    Good("retransform --reset-all", "redefine"),
    Good("vmtool --action getInstances --className workbench.Pricer --limit 1 -x 2", "vmtool"),
    Good(
        'vmtool -a getInstances --className workbench.Pricer --express "len(instances)"', "vmtool"
    ),
    Good("vmtool -a forceGc", "status"),
    Good("vmtool -a histogram -l 3", "vmtool"),
    Good("heapdump", "message"),
    Good("heapdump --live dump.jsonl", "message"),
    Good("logger", "logger"),
    Good("logger -n workbench.orders", "logger"),
    Good("logger --include-no-appender false", "logger"),
    Good("logger --name workbench.orders --level WARNING", "status"),
    Good("logger -n workbench.orders -l warning", "status"),
    Good("profiler actions", "profiler"),
    Good("profiler list", "profiler"),
    Good("profiler getSamples", "profiler"),
    Good("profiler start --event wall -d 1", "profiler"),
    Good("profiler start -e 5 -d 1 -o collapsed -f profile.txt", "profiler"),
    Good("profiler start --interval 5 --duration 1 --format speedscope --file p.json", "profiler"),
)

BAD = (
    Bad("help nosuch", -1, "nosuch"),
    Bad("help a b", -10, "Too many arguments: b"),
    Bad("keymap x", -10, "Too many arguments: x"),
    Bad("version x", -10, "Too many arguments: x"),
    Bad("session --nope", -10, "Unrecognized option: '--nope'"),
    Bad("sysprop no.such.key", 1, "There is no property with the key no.such.key"),
    Bad("sysprop a b c", -10, "Too many arguments: c"),
    Bad("sysenv A B", -10, "Too many arguments: B"),
    Bad("options nosuch", -1, "options[nosuch] not found."),
    Bad("options unsafe maybe", -1, "maybe"),
    Bad("history 0", -10, "'0': must be > 0"),
    Bad("history -n abc", -10, "'abc' is not an integer"),
    Bad("cat", -10, "The argument 'files' is required"),
    Bad("cat missing.txt", 1, "cat missing.txt: No such file or directory"),
    Bad("cat -M abc notes.txt", -10, "'abc' is not an integer"),
    Bad("cat --encoding nope notes.txt", -10, "nope"),
    Bad("base64", -1, "base64"),
    Bad("base64 -d -i not*base64", 1, "base64"),
    Bad("base64 -M 0 -i x", -10, "must be between 1 and"),
    Bad("echo -x", -10, "Unrecognized option: '-x'"),
    Bad("pwd x", -10, "Too many arguments: x"),
    Bad("cls x", -10, "Too many arguments: x"),
    Bad("reset a b", -10, "Too many arguments: b"),
    Bad("watch", -10, "The argument 'class-pattern' is required"),
    Bad("watch workbench.Pricer", -10, "The argument 'method-pattern' is required"),
    Bad("watch workbench.Nothing price", -1, "No class or method is affected"),
    Bad('watch workbench.Pricer price "{params"', -1, "Syntax error in expression"),
    Bad("watch workbench.Pricer price -n 0", -10, "'0': must be > 0"),
    Bad("watch workbench.Pricer price -x abc", -10, "'abc' is not an integer"),
    Bad("watch workbench.Pricer price -M -1", -10, "'-1': must be > 0"),
    Bad('watch -E "(" price', -1, "Invalid regular expression"),
    Bad("stack workbench.Pricer", -10, "The argument 'method-pattern' is required"),
    Bad("stack workbench.Pricer price -n -1", -10, "'-1': must be > 0"),
    Bad('stack workbench.Pricer price "params["', -1, "Syntax error in expression"),
    Bad("monitor -c 0 workbench.Pricer price", -1, "cycle must be greater than 0"),
    Bad("monitor -c soon workbench.Pricer price", -10, "'soon' is not a number"),
    Bad("monitor -n -1 -c 1 workbench.Pricer price", -10, "'-1': must be >= 0"),
    Bad("tt", -1, "Please specify one of"),
    Bad("tt -t", -1, "tt -t needs a class-pattern and a method-pattern"),
    Bad("tt -i abc", -10, "'abc' is not an integer"),
    Bad("tt -i 999999", 1, "Time fragment[999999] does not exist."),
    Bad('tt -s "{params"', -1, "Syntax error in expression"),
    Bad("trace workbench checkout --skip-builtins maybe", -10, "expected true or false"),
    Bad("trace workbench nothing", -1, "No class or method is affected"),
    Bad("trace workbench checkout -n abc", -10, "'abc' is not an integer"),
    Bad("thread 999999999", 1, "thread do not exist! id: 999999999"),
    Bad("thread --state SLEEPY", 1, "state should be one of"),
    Bad("thread -n 0", -10, "'0': must be > 0"),
    Bad("thread -i -5", -10, "'-5': must be >= 0"),
    Bad("thread -d x", -10, "'x' is not an integer"),
    Bad("memory x", -10, "Too many arguments: x"),
    Bad("dashboard -i 0", -1, "interval must be > 0 ms"),
    Bad("dashboard -n 0", -1, "number-of-execution must be > 0"),
    Bad("dashboard -i x", -10, "'x' is not an integer"),
    Bad("pyvm x", -10, "Too many arguments: x"),
    Bad("jvm --nope", -10, "Unrecognized option: '--nope'"),
    Bad("vmoption no.such", -1, "Invalid VM option name: no.such"),
    Bad("vmoption gc.threshold0 abc", -1, "Cannot set gc.threshold0 to abc"),
    Bad("vmoption gc.threshold0 -5", -1, "a threshold must be >= 0"),
    Bad("vmoption sys.flags.optimize 2", -1, "is not writeable"),
    Bad("sc", -10, "The argument 'class-pattern' is required"),
    Bad('sc -E "("', -1, "Invalid regular expression"),
    Bad("sc -d -n 0 workbench.*", -10, "'0': must be > 0"),
    Bad("sc -d -n 2 bulk.*", -1, "The number of matching classes is greater than : 2"),
    Bad("sc -x -1 workbench.*", -10, "'-1': must be >= 0"),
    Bad("sm", -10, "The argument 'class-pattern' is required"),
    Bad("sm -n 0 workbench.Pricer", -10, "'0': must be > 0"),
    Bad('sm -E "(" x', -1, "Invalid regular expression"),
    Bad("jad", -10, "The argument 'class-pattern' is required"),
    Bad("jad workbench.Nothing", -1, "No class found for: workbench.Nothing"),
    Bad("jad bulk.C00*", -1, "Found more than one class for: bulk.C00*"),
    Bad("jad --lineNumber maybe workbench.checkout", -10, "expected true or false"),
    Bad("getstatic workbench", -10, "The argument 'field-name' is required"),
    Bad("getstatic workbench NOPE", 1, "There is no field named NOPE in workbench"),
    Bad("getstatic nosuch.module X", 1, "No class found for: nosuch.module"),
    Bad('getstatic workbench RATES "target["', -1, "Syntax error in expression"),
    Bad("getstatic workbench RATES \"target['gbp']\"", 1, "Failed to execute express: KeyError"),
    Bad("ognl", -10, "The argument 'express' is required"),
    Bad('ognl "workbench.nothing"', -1, "Failed to execute ognl, exception message: Attribute"),
    Bad('ognl "1 +"', -1, "Failed to execute ognl, exception message: "),
    Bad("ognl -x -1 1", -10, "'-1': must be >= 0"),
    Bad("redefine", -1, "redefine needs a function name and its new source"),
    Bad("redefine -r workbench.nothing", 1, "workbench.nothing is not redefined"),
    Bad('redefine workbench.nothing "def nothing(): pass"', 1, "No function found for"),
    Bad('redefine workbench.checkout "x = 1"', -1, "does not define a function named checkout"),
    Bad('redefine workbench.checkout "def checkout(:"', -1, "Syntax error in new source"),
    Bad("retransform -r workbench.nothing", 1, "workbench.nothing is not redefined"),
    Bad("vmtool", -1, "The action option is required"),
    Bad("vmtool -a nope", -1, "Illegal action: 'nope'"),
    Bad("vmtool -a getInstances", -1, "The className option is required"),
    Bad("vmtool -a getInstances --className nope.Nothing", 1, "Can not find class"),
    Bad("vmtool -a getInstances --className workbench.checkout", 1, "is not a class"),
    Bad("vmtool -a getInstances --className workbench.Pricer -l 0", -10, "'0': must be > 0"),
    Bad("vmtool -a diff --snapshot 999", 1, "No such snapshot"),
    Bad("vmtool -a diff --snapshot 0", -10, "'0': must be > 0"),
    Bad("heapdump /proc/nope/dump.jsonl", -1, "Heap dump failed"),
    Bad("heapdump a b", -10, "Too many arguments: b"),
    Bad("logger -n no.such", 1, "No logger found: no.such"),
    Bad("logger --level DEBUG", -1, "The --level option needs --name"),
    Bad("logger -n workbench.orders -l LOUD", -1, "Unknown level: LOUD"),
    Bad("logger --include-no-appender maybe", -10, "expected true or false"),
    Bad("profiler", -10, "The argument 'action' is required"),
    Bad("profiler fly", 1, "unknown action fly"),
    Bad("profiler start --format pdf", -1, "Unknown format pdf"),
    Bad("profiler start -e 0", -1, "interval and duration must be > 0"),
    Bad("profiler start -d abc", -10, "'abc' is not an integer"),
    Bad("profiler stop", 1, "Profiler is not active"),
    Bad("profiler start --event alloc", 1, "unknown event alloc"),
    Bad("perfcounter x", -10, "Too many arguments: x"),
    Bad("dump nosuch.*", -1, "No class found for: nosuch.*"),
    Bad("sc -c zzz workbench.*", -1, "Can not find classloader with hashcode: zzz."),
    Bad(
        "ognl --classLoaderClass no.such 1", -1, "Can not find classloader by class name: no.such."
    ),
)

# Lines whose meaning depends on the lines before them; {index} and {snapshot} are filled in
# from the results of earlier lines of the same sequence.
SEQUENCES = {
    "tt": (
        "tt -t workbench.Pricer price -n 2",
        "tt -i {index}",
        "tt -i {index} -x 2 -M 100000",
        "tt -i {index} -w params[0]",
        "tt -i {index} -p",
        "tt -i {index} -d",
        "tt --delete-all",
    ),
    "redefine": (
        "redefine workbench.checkout 'def checkout(pricer, amounts):\n    return [-1]'",
        "redefine -l",
        "ognl 'workbench.checkout(None, [])'",
        "redefine -r workbench.checkout",
        "ognl 'workbench.checkout(None, [])'",
    ),
    "retransform": (  # the Arthas name of redefine
        "retransform workbench.checkout 'def checkout(pricer, amounts):\n    return [-2]'",
        "ognl 'workbench.checkout(None, [])'",
        "retransform -r workbench.checkout",
        "ognl 'workbench.checkout(None, [])'",
    ),
    "profiler": (
        "profiler start -e 5",
        "profiler status",
        "profiler dump -o collapsed -f profile-dump.txt",
        "profiler stop --format html",
    ),
    "vmtool": ("vmtool -a histogram -l 3", "vmtool -a diff --snapshot {snapshot} -l 3"),
    # A dump after a collection once left CPython unable to finish its next collection.
    "heapdump": (
        "vmtool -a forceGc",
        "heapdump --live after-gc.jsonl",
        "vmtool -a forceGc",
        "heapdump --live after-gc.jsonl",
        "vmtool -a forceGc",
    ),
}

STOP = (Bad("stop now", -10, "Too many arguments: now"), Good("stop", "message"))

# A status message that names a Python exception type first is a command bug leaking out.
CRASH = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


@pytest.fixture(scope="module", params=list(PYTHONS), ids=[f"py{v}" for v in PYTHONS])
def bench(request: pytest.FixtureRequest) -> Iterator[Target]:
    """One workbench target per interpreter for the whole table (closed by pid at the end)."""
    target = start_workbench(PYTHONS[request.param])
    yield target
    target.close()


def run_line(target: Target, line: str) -> list[dict]:
    reply = target.exec(line.replace("{pid}", str(target.pid)), execTimeout=20000)
    assert reply["state"] == "SUCCEEDED", reply
    results = reply["body"]["results"]
    statuses = [r for r in results if r["type"] == "status"]
    assert statuses == [results[-1]], results
    return results


def still_answers(target: Target) -> None:
    assert target.proc.poll() is None, target.output()
    assert run_line(target, "version")[0]["type"] == "version"


@pytest.mark.parametrize("case", GOOD, ids=[c.line for c in GOOD])
def test_good_line(bench: Target, case: Good) -> None:
    results = run_line(bench, case.line)
    status = results[-1]
    assert status["statusCode"] == case.status, status
    assert results[0]["type"] == case.primary, results
    assert all(r["jobId"] == status["jobId"] for r in results)


@pytest.mark.parametrize("case", BAD, ids=[c.line for c in BAD])
def test_bad_line(bench: Target, case: Bad) -> None:
    status = run_line(bench, case.line)[-1]
    assert status["statusCode"] == case.status, status
    message = status.get("message", "")
    assert case.message in message, status
    assert not CRASH.match(message), status
    still_answers(bench)


@pytest.mark.parametrize("name", sorted(all_commands()))
def test_dash_h_describes_the_command(bench: Target, name: str) -> None:
    results = run_line(bench, f"{name} -h")
    assert results[0]["type"] == "help" and results[0]["detailCommand"]["name"] == name
    assert results[-1]["statusCode"] == 0


def run_sequence(target: Target, lines: tuple[str, ...]) -> list[list[dict]]:
    """Each line in order, all succeeding; ``{index}``/``{snapshot}`` come from earlier results."""
    found: dict[str, int] = {}
    runs = []
    for line in lines:
        for key, value in found.items():
            line = line.replace("{" + key + "}", str(value))
        results = run_line(target, line)
        assert results[-1]["statusCode"] == 0, (line, results)
        for item in results:
            if item["type"] == "tt" and item.get("timeFragmentList"):
                found.setdefault("index", item["timeFragmentList"][0]["index"])
            if item["type"] == "vmtool" and "snapshotId" in item:
                found.setdefault("snapshot", item["snapshotId"])
        runs.append(results)
    return runs


def first(results: list[dict], kind: str) -> dict:
    return next(r for r in results if r["type"] == kind)


def test_tt_sequence(bench: Target) -> None:
    recorded, shown, expanded, watched, replayed, deleted, cleared = run_sequence(
        bench, SEQUENCES["tt"]
    )
    fragment = first(recorded, "tt")["timeFragmentList"][0]
    assert first(shown, "tt")["timeFragment"]["index"] == fragment["index"]
    assert first(expanded, "tt")["expand"] == 2 and first(expanded, "tt")["sizeLimit"] == 100000
    assert first(watched, "tt")["watchValue"] == fragment["params"][0]["object"]
    assert first(replayed, "tt")["replayResult"]["returnObj"] == fragment["returnObj"]
    assert (
        first(deleted, "message")["message"] == f"Time fragment[{fragment['index']}] was deleted."
    )
    assert first(cleared, "message")["message"] == "Time fragments are cleaned, count: 1"


def test_redefine_sequence(bench: Target) -> None:
    changed, listed, during, reverted, after = run_sequence(bench, SEQUENCES["redefine"])
    assert first(changed, "redefine")["redefinedClasses"] == ["workbench.checkout"]
    assert first(listed, "redefine")["redefinedClasses"] == ["workbench.checkout"]
    assert first(during, "ognl")["value"] == [-1]
    assert first(reverted, "redefine")["redefinedClasses"] == ["workbench.checkout"]
    assert first(after, "ognl")["value"] == []


def test_retransform_is_redefine(bench: Target) -> None:
    changed, during, reverted, after = run_sequence(bench, SEQUENCES["retransform"])
    assert first(changed, "redefine")["redefinedClasses"] == ["workbench.checkout"]
    assert first(during, "ognl")["value"] == [-2]
    assert first(reverted, "redefine")["redefinedClasses"] == ["workbench.checkout"]
    assert first(after, "ognl")["value"] == []


def test_profiler_sequence(bench: Target) -> None:
    started, status, dumped, stopped = run_sequence(bench, SEQUENCES["profiler"])
    assert first(started, "profiler")["executeResult"] == "Profiling started\n"
    assert "running" in first(status, "profiler")["executeResult"]
    dump = Path(first(dumped, "profiler")["outputFile"])
    assert dump.name == "profile-dump.txt" and "caller;" in dump.read_text()
    page = Path(first(stopped, "profiler")["outputFile"]).read_text()
    assert first(stopped, "profiler")["format"] == "html" and "<script>" in page


def test_vmtool_sequence(bench: Target) -> None:
    histogram, diff = run_sequence(bench, SEQUENCES["vmtool"])
    snapshot = first(histogram, "vmtool")["snapshotId"]
    assert len(first(histogram, "vmtool")["histogram"]) == 3
    assert first(diff, "vmtool")["snapshotId"] == snapshot
    assert len(first(diff, "vmtool")["histogram"]) <= 3


def test_heapdump_after_collections(bench: Target) -> None:
    runs = run_sequence(bench, SEQUENCES["heapdump"])
    dump = Path(first(runs[-2], "heapdump")["dumpFile"])
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    modules = [entry for entry in lines if entry["type"] == "module"]
    assert modules and all(len(entry["refs"]) == 1 for entry in modules)
    still_answers(bench)


def test_stop_and_its_bad_argument(any_python: str) -> None:
    target = start_workbench(any_python)
    try:
        bad, good = STOP
        status = run_line(target, bad.line)[-1]
        assert (status["statusCode"], status["message"]) == (bad.status, bad.message)
        still_answers(target)
        results = run_line(target, good.line)
        assert results[0]["type"] == good.primary and results[-1]["statusCode"] == 0
        assert [r["type"] for r in results] == ["message", "reset", "shutdown", "status"]
        assert target.proc.poll() is None
    finally:
        target.close()


def used_options(line: str, command: type) -> set[str]:
    """Long names of the options a command line sets (``-x``, ``--long``, ``--long=v``, ``-bes``)."""
    by_short = {o.short: o.long for o in command.options if o.short}
    longs = {o.long for o in command.options}
    used = set()
    for token in tokenize(line)[1:]:
        if token.startswith("--"):
            name = token[2:].partition("=")[0]
            if name in longs:
                used.add(name)
        elif token.startswith("-") and len(token) > 1:
            body = token[1:]
            if body in by_short:
                used.add(by_short[body])
            elif body in longs:
                used.add(body)
            elif all(c in by_short for c in body):
                used.update(by_short[c] for c in body)
    return used


def test_tables_cover_every_command_and_option() -> None:
    """No command or option of the registry is left out of the tables above (static check)."""
    good_lines = [c.line for c in (*GOOD, *STOP) if isinstance(c, Good)]
    good_lines += [line for lines in SEQUENCES.values() for line in lines]
    bad_names = {c.line.split()[0] for c in (*BAD, *STOP) if isinstance(c, Bad)}
    missing = []
    for name, command in all_commands().items():
        lines = [line for line in good_lines if line.split()[0] == name]
        if not lines:
            missing.append(f"{name}: no good line")
        used = set().union(*(used_options(line, command) for line in lines)) if lines else set()
        missing += [f"{name} --{o.long}" for o in command.options if o.long not in used]
        if name not in bad_names:
            missing.append(f"{name}: no bad line")
    assert missing == []
