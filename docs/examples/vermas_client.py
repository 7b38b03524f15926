#!/usr/bin/env python3
"""Minimal vermas-operations client (Python 3.8+, stdlib only).
  vermas_client.py SOCKET [METHOD [JSON-PARAMS]]    one call, prints the result
  vermas_client.py SOCKET --follow [TYPE [AFTER_ID]] prints events as they happen
"""
import json, socket, sys

class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("r", encoding="utf-8")
        self.next_id, self.pending = 0, []  # notifications read while waiting for an answer

    def _read(self):
        line = self.rfile.readline()
        if not line:
            raise ConnectionError("the daemon closed the connection")
        return json.loads(line)

    def call(self, method, **params):
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while "method" in (msg := self._read()):  # an event notification, not our answer
            self.pending.append(msg)
        if "error" in msg:
            raise RuntimeError(msg["error"])
        return msg["result"]

    def follow(self, type=None, after_id=None):
        """Yields live events; with after_id, first every stored one after that id (no gap)."""
        last = self.call("events.subscribe", types=[type] if type else [])["last_id"]
        seen = last if after_id is None else after_id
        while seen < last:  # catch up; events after `last` arrive as notifications
            page = self.call("events.query", after_id=seen, limit=1000, **({"type": type} if type else {}))["events"]
            yield from (e for e in page if e["id"] <= last)
            if len(page) < 1000 or page[-1]["id"] >= last:
                break
            seen = page[-1]["id"]
        while True:
            msg = self.pending.pop(0) if self.pending else self._read()
            if msg.get("method") == "event":
                yield msg["params"]

if __name__ == "__main__":
    client = Client(sys.argv[1])
    if sys.argv[2:3] == ["--follow"]:
        args = sys.argv[3:]
        for event in client.follow(args[0] if args and args[0] else None, int(args[1]) if len(args) > 1 else None):
            print(json.dumps(event), flush=True)
    else:
        params = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
        print(json.dumps(client.call(sys.argv[2] if len(sys.argv) > 2 else "ping", **params), indent=2))
