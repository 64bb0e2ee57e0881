// tessera-rewards: reward accounts (members, points ledger, lots, holds, tiers), SPEC §4.
#pragma once

#include "tessera/service_runtime.h"

namespace tessera::rewards {

inline constexpr int kDefaultPort = 8081;

// Name, port and wiring (routes, consumers, background tasks) of tessera-rewards.
ServiceDefinition Definition();
// Registers routes, consumers and the expiry sweep. Throws ConfigError for a bad program file.
void Wire(ServiceRuntime& runtime);

}  // namespace tessera::rewards
