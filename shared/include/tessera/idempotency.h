// Idempotency of mutating requests (SPEC §3).
//
// Protocol, for a request carrying Idempotency-Key K under scope S:
//  1. Begin(): one Lua call looks at the record for (S, K). No record: it writes an in-flight
//     marker (request hash, status 0; formats in tessera_lib.lua) with a short TTL and answers
//     kProceed. Record with the
//     same hash and a stored response: kReplay (with the response). Same hash, in flight:
//     kInProgress (409). Different hash: kMismatch (422).
//  2. The service's own Lua script applies the change and, in the same script, stores the final
//     response with tessera_idem_store (and checks tessera_idem_check first, so a request that
//     raced past an expired marker is still applied once). A record therefore never exists
//     without its change, nor a change without its record.
//  3. If the request ends without a stored response (Redis unavailable, a crash), the marker
//     expires after `in_flight_ttl` and a retry proceeds; Abandon() clears it at once when the
//     service knows nothing was applied.
#pragma once

#include <chrono>
#include <string>

#include "tessera/redis.h"

namespace tessera {

enum class IdempotencyOutcome { kProceed, kReplay, kInProgress, kMismatch };

struct StoredResponse {
  int status = 0;
  std::string body;
};

struct IdempotencyBegin {
  IdempotencyOutcome outcome;
  StoredResponse response;  // kReplay only
};

struct IdempotencyOptions {
  std::chrono::milliseconds in_flight_ttl{30000};
  std::chrono::milliseconds record_ttl{24 * 3600 * 1000};
  // Records are read in both formats (tessera_lib.lua) and written as strings, or as hashes
  // when true: what releases before 2026-11-25 read, for a rolling update from one of them
  // (TESSERA_IDEMPOTENCY_RECORDS=hash; docs/operations.md).
  bool write_hash = false;
};

class IdempotencyStore {
 public:
  // `pool` must outlive the store. Thread-safe.
  IdempotencyStore(RedisPool& pool, IdempotencyOptions options = {});

  // Throws UnavailableError when Redis cannot be reached.
  IdempotencyBegin Begin(const std::string& record_key, const std::string& request_hash);
  // Removes the in-flight marker if it is still ours and still in flight.
  void Abandon(const std::string& record_key, const std::string& request_hash);
  // Stores the final response of a request that changed nothing (a refusal), if the marker is
  // still ours and in flight, so a retry with the key gets the same answer.
  void Complete(const std::string& record_key, const std::string& request_hash, int status, const std::string& body);

  const IdempotencyOptions& options() const { return options_; }

  // The hash that identifies "the same request": method, route path and body bytes.
  static std::string RequestHash(std::string_view method, std::string_view path, std::string_view body);

  // A completed record in the string format that tessera_lib.lua reads and writes, for a script
  // that stores a record the caller built (rewards' commit.lua).
  static std::string StringRecord(int status, std::string_view request_hash, std::string_view body);

 private:
  RedisPool& pool_;
  IdempotencyOptions options_;
};

}  // namespace tessera
