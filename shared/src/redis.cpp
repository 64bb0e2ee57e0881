#include "tessera/redis.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <deque>
#include <optional>

#include "tessera/crypto.h"
#include "tessera/metrics.h"
#include "tessera/thread_name.h"

namespace tessera {

namespace {
// hiredis builds each reply straight into a RedisValue tree through its reader's object
// functions (read.h), instead of into its own redisReply tree that was then copied: one
// allocation per string longer than std::string's inline buffer and one per array, where the copy
// cost a redisReply, its string and an element array per value, allocated, copied and freed
// again. A reply's root is allocated here and owned by whoever takes it from the reader
// (ReadReply); every other value lives inside its parent's `elements`, sized once when the
// array's header is read, so the pointers hiredis keeps to parents stay valid. hiredis frees only
// roots (a reply abandoned mid-read, or the reader itself), through FreeValue.
RedisValue* ValueSlot(const redisReadTask* task) {
  if (task->parent == nullptr) return new RedisValue;
  return &static_cast<RedisValue*>(task->parent->obj)->elements[static_cast<size_t>(task->idx)];
}

void* CreateString(const redisReadTask* task, char* str, size_t len) {
  RedisValue* v = ValueSlot(task);
  v->type = task->type == REDIS_REPLY_ERROR    ? RedisValue::Type::kError
            : task->type == REDIS_REPLY_STATUS ? RedisValue::Type::kStatus
                                               : RedisValue::Type::kString;
  v->str.assign(str, len);
  return v;
}

void* CreateArray(const redisReadTask* task, int elements) {
  RedisValue* v = ValueSlot(task);
  v->type = RedisValue::Type::kArray;
  v->elements.resize(static_cast<size_t>(elements));
  return v;
}

void* CreateInteger(const redisReadTask* task, long long value) {
  RedisValue* v = ValueSlot(task);
  v->type = RedisValue::Type::kInteger;
  v->integer = value;
  return v;
}

void* CreateNil(const redisReadTask* task) { return ValueSlot(task); }  // a RedisValue is nil until set

void FreeValue(void* root) { delete static_cast<RedisValue*>(root); }

// Not const: hiredis keeps a non-const pointer to it (it never writes through it).
redisReplyObjectFunctions kValueFunctions = {CreateString, CreateArray, CreateInteger, CreateNil, FreeValue};

// From now on `ctx` reads replies as RedisValue trees (for ReadReply). Call it between replies
// only: the reader must not hold part of a reply built the other way.
void ReadRepliesAsValues(redisContext* ctx) { ctx->reader->fn = &kValueFunctions; }

struct ReplyDeleter {
  void operator()(void* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<void, ReplyDeleter>;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = (ms.count() % 1000) * 1000;
  return tv;
}

// Appends one bulk string of Redis's wire format (RESP) to `out`.
void AppendBulk(std::string& out, std::string_view arg) {
  char head[24] = {'$'};
  char* end = std::to_chars(head + 1, head + sizeof head - 2, arg.size()).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append(head, static_cast<size_t>(end - head));
  out.append(arg);
  out.append("\r\n", 2);
}

// The header of a RESP array of `argc` bulk strings.
std::string ArrayHeader(size_t argc, size_t reserve) {
  std::string out;
  out.reserve(reserve);
  out += '*';
  out += std::to_string(argc);
  out += "\r\n";
  return out;
}

// About the bytes `args` take as RESP bulk strings, to reserve them at once.
template <typename Range>
size_t BulkBytes(const Range& args) {
  size_t bytes = 0;
  for (const auto& a : args) bytes += std::string_view(a).size() + 16;
  return bytes;
}

template <typename Range>
void AppendBulks(std::string& out, const Range& args) {
  for (const auto& a : args) AppendBulk(out, a);
}

// EVALSHA of `script` with `keys` and `args`, in Redis's wire format. `after_sha`, when given,
// gets where the arguments after the SHA1 begin (the pipeline rewrites the head as EVAL on
// NOSCRIPT).
template <typename Keys, typename Args>
std::string FormatEvalSha(const LuaScript& script, const Keys& keys, const Args& args, size_t* after_sha = nullptr) {
  std::string out = ArrayHeader(3 + std::size(keys) + std::size(args), 96 + BulkBytes(keys) + BulkBytes(args));
  AppendBulk(out, "EVALSHA");
  AppendBulk(out, script.sha1());
  if (after_sha) *after_sha = out.size();
  AppendBulk(out, std::to_string(std::size(keys)));
  AppendBulks(out, keys);
  AppendBulks(out, args);
  return out;
}

// What a script's error reply means: UnavailableError when a retry may cure it, else
// DependencyError.
std::exception_ptr ScriptFailure(const LuaScript& script, const std::string& error) {
  const std::string what = "redis script " + script.name() + ": " + error;
  if (IsTransientRedisError(error)) return std::make_exception_ptr(UnavailableError(what));
  return std::make_exception_ptr(DependencyError(what));
}

// `args` in Redis's wire format. hiredis's own formatting (redisAppendCommandArgv) costs several
// hundred instructions per argument; this is a copy and a length.
template <typename Range>
std::string FormatCommand(const Range& args) {
  std::string out = ArrayHeader(std::size(args), 16 + BulkBytes(args));
  AppendBulks(out, args);
  return out;
}

std::string SendFailure(const redisContext* ctx) { return std::string("redis: cannot send command: ") + ctx->errstr; }

// The next reply (writing what is queued first); nullopt when the connection failed
// (LostConnection says why). `ctx` must read replies as values (ReadRepliesAsValues).
std::optional<RedisValue> ReadReply(redisContext* ctx) {
  void* raw = nullptr;
  if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) return std::nullopt;
  std::unique_ptr<RedisValue> root(static_cast<RedisValue*>(raw));
  return std::move(*root);
}

std::string LostConnection(const redisContext* ctx) {
  return std::string("redis: connection lost: ") + (ctx->errstr[0] ? ctx->errstr : "no reply");
}
}  // namespace

long long RedisValue::AsInt() const {
  if (type == Type::kInteger) return integer;
  if (type == Type::kString || type == Type::kStatus) {
    try {
      size_t used = 0;
      long long v = std::stoll(str, &used);
      if (used == str.size()) return v;
    } catch (const std::exception&) {
    }
  }
  throw DependencyError("redis: expected an integer reply, got '" + str + "'");
}

const std::string& RedisValue::AsString() const {
  static const std::string kEmpty;
  if (type == Type::kNil) return kEmpty;
  if (type == Type::kString || type == Type::kStatus) return str;
  throw DependencyError("redis: expected a string reply" + (type == Type::kError ? ": " + str : ""));
}

bool IsTransientRedisError(std::string_view message) {
  for (std::string_view prefix : {"LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN",
                                  "CLUSTERDOWN", "NOREPLICAS", "MISCONF"}) {
    if (message.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

const RedisValue& RedisValue::ThrowIfError() const& {
  if (type != Type::kError) return *this;
  if (IsTransientRedisError(str)) throw UnavailableError("redis: " + str);
  throw DependencyError("redis: " + str);
}

RedisValue RedisValue::ThrowIfError() && {
  static_cast<const RedisValue&>(*this).ThrowIfError();
  return std::move(*this);
}

LuaScript::LuaScript(std::string name, std::string source)
    : name_(std::move(name)), source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  sha1_ = HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

void RedisContextDeleter::operator()(redisContext* c) const { redisFree(c); }

class RedisPool::Lease {
 public:
  explicit Lease(RedisPool& pool) : pool_(pool), conn_(pool.Acquire()) {}
  ~Lease() { pool_.Release(std::move(conn_), broken_); }
  redisContext* get() { return conn_.ctx.get(); }
  void MarkBroken() { broken_ = true; }

 private:
  RedisPool& pool_;
  Conn conn_;
  bool broken_ = false;
};

RedisPool::RedisPool(RedisOptions options) : options_(std::move(options)) {}

RedisPool::~RedisPool() = default;

RedisContextPtr ConnectRedis(const RedisOptions& options) {
  const timeval tv = ToTimeval(options.connect_timeout);
  const RedisUrl& url = options.url;
  RedisContextPtr ctx(url.socket_path.empty()
                          ? redisConnectWithTimeout(url.host.c_str(), url.port, tv)
                          : redisConnectUnixWithTimeout(url.socket_path.c_str(), tv));
  if (!ctx) throw UnavailableError("redis: cannot allocate a connection");
  if (ctx->err) {
    throw UnavailableError("redis: cannot connect to " + url.Endpoint() + ": " + ctx->errstr);
  }
  redisSetTimeout(ctx.get(), ToTimeval(options.command_timeout));
  auto check = [&](redisReply* raw, const char* what) {
    ReplyPtr reply(raw);
    if (!raw) throw UnavailableError(std::string("redis: ") + what + " failed: " + ctx->errstr);
    if (raw->type == REDIS_REPLY_ERROR) {
      throw UnavailableError(std::string("redis: ") + what + " refused: " + raw->str);
    }
  };
  if (!url.password.empty()) {
    check(static_cast<redisReply*>(redisCommand(ctx.get(), "AUTH %s", url.password.c_str())), "AUTH");
  }
  if (url.db != 0) {
    check(static_cast<redisReply*>(redisCommand(ctx.get(), "SELECT %d", url.db)), "SELECT");
  }
  return ctx;
}

RedisPool::Conn RedisPool::Connect() {
  Conn conn;
  conn.ctx = ConnectRedis(options_);
  ReadRepliesAsValues(conn.ctx.get());
  return conn;
}

RedisPool::Conn RedisPool::Acquire() {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  while (true) {
    while (!idle_.empty()) {
      Conn c = std::move(idle_.back());
      idle_.pop_back();
      if (c.generation == generation_) return c;
      --open_;  // opened before the last failure: presumed dead
    }
    if (open_ < options_.pool_size) {
      ++open_;
      const uint64_t gen = generation_;
      lock.unlock();
      try {
        Conn c = Connect();
        c.generation = gen;
        return c;
      } catch (...) {
        lock.lock();
        --open_;
        cv_.notify_one();
        throw;
      }
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.pool_size) {
      throw UnavailableError("redis: no free connection within the acquire timeout");
    }
  }
}

void RedisPool::Release(Conn conn, bool broken) {
  std::lock_guard lock(mu_);
  if (broken || !conn.ctx) {
    --open_;
    if (broken && conn.generation == generation_) ++generation_;
  } else {
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

std::vector<RedisValue> RedisPool::Run(const std::string& commands, size_t replies,
                                       std::chrono::milliseconds timeout) {
  Lease lease(*this);
  redisContext* ctx = lease.get();
  const bool custom_timeout = timeout != options_.command_timeout;
  if (custom_timeout) redisSetTimeout(ctx, ToTimeval(timeout));
  if (redisAppendFormattedCommand(ctx, commands.data(), commands.size()) != REDIS_OK) {
    lease.MarkBroken();
    throw UnavailableError(SendFailure(ctx));
  }
  std::vector<RedisValue> out;
  out.reserve(replies);
  for (size_t i = 0; i < replies; ++i) {
    std::optional<RedisValue> reply = ReadReply(ctx);
    if (!reply) {
      lease.MarkBroken();
      throw UnavailableError(LostConnection(ctx));
    }
    out.push_back(std::move(*reply));
  }
  if (custom_timeout) redisSetTimeout(ctx, ToTimeval(options_.command_timeout));
  return out;
}

RedisValue RedisPool::Command(const std::vector<std::string>& args) {
  return std::move(Run(FormatCommand(args), 1, options_.command_timeout).front());
}

std::vector<RedisValue> RedisPool::Pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return {};
  std::string all;
  for (const auto& args : commands) all += FormatCommand(args);
  return Run(all, commands.size(), options_.command_timeout);
}

RedisValue RedisPool::BlockingCommand(std::span<const std::string_view> args, std::chrono::milliseconds timeout) {
  return std::move(Run(FormatCommand(args), 1, timeout).front());
}

RedisValue RedisPool::Eval(const LuaScript& script, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args) {
  const std::string cmd = FormatEvalSha(script, keys, args);
  RedisValue v = std::move(Run(cmd, 1, options_.command_timeout).front());
  if (v.IsError() && v.str.rfind("NOSCRIPT", 0) == 0) {
    Command({"SCRIPT", "LOAD", script.source()}).ThrowIfError();
    v = std::move(Run(cmd, 1, options_.command_timeout).front());
  }
  if (v.IsError()) std::rethrow_exception(ScriptFailure(script, v.str));
  return v;
}

bool RedisPool::Ping() {
  try {
    RedisValue v = Command({"PING"});
    return v.type == RedisValue::Type::kStatus && v.str == "PONG";
  } catch (const UnavailableError&) {
    return false;
  }
}

namespace {
uint64_t NextPipelineId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}
}  // namespace

RedisPipeline::RedisPipeline(RedisOptions options, Histogram* batch_sizes)
    : options_(std::move(options)), batch_sizes_(batch_sizes), id_(NextPipelineId()), thread_([this] { Loop(); }) {}

std::vector<double> RedisPipeline::BatchSizeBuckets() {
  std::vector<double> bounds;
  for (size_t n = 1; n <= kMaxBatch; n *= 2) bounds.push_back(static_cast<double>(n));
  return bounds;
}

RedisPipeline::~RedisPipeline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void RedisPipeline::Command(std::vector<std::string> args, Callback done) {
  Submit({FormatCommand(args), nullptr, 0, 0, std::move(done)});
}

void RedisPipeline::Eval(const LuaScript& script, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args, Callback done) {
  const std::vector<std::string_view> key_views(keys.begin(), keys.end());
  const std::vector<std::string_view> arg_views(args.begin(), args.end());
  Eval(script, key_views, arg_views, std::move(done));
}

void RedisPipeline::Eval(const LuaScript& script, std::span<const std::string_view> keys,
                         std::span<const std::string_view> args, Callback done) {
  size_t after_sha = 0;
  std::string command = FormatEvalSha(script, keys, args, &after_sha);
  Submit({std::move(command), &script, 3 + keys.size() + args.size(), after_sha, std::move(done)});
}

void RedisPipeline::Submit(Item item) {
  // This thread's returns from this pipeline (a thread may submit to several).
  thread_local std::vector<std::pair<uint64_t, std::shared_ptr<Returns>>> homes;
  std::shared_ptr<Returns> home;
  for (const auto& [id, returns] : homes) {
    if (id == id_) home = returns;
  }
  if (!home) home = homes.emplace_back(id_, std::make_shared<Returns>()).second;
  home->FreeAll();  // here, by the thread that made them
  item.home = home;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = queue_.empty();  // otherwise the thread is awake or already signalled
    queue_.push_back(std::move(item));
  }
  if (wake) cv_.notify_one();
}

void RedisPipeline::Loop() {
  NameThisThread("redis-pipeline");
  std::deque<Item> in_flight;  // written to Redis, answered in this order
  std::vector<Item> fresh;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (in_flight.empty()) {
        if (queue_.empty()) {  // about to sleep: nothing answered may wait on a thread that is idle
          lock.unlock();
          FreeReturns();
          lock.lock();
        }
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything submitted is answered
      }
      // The next batch goes out while the last one's replies are still being read, once it is
      // at least as large as what remains in flight: Redis has work while this thread hands
      // replies to their callbacks, and batches stay large. At most kMaxBatch at a time: bounds
      // the buffers and the wait of the batch's first reply.
      if (!queue_.empty() && queue_.size() >= in_flight.size()) {
        if (queue_.size() <= kMaxBatch) {
          fresh.swap(queue_);
        } else {
          fresh.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + kMaxBatch));
          queue_.erase(queue_.begin(), queue_.begin() + kMaxBatch);
        }
      }
    }
    if (!fresh.empty()) {
      Send(fresh, in_flight);
      continue;  // take what was queued meanwhile before blocking on a reply
    }
    std::optional<RedisValue> reply = ReadReply(ctx_.get());
    if (!reply) {
      FailAll(in_flight, fresh, LostConnection(ctx_.get()));
      continue;
    }
    Item item = std::move(in_flight.front());
    in_flight.pop_front();
    RedisValue& v = *reply;
    if (item.script && v.IsError()) {
      if (v.str.rfind("NOSCRIPT", 0) == 0) {  // nothing ran: again as EVAL, which never answers NOSCRIPT
        std::string eval = ArrayHeader(item.argc, item.command.size() + item.script->source().size() + 32);
        AppendBulk(eval, "EVAL");
        AppendBulk(eval, item.script->source());
        eval.append(item.command, item.after_sha);
        item.command = std::move(eval);
        fresh.push_back(std::move(item));
        Send(fresh, in_flight);
        continue;
      }
      Deliver(item, {}, ScriptFailure(*item.script, v.str));
      continue;
    }
    Deliver(item, std::move(v), nullptr);
  }
}

void RedisPipeline::Deliver(Item& item, RedisValue value, std::exception_ptr error) {
  try {
    item.done(std::move(value), error);
  } catch (...) {  // the contract: callbacks do not throw; one that does must not stop the pipeline
  }
  std::shared_ptr<Returns> home = std::move(item.home);  // the item holds no reference to its home
  if (!home) return;
  if (!home->known) {
    home->known = true;
    std::erase_if(homes_, [](const std::weak_ptr<Returns>& h) { return h.expired(); });
    homes_.push_back(home);
  }
  std::lock_guard<std::mutex> lock(home->mu);
  home->items.push_back(std::move(item));
}

void RedisPipeline::FreeReturns() {
  for (const auto& weak : homes_) {
    if (const std::shared_ptr<Returns> home = weak.lock()) home->FreeAll();
  }
}

void RedisPipeline::Send(std::vector<Item>& items, std::deque<Item>& in_flight) {
  if (!ctx_) {
    try {
      ctx_ = ConnectRedis(options_);
      ReadRepliesAsValues(ctx_.get());
    } catch (const std::exception& e) {
      return FailAll(in_flight, items, e.what());
    }
  }
  if (batch_sizes_) batch_sizes_->Observe(static_cast<double>(items.size()));
  // Written now, straight from the items' formatted commands: copying them into hiredis's output
  // buffer first cost a copy of every byte and the buffer's regrowth (bench/README.md, session
  // 32). hiredis's buffer stays empty (nothing else writes on this connection), so its reads,
  // which flush that buffer first, find nothing to write.
  if (std::string why = WriteCommands(ctx_->fd, items); !why.empty()) {
    return FailAll(in_flight, items, "redis: cannot send command: " + why);
  }
  for (Item& item : items) in_flight.push_back(std::move(item));
  items.clear();
}

std::string RedisPipeline::WriteCommands(int fd, const std::vector<Item>& items) {
  std::vector<iovec> iov;
  iov.reserve(std::min<size_t>(items.size(), IOV_MAX));
  size_t next = 0;  // the first item not yet in `iov` or written
  size_t skip = 0;  // bytes of iov[0] already written
  while (next < items.size() || !iov.empty()) {
    while (next < items.size() && iov.size() < IOV_MAX) {
      const std::string& c = items[next++].command;
      iov.push_back({const_cast<char*>(c.data()), c.size()});
    }
    iov[0].iov_base = static_cast<char*>(iov[0].iov_base) + skip;
    iov[0].iov_len -= skip;
    const ssize_t n = ::writev(fd, iov.data(), static_cast<int>(iov.size()));
    if (n < 0) {
      if (errno == EINTR) {
        skip = 0;
        continue;
      }
      return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : std::strerror(errno);
    }
    // Drop what was written whole; `skip` is how far into the next one the write got.
    size_t left = static_cast<size_t>(n), whole = 0;
    while (whole < iov.size() && left >= iov[whole].iov_len) left -= iov[whole++].iov_len;
    iov.erase(iov.begin(), iov.begin() + static_cast<std::ptrdiff_t>(whole));
    skip = left;
  }
  return {};
}

void RedisPipeline::FailAll(std::deque<Item>& in_flight, std::vector<Item>& items, const std::string& why) {
  ctx_.reset();
  for (Item& item : in_flight) Deliver(item, {}, std::make_exception_ptr(UnavailableError(why)));
  for (Item& item : items) Deliver(item, {}, std::make_exception_ptr(UnavailableError(why)));
  in_flight.clear();
  items.clear();
}

}  // namespace tessera
