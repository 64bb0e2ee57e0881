#!/usr/bin/env python3
"""Splits a service's perf profile by what the process was doing, as a Markdown table.

Usage: perf script -i FILE -F comm,tid,ip,sym | bench/perf_roles.py
       bench/perf_roles.py --self-test   (run by ctest: the attribution rules on fixed stacks)

Needs call graphs that reach the thread's entry point (`perf record --call-graph dwarf`):
every sample is put in one role by the frames of its stack, checked in this order —
  outbox relay                     under OutboxRelay
  writing the answer               under HttpServer::Complete or ConnectionSocket::Answer (on a
                                   server thread, or on the Redis pipeline's thread for an
                                   asynchronous route)
  Redis round trips                under RedisPool (a handler's blocking call) or
                                   RedisPipeline, unless in a rewards callback
  domain work                      under HttpServer::Dispatch, or a rewards callback on the
                                   pipeline's thread
  reading the request              the rest of Adapter::onInput (http-parser, copying the
                                   request into HttpRequest)
  Pistache reactor                 other Pistache frames (epoll, socket reads, queued writes)
  librdkafka threads               rd_kafka frames or an rdk:* thread
  context switches                 a thread being switched in (finish_task_switch, __schedule)
  other
"""
import collections
import re
import sys

ROLES = [
    "Pistache's reactor outside our handler (epoll, socket reads, queued writes)",
    "domain work in the handler (authentication, JSON, rules or ranking, quote, answer)",
    "Redis round trips (hiredis: a handler's blocking call, or the pipeline's batched writes and reads)",
    "context switches (a thread switched back in after waiting on a socket or a condition variable)",
    "reading the request (http-parser, into `HttpRequest`), writing the answer (to the socket, or to Pistache's queue)",
    "outbox relay",
    "librdkafka's threads",
    "other",
]


def role(thread, frames):
    chain = " ".join(frames)
    if "OutboxRelay" in chain:
        return ROLES[5]
    if any(f in chain for f in ("HttpServer::Complete", "ConnectionSocket::Answer")):
        return ROLES[4]
    if "RedisPool" in chain or "RedisPipeline" in chain:
        if "RedisPipeline" in chain and "tessera::rewards::" in chain:
            return ROLES[1]  # the operation's completion, run on the pipeline's thread
        return ROLES[2]
    if "HttpServer::Adapter::onInput" in chain:
        return ROLES[1] if "HttpServer::Dispatch" in chain else ROLES[4]
    if "Pistache" in chain:
        return ROLES[0]
    if "rd_kafka" in chain or thread.startswith("rdk:"):
        return ROLES[6]
    if frames and ("finish_task_switch" in frames[0] or "__schedule" in chain):
        return ROLES[3]
    return ROLES[7]


def count(text):
    """Samples per role in `perf script -F comm,tid,ip,sym` output (blank-line separated)."""
    counts = collections.Counter()
    for block in text.split("\n\n"):
        lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
        if len(lines) < 2:
            continue
        thread = lines[0].split()[0]
        frames = [re.sub(r"^[0-9a-f]+ ", "", l) for l in lines[1:]]
        counts[role(thread, frames)] += 1
    return counts


SELF_TEST = """tessera-rewards 101
	ffffffff81000000 finish_task_switch.isra.0
	7f0000000001 __libc_read
	7f0000000002 redisBufferRead
	7f0000000003 tessera::RedisPool::Run
	7f0000000004 tessera::HttpServer::Dispatch
	7f0000000005 tessera::HttpServer::Adapter::onInput

tessera-rewards 101
	7f0000000006 tessera::rewards::Account::Redeem
	7f0000000004 tessera::HttpServer::Dispatch
	7f0000000005 tessera::HttpServer::Adapter::onInput

tessera-rewards 101
	7f0000000007 __libc_send
	7f0000000008 tessera::(anonymous namespace)::ConnectionSocket::Answer
	7f0000000005 tessera::HttpServer::Adapter::onInput

tessera-rewards 101
	7f0000000020 http_parser_execute
	7f0000000005 tessera::HttpServer::Adapter::onInput

tessera-rewards 102
	7f0000000009 epoll_wait
	7f000000000a Pistache::Polling::Epoll::poll

tessera-rewards 103
	7f000000000b tessera::OutboxRelay::ReadAndPublish
	7f000000000c tessera::OutboxRelay::Loop

rdk:broker1 104
	7f000000000d __poll

tessera-rewards 105
	ffffffff81000000 finish_task_switch.isra.0

tessera-rewards 106
	7f0000000010 redisGetReply
	7f0000000012 tessera::RedisPipeline::Loop

tessera-rewards 106
	7f0000000013 tessera::rewards::RewardsApp::AfterCachedCommit
	7f0000000011 tessera::RedisPipeline::Deliver
	7f0000000012 tessera::RedisPipeline::Loop

tessera-rewards 106
	7f0000000014 Pistache::Tcp::Transport::asyncWriteImpl
	7f0000000015 tessera::(anonymous namespace)::ConnectionSocket::Answer
	7f0000000016 tessera::HttpServer::Complete
	7f0000000011 tessera::RedisPipeline::Deliver
	7f0000000012 tessera::RedisPipeline::Loop

tessera-rewards 106
	7f0000000017 __send
	7f0000000018 tessera::(anonymous namespace)::ConnectionSocket::Answer
	7f0000000016 tessera::HttpServer::Complete
	7f0000000019 tessera::rewards::RewardsApp::AfterCachedCommit
	7f0000000011 tessera::RedisPipeline::Deliver
	7f0000000012 tessera::RedisPipeline::Loop
"""


def self_test():
    got = count(SELF_TEST)
    want = {ROLES[2]: 2, ROLES[1]: 2, ROLES[4]: 4, ROLES[0]: 1, ROLES[5]: 1, ROLES[6]: 1, ROLES[3]: 1}
    assert dict(got) == want, dict(got)
    print("perf_roles self-test: ok")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    counts = count(sys.stdin.read())
    total = sum(counts.values())
    if total == 0:
        print("(no samples with call graphs)")
        return
    print("| share of the service's CPU | % |")
    print("|---|---:|")
    for name in ROLES:
        print(f"| {name} | {100.0 * counts[name] / total:.1f} |")
    print(f"\n{total} samples.")


if __name__ == "__main__":
    main()
