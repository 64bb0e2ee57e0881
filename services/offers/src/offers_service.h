// The offer personalization (campaigns, features, ranking, activations) service: its identity and wiring.
#pragma once

#include "tessera/service_runtime.h"

namespace tessera::offers {

inline constexpr int kDefaultPort = 8082;

// Name, port and wiring (routes, consumers, background tasks) of tessera-offers.
ServiceDefinition Definition();

}  // namespace tessera::offers
