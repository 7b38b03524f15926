#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (committed; rerun after editing).

Deterministic: the same files every run, so a rerun changes nothing unless this script
did. Seeds are small on purpose: libFuzzer grows its own corpus from them (scripts/fuzz
works on a scratch copy, so runs never grow these directories).
"""
import json
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def req(method, params=None, id=1):
    r = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        r["params"] = params
    return json.dumps(r, separators=(",", ":"))


def note(method, params=None):
    r = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        r["params"] = params
    return json.dumps(r, separators=(",", ":"))


def nested(depth, inner="1"):
    return "[" * depth + inner + "]" * depth


# Hostile lines shared by the JSON-RPC and the dispatch corpora.
HOSTILE = {
    "big_float": '{"jsonrpc":"2.0","id":1,"method":"events.query","params":{"limit":1e400}}',
    "neg_big_float": '{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
    "digits401": '{"jsonrpc":"2.0","id":' + "9" * 401 + ',"method":"ping"}',
    "digits401_param": '{"jsonrpc":"2.0","id":2,"method":"events.query","params":{"after_id":' + "1" * 401 + "}}",
    "nul_in_string": '{"jsonrpc":"2.0","id":1,"method":"pi\x00ng"}',
    "nul_after": '{"jsonrpc":"2.0","id":1,"method":"ping"}\x00{"jsonrpc":"2.0","id":2,"method":"shutdown"}',
    "invalid_utf8": '{"jsonrpc":"2.0","id":"\xff\xfe","method":"ping"}',
    "overlong_utf8": '{"jsonrpc":"2.0","id":1,"method":"wo.create","params":{"title":"\xc0\xaf"}}',
    "lone_surrogate": '{"jsonrpc":"2.0","id":1,"method":"wo.create","params":{"title":"\\ud800"}}',
    "deep_64": '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":' + nested(62) + "}}",
    "deep_65": '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":' + nested(63) + "}}",
    "deep_brackets": nested(2000),
    "deep_in_string": '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + "[" * 200 + '"}}',
    "two_objects": '{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}',
    "trailing_garbage": '{"jsonrpc":"2.0","id":1,"method":"ping"} x',
    "huge_string": req("wo.create", {"title": "t", "description": "A" * 20000}),
    "many_keys": req("ping", {"k%d" % i: i for i in range(300)}),
    "empty_batch": "[]",
    "batch_of_junk": "[1,null,\"x\",[],{}]",
    "id_object": '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}',
    "id_float": '{"jsonrpc":"2.0","id":-0.0,"method":"ping"}',
    "jsonrpc_1": '{"jsonrpc":"1.0","id":1,"method":"ping"}',
    "method_empty": '{"jsonrpc":"2.0","id":1,"method":""}',
    "method_number": '{"jsonrpc":"2.0","id":1,"method":7}',
    "params_array": '{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}',
    "params_null": '{"jsonrpc":"2.0","id":null,"method":"ping","params":null}',
    "crlf": '{"jsonrpc":"2.0","id":1,"method":"ping"}\r',
    "whitespace": " \t ",
    "unknown_method": req("mail.send", {"to": "x"}),
}


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def raw(s):
    """A str whose code points 0..255 are the bytes (for invalid UTF-8 and NUL seeds)."""
    return s.encode("latin-1")


def jsonrpc():
    t = "fuzz_jsonrpc"
    write(t, "ping", req("ping"))
    write(t, "ping_string_id", req("ping", id="abc"))
    write(t, "notification", note("agent.heartbeat", {"activity": "x"}))
    write(t, "accessors", req("events.query", {"id": "x", "limit": 5.0, "since": "1h", "types": ["a", "b"],
                                               "stop_agents": True, "name": None}))
    write(t, "accessors_edges", req("x", {"limit": 9e15, "id": 9223372036854775808, "since": -1,
                                          "types": "one", "stop_agents": "yes", "": 1}))
    write(t, "accessors_lists", req("x", {"types": [1, "a"], "limit": [1], "id": {"a": 1}, "since": "A" * 20}))
    write(t, "batch", "[" + ",".join([req("ping", id=1), note("ping"), req("status", id="s")]) + "]")
    write(t, "batch_notifications", "[" + note("ping") + "," + note("health") + "]")
    for name, line in HOSTILE.items():
        write(t, name, raw(line))


def framer():
    t = "fuzz_framer"
    # byte 0: max_line, byte 1: number of chunk sizes - 1, then the sizes, then the stream
    write(t, "simple", bytes([16, 0, 5]) + b'{"a":1}\n\nhello\n')
    write(t, "too_long_complete", bytes([8, 1, 64, 3]) + b"short\n" + b"x" * 30 + b"\nok\n")
    write(t, "too_long_partial", bytes([8, 2, 1, 2, 3]) + b"y" * 40 + b"\nafter\n" + b"z" * 20)
    write(t, "crlf_and_empty", bytes([10, 0, 2]) + b"a\r\n\r\n\n\nbcdefghijk\nlmnopqrstuv\n")
    write(t, "zero_chunks", bytes([4, 3, 0, 7, 0, 1]) + b"abcd\nabcde\n\n" + b"q" * 9)
    write(t, "max_line_zero", bytes([0, 0, 3]) + b"\n\nx\n\n")
    write(t, "one_byte_chunks", bytes([5, 0, 1]) + b"12345\n123456\n1234\n" + b"7" * 12 + b"\n")


TOML_FACTORY = """# Factory configuration
[factory]
name = "my-project"
prefix = "mp"

[verification]
enabled = true
objective_only = false
require_all_pass = true
checks = ["build", "tests"]

[sync]
branch = "work-sync"
auto_sync = true
debounce_seconds = 0.5

[worker]
max_slots_per_factory = 3
idle_timeout_minutes = 0.5

[agents.worker]
command = ["sleep", "30"]
runner = "direct"
"""


def config():
    t = "fuzz_config"
    with open(os.path.join(HERE, "..", "config.example.toml"), "rb") as f:
        write(t, "example", f.read())
    write(t, "factory", TOML_FACTORY)
    write(t, "factory_minimal", '[factory]\nname = "a"\n')
    write(t, "factory_bad", '[factory]\nname = "-bad"\nprefix = "UP"\n[sync]\nbranch = "-x..y"\n'
                            "debounce_seconds = -1\n[worker]\nmax_slots_per_factory = 65\n")
    write(t, "minimal", '[company]\nname = "x"\n')
    write(t, "empty", "")
    write(t, "types_wrong", '[operations]\npatrol_interval_seconds = "60"\nmax_agents = 1.5\n'
                            'restart_on_failure = "yes"\nlog_level = "loud"\n[agents]\nworker = 3\n')
    write(t, "bounds", "[operations]\npatrol_interval_seconds = 0\nstop_timeout_seconds = -1\n"
                       "max_agents = 0\nspawn_rate_per_second = inf\nlog_keep = 9223372036854775807\n"
                       "request_timeout_seconds = nan\n[worker]\nmax_slots_per_factory = 0\n"
                       "[events]\nretention_days = -5\nfeed_max_mb = 1e400\n")
    write(t, "backoff_cross", "[restart]\nbackoff_initial_seconds = 100\nbackoff_max_seconds = 50\n")
    write(t, "backoff_initial_only", "[restart]\nbackoff_initial_seconds = 120\n")
    write(t, "unknown", "[company]\nname = \"x\"\ncolour = 1\n[nope]\nx = 1\ntop = 2\n[agents.boss]\ncommand = [\"x\"]\n")
    write(t, "argv", '[alerts]\ncommand = []\n[agents.qa]\ncommand = ["", "x"]\nrunner = "direct"\n'
                     '[agents.ceo]\ncommand = [1, 2]\n')
    write(t, "syntax_error", "[company\nname = \n")
    write(t, "dotted_and_inline", 'operations.max_agents = 3\nagents = { qa = { command = ["a"] } }\n'
                                  'restart = { policy = "never" }\n')
    write(t, "array_of_tables", "[[agents]]\ncommand = [\"x\"]\n[[company]]\nname = \"y\"\n")
    write(t, "dates", "[company]\nname = 1979-05-27T07:32:00Z\n[operations]\nsocket = 07:32:00\n"
                      "socket_group = 1979-05-27\n")
    write(t, "unicode", '[company]\nname = "caf\\u00e9 \\U0001F600"\n[operations]\nsocket = "\\u0000"\n')
    write(t, "strings", "[company]\nname = '''\nmulti\nline'''\n[operations]\nsocket_group = \"\"\"\nx\"\"\"\n")
    write(t, "duplicate", "[company]\nname = \"a\"\nname = \"b\"\n[company]\n")
    # toml++ 3.3.0 defects found by fuzz_config (see fuzz/CMakeLists.txt): TOML_UNREACHABLE
    # in is_non_ascii_horizontal_whitespace(), and parse_key()'s assertion.
    write(t, "toml_unreachable", b"[f\xcf\x99\x04c]\nna")
    write(t, "toml_parse_key_assert", b"[\x01\x00\x00\x00\x00\x00\x00\x01 13\x10\n" + b"'" * 3)


# Binary seeds for the work-order sequence: FuzzedDataProvider consumes them.
def work_order():
    t = "fuzz_work_order"
    rng = random.Random(20261122)
    for i, n in enumerate([32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048]):
        write(t, "random_%02d" % i, bytes(rng.randrange(256) for _ in range(n)))
    # Long runs of one byte: many steps of the same operation.
    for b in (0x00, 0x40, 0x80, 0xC0, 0xFF):
        write(t, "run_%02x" % b, bytes([b]) * 600)


def dispatch():
    t = "fuzz_dispatch"
    w = lambda name, lines: write(t, name, "\n".join(lines) + "\n")
    # Every method with realistic params ($WO0..$WO3 and $LAST are substituted by the harness).
    w("core", [req("ping", id=1), req("health", id=2), req("status", id=3), req("config.get", id=4),
               req("config.reload", id=5), req("events.query", {"since": "1h", "type": "wo.*", "limit": 10}, id=6),
               req("events.query", {"after_id": 0, "newest_first": True, "actor": "operator"}, id=7),
               req("events.stats", {"since": "2026-01-01"}, id=8), req("events.unsubscribe", id=9)])
    w("subscribe", [req("events.subscribe", {"types": ["wo.*", "slot."]}, id=1),
                    req("wo.create", {"title": "subscribed", "factory": "ff"}, id=2),
                    req("events.subscribe", {"types": "*"}, id=3), req("events.unsubscribe", id=4)])
    w("shutdown", [req("shutdown", {"stop_agents": False}, id=1), req("shutdown", id=2), req("ping", id=3)])
    w("factories", [req("factory.list", id=1), req("factory.status", {"name": "ff"}, id=2),
                    req("factory.add", {"name": "ff", "url": "/nonexistent"}, id=3),
                    req("factory.add", {"name": "-x", "url": "u"}, id=4),
                    req("factory.add", {"name": "new", "url": "-upload-pack=x"}, id=5),
                    req("factory.remove", {"name": "nope"}, id=6), req("factory.remove", {"name": "ff"}, id=7)])
    w("teams", [req("team.add", {"factory": "ff", "name": "t1"}, id=1), req("team.list", {"factory": "ff"}, id=2),
                req("team.add", {"factory": "ff", "name": "t1"}, id=3),
                req("team.add", {"factory": "zz", "name": "t2"}, id=4)])
    w("agents", [req("agent.list", {"factory": "ff", "sort": "restarts"}, id=1),
                 req("agent.get", {"id": "ff/qa"}, id=2), req("agent.stop", {"id": "ff/qa"}, id=3),
                 req("agent.start", {"id": "ff/qa"}, id=4), req("agent.restart", {"id": "ff/supervisor"}, id=5),
                 req("agent.heartbeat", {"id": "ff/qa", "activity": "testing"}, id=6),
                 req("agent.logs", {"id": "ff/qa", "lines": 5}, id=7), req("agent.kill", {"id": "ff/nope"}, id=8)])
    w("workers", [req("worker.spawn", {"factory": "ff"}, id=1), req("worker.list", {"all": True}, id=2),
                  req("worker.status", {"factory": "ff", "slot": 0}, id=3),
                  req("worker.kill", {"factory": "ff", "slot": 0}, id=4), req("alert.list", {"resolved": False}, id=5),
                  req("alert.resolve", {"id": 1}, id=6)])
    w("wo_lifecycle", [req("wo.create", {"title": "Fix bug X", "type": "bug", "priority": 1, "factory": "ff",
                                         "description": "d", "idempotency_key": "c1"}, id=1),
                       req("wo.transition", {"id": "$LAST", "to": "assigned", "reason": "go"}, id=2),
                       req("wo.transition", {"id": "$LAST", "to": "in_progress", "reason": "go",
                                             "idempotency_key": "t1"}, id=3),
                       req("wo.transition", {"id": "$LAST", "to": "review", "reason": "ready"}, id=4),
                       req("wo.verify", {"id": "$LAST", "check": "tests", "passed": True, "note": "ok"}, id=5),
                       req("wo.transition", {"id": "$LAST", "to": "done", "reason": "verified"}, id=6),
                       req("wo.timeline", {"id": "$LAST"}, id=7), req("wo.show", {"id": "$LAST"}, id=8)])
    w("wo_dispatch", [req("wo.create", {"title": "dispatch me", "factory": "ff"}, id=1),
                      req("dispatch", {"work_order": "$LAST", "factory": "ff"}, id=2),
                      req("wo.transition", {"id": "$LAST", "to": "in_progress", "reason": "working"}, id=3),
                      req("wo.transition", {"id": "$LAST", "to": "review", "reason": "frees the slot"}, id=4),
                      req("worker.list", id=5)])
    w("wo_fixed", [req("wo.show", {"id": "$WO0"}, id=1),
                   req("wo.update", {"id": "$WO1", "title": "t", "priority": 0, "assignee": None}, id=2),
                   req("wo.transition", {"id": "$WO2", "to": "canceled", "reason": "no", "actor": "alice"}, id=3),
                   req("wo.transition", {"id": "$WO3", "to": "done", "reason": "skip"}, id=4),
                   req("wo.verify", {"id": "$WO0", "check": "lint", "passed": False, "objective": False}, id=5)])
    w("wo_read", [req("wo.list", {"status": "open,blocked", "factory": "ff", "limit": 5}, id=1),
                  req("wo.list", {"older_than": "30d", "assignee": "ff/workers/slot0"}, id=2),
                  req("wo.stats", {"factory": "ff"}, id=3), req("report.eval", {"since": "7d"}, id=4),
                  req("wo.show", {"id": "wo-abc123"}, id=5)])
    w("maintenance", [req("wo.sync", {"factory": "ff"}, id=1), req("wo.rebuild_projections", id=2),
                      req("events.archive", {"older_than": "7d"}, id=3), req("wo.sync", {"all": True}, id=4)])
    w("bad_params", [req("wo.create", {"title": " "}, id=1), req("wo.create", {"title": "x", "type": "epic"}, id=2),
                     req("wo.transition", {"id": "../x-abc123", "to": "done", "reason": "r"}, id=3),
                     req("events.query", {"limit": 0}, id=4), req("ping", {"x": 1}, id=5),
                     req("dispatch", {"work_order": "$WO0"}, id=6), req("wo.list", {"status": "open,,finished"}, id=7)])
    w("batch", ["[" + ",".join([req("ping", id=1), note("health"), req("wo.create", {"title": "b"}, id="c"),
                               req("wo.transition", {"id": "$LAST", "to": "assigned", "reason": "r"}, id=None),
                               "7"]) + "]"])
    w("batch_notifications_only", ["[" + note("ping") + "," + note("wo.stats") + "]"])
    w("notifications", [note("ping"), note("nope"), note("wo.create", {"title": "quiet"})])
    for name in ("big_float", "digits401", "digits401_param", "nul_in_string", "nul_after", "invalid_utf8",
                 "overlong_utf8", "lone_surrogate", "deep_65", "deep_brackets", "two_objects", "huge_string",
                 "empty_batch", "batch_of_junk", "id_object", "jsonrpc_1", "params_array", "crlf", "unknown_method"):
        write(t, "hostile_" + name, raw(HOSTILE[name] + "\n"))
    write(t, "hostile_mixed", raw("\n".join([HOSTILE["nul_in_string"], req("ping", id=1), HOSTILE["deep_65"],
                                             "", "   ", req("status", id=2), HOSTILE["invalid_utf8"]]) + "\n"))
    write(t, "no_final_newline", req("ping", id=1) + "\n" + req("ping", id=2))
    # Found by fuzz_dispatch: an answer larger than the socket's send buffer, asked for by a
    # peer that then shuts down its write side (`echo ... | socat`), was cut short:
    # Connection::close_after_flush() closed while the writer's async_write was in flight.
    write(t, "repro_answer_cut_short", req("wo.create", {"title": "t", "description": "A" * 16000}) + "\n")


def main():
    if os.path.isdir(CORPUS) and "--keep" not in sys.argv:
        shutil.rmtree(CORPUS)
    jsonrpc()
    framer()
    config()
    work_order()
    dispatch()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print("%-16s %3d files, %6d bytes" % (target, len(files), size))


if __name__ == "__main__":
    main()
