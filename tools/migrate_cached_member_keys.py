#!/usr/bin/env python3
"""Moves offers' member keys to the cached key space (docs/operations.md, "Upgrades").

    tools/migrate_cached_member_keys.py redis://[:password@]host[:port][/db]
    tools/migrate_cached_member_keys.py --self-test      (starts its own redis-server)

Before the listing cache, tessera-offers kept a member's features and offer states at
tessera:{bNN}:m:<id>:features|offers; now they live at tessera:mc:{bNN}:<id>:..., the prefix
Redis broadcasts changes of. Run with the offers service stopped. Each old key is renamed; if
the new key exists already, the old fields are merged in without overwriting any (HSETNX) and
the old key is deleted — one Lua script per key, in the member's slot. Idempotent.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse

MOVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('RENAME', KEYS[1], KEYS[2]) return 1 end
local f = redis.call('HGETALL', KEYS[1])
for i = 1, #f, 2 do redis.call('HSETNX', KEYS[2], f[i], f[i + 1]) end
redis.call('DEL', KEYS[1])
return 2
"""
OLD_KEY = re.compile(r"^tessera:(\{b\d\d\}):m:(.+):(features|offers)$")


class Redis:
    """The few RESP2 commands this tool needs, over one socket."""

    def __init__(self, url):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=10)
        self.buf = b""
        if u.password:
            self.call("AUTH", u.password)
        db = (u.path or "/0").strip("/") or "0"
        if db != "0":
            self.call("SELECT", db)

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)


def migrate(url):
    r = Redis(url)
    sha = r.call("SCRIPT", "LOAD", MOVE)
    counts = {0: 0, 1: 0, 2: 0}
    cursor = "0"
    while True:
        cursor, keys = r.call("SCAN", cursor, "MATCH", "tessera:{b*}:m:*", "COUNT", 1000)
        for key in keys:
            m = OLD_KEY.match(key)
            if m:
                new = "tessera:mc:%s:%s:%s" % m.groups()
                counts[r.call("EVALSHA", sha, 2, key, new)] += 1
        if cursor == "0":
            break
    return {"renamed": counts[1], "merged": counts[2]}


def self_test():
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    p = port.getsockname()[1]
    port.close()
    d = tempfile.mkdtemp()
    server = subprocess.Popen(["redis-server", "--port", str(p), "--save", "", "--appendonly", "no", "--dir", d],
                              stdout=subprocess.DEVNULL)
    try:
        url = "redis://127.0.0.1:%d/0" % p
        for _ in range(100):
            try:
                r = Redis(url)
                break
            except OSError:
                time.sleep(0.05)
        r.call("HSET", "tessera:{b07}:m:m-1:features", "tier", "gold", "seq", "4")
        r.call("HSET", "tessera:{b07}:m:m-1:offers", "c-1", '{"version":1}')
        r.call("HSET", "tessera:{b09}:m:store:12:offers", "c-2", "old", "c-3", "kept")
        r.call("HSET", "tessera:mc:{b09}:store:12:offers", "c-2", "new")  # written since: wins
        r.call("HSET", "tessera:{b07}:m:m-1:state", "s", "{}")  # rewards' key: untouched
        assert migrate(url) == {"renamed": 2, "merged": 1}, "first run"
        assert r.call("HGET", "tessera:mc:{b07}:m-1:features", "tier") == "gold"
        assert r.call("HGET", "tessera:mc:{b07}:m-1:offers", "c-1") == '{"version":1}'
        assert r.call("HGET", "tessera:mc:{b09}:store:12:offers", "c-2") == "new"
        assert r.call("HGET", "tessera:mc:{b09}:store:12:offers", "c-3") == "kept"
        assert r.call("EXISTS", "tessera:{b07}:m:m-1:features", "tessera:{b09}:m:store:12:offers") == 0
        assert r.call("EXISTS", "tessera:{b07}:m:m-1:state") == 1
        assert migrate(url) == {"renamed": 0, "merged": 0}, "a second run changes nothing"
        print("migrate_cached_member_keys self-test: ok")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--self-test":
        self_test()
    else:
        print(migrate(sys.argv[1]))
