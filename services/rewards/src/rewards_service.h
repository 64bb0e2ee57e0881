// The reward accounts (members, points ledger, lots, holds, tiers) service: its identity and wiring.
#pragma once

#include "tessera/service_runtime.h"

namespace tessera::rewards {

inline constexpr int kDefaultPort = 8081;

// Name, port and wiring (routes, consumers, background tasks) of tessera-rewards.
ServiceDefinition Definition();

}  // namespace tessera::rewards
