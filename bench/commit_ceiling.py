#!/usr/bin/env python3
"""commit_ceiling.py REWARDS_URL REDIS_PORT [REQUESTS] [--pipeline N] | --self-test — Redis's own
ceiling for a redemption: redis-benchmark running commit.lua, the script the service runs for
every redemption of a cached member, with the arguments of a real redemption, 50 connections,
N commands per round trip on each (1 by default; the service's RedisPipeline batches its commits
the same way). Prints one JSON line: {"rps": ..., "arguments_bytes": ...}.

How: it watches Redis (MONITOR) while it makes one redemption through the service, and takes
the commit's EVALSHA as the service sent it. Replayed as is, every call after the first would
lose the compare-and-set, so the replay differs from it in what makes a call a first:
- the member's keys and the idempotency key get redis-benchmark's `__rand_int__` (a fresh member
  and a fresh key per call, out of 10^9), and the expected write version is 0 (the new one 1);
- the outbox stream is a key of its own that no relay reads, so nothing reaches Kafka;
- the sweep's due index is left alone (it is not touched by a redemption either).
Before the run the script checks that one such call (a member and key of its own) answers
`committed`. The keys it writes stay
in the benchmark's Redis, which `make bench` throws away."""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import urllib.parse

member = "m-1"


def unquote(text):
    """A string of MONITOR's output (sdscatrepr quoting) back to its bytes."""
    out, i = bytearray(), 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = text[i + 1]
        if n == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
            continue
        out += {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b"}.get(n, n.encode())
        i += 2
    return bytes(out)


def resp(args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def redeem():
    u = urllib.parse.urlparse(rewards)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", f"/v1/members/{member}/redemptions", '{"points":1,"channel":"store"}',
              {"Authorization": "Bearer dev-pos", "Content-Type": "application/json",
               "Idempotency-Key": "commit-ceiling-" + os.urandom(8).hex()})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        sys.exit(f"commit_ceiling: the sample redemption answered {r.status}")


def monitor_args(line):
    """The arguments of one MONITOR line: `<time> [<db> <client>] "ARG" "ARG" ...`."""
    return [unquote(a) for a in re.findall(r'"((?:[^"\\]|\\.)*)"', line.decode("latin-1"))]


def is_commit_of(args, member_id):
    """commit.lua takes 4 to 9 keys, the member's state hash then its ledger (load.lua's second
    key is an idempotency record)."""
    own = b":m:" + member_id.encode() + b":"
    return (len(args) > 12 and args[0].upper() == b"EVALSHA" and args[2].isdigit() and 4 <= int(args[2]) <= 9 and
            args[3].endswith(own + b"state") and args[4].endswith(own + b"ledger"))


def replay_command(args, member_id):
    """The commit as a first write of a fresh member, per redis-benchmark call (see above)."""
    n = int(args[2])
    sha, keys, argv = args[1], list(args[3:3 + n]), list(args[3 + n:])
    own = b":m:" + member_id.encode() + b":"
    keys = [k.replace(own, b":m:cb-__rand_int__:") for k in keys]
    keys[2] = b"tessera:bench:commit-ceiling-outbox"
    keys[3] = b"tessera:bench:commit-ceiling-idem:__rand_int__"
    argv[0] = b"0"  # expected write version of a member never written
    if len(argv) > 11:
        argv[11] = b"1"  # and the version it gets (the self-test's line is shorter)
    argv[3] = b""  # the due index is unchanged
    return [b"EVALSHA", sha, args[2]] + keys + argv


def self_test():
    line = (b'1763830000.123456 [0 127.0.0.1:40000] "EVALSHA" "abc" "5" "tessera:{b07}:m:m-1:state" '
            b'"tessera:{b07}:m:m-1:ledger" "outbox" "idem" "tessera:{b07}:m:m-1:redemptions" "12" "13" '
            b'"{\\"s\\":\\"a b\\"}" "" "m-1" "x\\xff\\n"')
    args = monitor_args(line)
    assert args[:4] == [b"EVALSHA", b"abc", b"5", b"tessera:{b07}:m:m-1:state"], args
    assert args[10] == b'{"s":"a b"}' and args[11] == b"" and args[13] == b"x\xff\n", args[10:]
    assert is_commit_of(args, "m-1") and not is_commit_of(args, "m-10")
    load = [b"EVALSHA", b"def", b"5", b"tessera:{b07}:m:m-1:state", b"tessera:{b07}:idem:x"] + [b"k"] * 3 + [b"1"] * 6
    assert not is_commit_of(load, "m-1")
    cmd = replay_command(args, "m-1")
    assert cmd[2] == b"5" and cmd[3] == b"tessera:{b07}:m:cb-__rand_int__:state"
    assert cmd[5] == b"tessera:bench:commit-ceiling-outbox" and cmd[6].endswith(b":__rand_int__")
    assert cmd[7] == b"tessera:{b07}:m:cb-__rand_int__:redemptions"
    assert cmd[8] == b"0" and cmd[11] == b"" and cmd[10] == b'{"s":"a b"}'
    print("commit_ceiling self-test: ok")


if sys.argv[1:] == ["--self-test"]:
    self_test()
    sys.exit(0)
argv = sys.argv[1:]
pipeline = "1"
if "--pipeline" in argv:
    i = argv.index("--pipeline")
    pipeline = argv[i + 1]
    del argv[i:i + 2]
rewards, port = argv[0], int(argv[1])
requests = int(argv[2]) if len(argv) > 2 else 100000

monitor = socket.create_connection(("127.0.0.1", port), timeout=10)
monitor.sendall(resp([b"MONITOR"]))
buffered = b""
while b"\r\n" not in buffered:
    buffered += monitor.recv(65536)
redeem()
commit = None
while commit is None:
    while b"\r\n" not in buffered:
        chunk = monitor.recv(65536)
        if not chunk:
            sys.exit("commit_ceiling: MONITOR closed before the commit was seen")
        buffered += chunk
    line, buffered = buffered.split(b"\r\n", 1)
    args = monitor_args(line)
    if is_commit_of(args, member):
        commit = args
monitor.close()
command = replay_command(commit, member)

check = socket.create_connection(("127.0.0.1", port), timeout=10)
check.sendall(resp([a.replace(b"__rand_int__", b"check-" + os.urandom(6).hex().encode()) for a in command]))
reply = b""
# An array reply names its outcome after its third CRLF; an error reply is one line.
while reply.count(b"\r\n") < 3 and not (reply.startswith(b"-") and reply.endswith(b"\r\n")):
    chunk = check.recv(65536)
    if not chunk:
        break
    reply += chunk
check.close()
if b"committed" not in reply:
    sys.exit(f"commit_ceiling: the replayed commit did not commit: {reply[:200]!r}")

out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "50", "-P", pipeline, "-n", str(requests), "-r", "1000000000", "-q"] +
                     command, capture_output=True, check=True)
rates = re.findall(rb"([0-9.]+) requests per second", out.stdout.replace(b"\r", b"\n"))
if not rates:
    sys.exit(f"commit_ceiling: no rate in redis-benchmark's output: {out.stdout[-300:]!r}")
print(json.dumps({"rps": float(rates[-1]), "arguments_bytes": sum(len(a) for a in command)}))
