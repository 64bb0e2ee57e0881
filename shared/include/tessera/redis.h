// Redis access over hiredis (0.14, RESP2).
//
// RedisPool is a thread-safe pool of blocking connections. Each call borrows a connection,
// runs, and returns it; a connection that saw an I/O error is dropped, and every idle
// connection opened before that error is dropped too (after a Redis restart all of them are
// dead), so the pool heals by itself once Redis is back. Calls never retry a command that may
// have reached Redis: a lost connection is UnavailableError and the caller decides.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tessera/config.h"
#include "tessera/errors.h"

struct redisContext;

namespace tessera {

class Histogram;  // tessera/metrics.h

// A reply, built by hiredis's reader itself (redis.cpp sets its object functions).
struct RedisValue {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;               // kString, kStatus, kError
  long long integer = 0;         // kInteger
  std::vector<RedisValue> elements;  // kArray

  bool IsNil() const { return type == Type::kNil; }
  bool IsError() const { return type == Type::kError; }
  // Integer value of an integer reply or of a string holding a decimal. Throws DependencyError.
  long long AsInt() const;
  // String of a string/status reply ("" for nil). Throws DependencyError for other types.
  const std::string& AsString() const;
  // Throws DependencyError (UnavailableError for LOADING, BUSY, ...) when this is an error
  // reply. On a temporary it returns the value itself, so `pool.Command(...).ThrowIfError()`
  // can be iterated safely.
  const RedisValue& ThrowIfError() const&;
  RedisValue ThrowIfError() &&;
};

// True for error replies that a later retry may cure (LOADING after a restart, BUSY, READONLY
// during a fail-over, MISCONF when persistence fails): they mean "unavailable", not "wrong".
bool IsTransientRedisError(std::string_view message);

// A Lua script, identified by the SHA-1 of its source so it can be called with EVALSHA.
class LuaScript {
 public:
  LuaScript(std::string name, std::string source);
  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string name_, source_, sha1_;
};

struct RedisOptions {
  RedisUrl url;
  int pool_size = 8;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};
  // How long a caller waits for a free connection before UnavailableError.
  std::chrono::milliseconds acquire_timeout{2000};
};

struct RedisContextDeleter {
  void operator()(redisContext* c) const;
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;

// A blocking connection with AUTH and SELECT done and the command timeout set. Throws
// UnavailableError when Redis cannot be reached or refuses.
RedisContextPtr ConnectRedis(const RedisOptions& options);

class RedisPool {
 public:
  explicit RedisPool(RedisOptions options);
  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // Runs one command. Error replies come back as kError values (not exceptions); a failed
  // connection or timeout throws UnavailableError.
  RedisValue Command(const std::vector<std::string>& args);
  // Sends all commands in one round trip and returns their replies in order.
  std::vector<RedisValue> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // EVALSHA with a transparent SCRIPT LOAD on NOSCRIPT (safe: NOSCRIPT means nothing ran).
  // A script error (reply starting "ERR") throws DependencyError.
  RedisValue Eval(const LuaScript& script, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args);
  // Like Command but with its own timeout, for blocking commands such as XREAD BLOCK. The
  // arguments are views: nothing is copied but into the command's wire format.
  RedisValue BlockingCommand(std::span<const std::string_view> args, std::chrono::milliseconds timeout);
  // True when PING answers PONG.
  bool Ping();

  const RedisOptions& options() const { return options_; }

 private:
  struct Conn {
    RedisContextPtr ctx;
    uint64_t generation = 0;
  };
  class Lease;
  Conn Acquire();
  void Release(Conn conn, bool broken);
  Conn Connect();
  // Sends `commands` (one or more, already in Redis's wire format) in one round trip and reads
  // `replies` replies.
  std::vector<RedisValue> Run(const std::string& commands, size_t replies, std::chrono::milliseconds timeout);

  RedisOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Conn> idle_;
  int open_ = 0;
  uint64_t generation_ = 0;
};

// One connection that many threads share without waiting on it. Commands submitted from any
// thread are written to Redis in batches (what queued meanwhile, up to 256 at a time, so Redis
// reads and answers many with one system call each); a batch is written while the previous
// one's replies are still being read once it is at least as large as what remains in flight,
// so Redis has the next batch while this thread hands out replies. Each reply goes to its
// callback, in submission order, on the pipeline's own thread. A callback must not block;
// whatever it throws is dropped. A lost connection fails every command in flight with
// UnavailableError (they may or may not have run: nothing is retried) and the next batch
// reconnects; a connection that cannot be made fails the batch the same way.
class RedisPipeline {
 public:
  // `error` is set (and `reply` empty) when there is no reply.
  using Callback = std::function<void(RedisValue reply, std::exception_ptr error)>;

  // `batch_sizes`, when given (it must outlive the pipeline), observes the number of commands
  // written in each batch; BatchSizeBuckets() are the bounds that suit it.
  explicit RedisPipeline(RedisOptions options, Histogram* batch_sizes = nullptr);
  static constexpr size_t kMaxBatch = 256;  // commands written in one batch, at most
  static std::vector<double> BatchSizeBuckets();  // 1, 2, 4 .. kMaxBatch
  // Finishes what was submitted, then stops.
  ~RedisPipeline();
  RedisPipeline(const RedisPipeline&) = delete;
  RedisPipeline& operator=(const RedisPipeline&) = delete;

  // Error replies come back as kError values, as from RedisPool::Command.
  void Command(std::vector<std::string> args, Callback done);
  // As RedisPool::Eval: EVALSHA, resent as EVAL with the source on NOSCRIPT (nothing ran);
  // an error reply becomes the error (UnavailableError if transient, else DependencyError).
  void Eval(const LuaScript& script, const std::vector<std::string>& keys, const std::vector<std::string>& args,
            Callback done);
  // The same with views: they need to live only until this returns (it formats them at once),
  // so a caller can pass its own strings without copying them first.
  void Eval(const LuaScript& script, std::span<const std::string_view> keys, std::span<const std::string_view> args,
            Callback done);

 private:
  struct Returns;
  struct Item {
    // The command in Redis's wire format, formatted by the submitting thread so that the
    // pipeline's thread only copies bytes into its output buffer.
    std::string command;
    const LuaScript* script = nullptr;  // Eval: NOSCRIPT handling and error mapping
    size_t argc = 0;                    // Eval: arguments in `command`
    size_t after_sha = 0;               // Eval: where the arguments after the script's SHA1 begin
    Callback done;
    std::shared_ptr<Returns> home;  // the submitting thread's returns: where the answered item goes
  };
  // Answered items on their way back to the thread that submitted them: that thread destroys
  // them at its next Submit, so what it allocated for a command (and the callback's captures) is
  // freed by the thread that made it. Freeing on the pipeline's thread cost the allocator a
  // transfer between threads for every piece (bench/README.md, session 21). The pipeline's
  // thread frees what is still waiting whenever it has nothing left to do, and when it stops.
  struct Returns {
    std::mutex mu;
    std::vector<Item> items;
    bool known = false;  // in homes_ (pipeline thread only; a Returns serves one pipeline)
    // Frees every item waiting here on the calling thread, after the lock is released (locals
    // end in reverse order: `lock` before `answered`).
    void FreeAll() {
      std::vector<Item> answered;
      std::lock_guard<std::mutex> lock(mu);
      answered.swap(items);
    }
  };
  void Submit(Item item);
  void Loop();
  // Writes `items` (connecting first if needed) and moves them to the back of `in_flight`; on
  // failure fails them (FailAll). Either way `items` is left empty.
  void Send(std::vector<Item>& items, std::deque<Item>& in_flight);
  // Writes every item's command to `fd`, in order; returns why it could not ('' when written).
  static std::string WriteCommands(int fd, const std::vector<Item>& items);
  // The connection is lost or cannot be made: fails everything in flight, then `items`, with
  // UnavailableError(why), and drops the connection (the next Send reconnects).
  void FailAll(std::deque<Item>& in_flight, std::vector<Item>& items, const std::string& why);
  // Runs the item's callback, then sends the item back to its home.
  void Deliver(Item& item, RedisValue value, std::exception_ptr error);
  // Frees, on the pipeline's thread, every answered item still waiting in a home.
  void FreeReturns();

  RedisOptions options_;
  Histogram* batch_sizes_;
  RedisContextPtr ctx_;  // the pipeline thread's only
  std::vector<std::weak_ptr<Returns>> homes_;  // the pipeline thread's only
  const uint64_t id_;                          // tells this pipeline's Returns in a thread from others'
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tessera
