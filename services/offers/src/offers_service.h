// tessera-offers: offer personalization (campaigns, features, ranking, activations), SPEC §5.
#pragma once

#include "tessera/service_runtime.h"

namespace tessera::offers {

inline constexpr int kDefaultPort = 8082;

// Name, port and wiring (routes, consumers, background tasks) of tessera-offers.
ServiceDefinition Definition();
// Registers routes, consumers, the campaign cache and stats tasks. Throws ConfigError.
void Wire(ServiceRuntime& runtime);

}  // namespace tessera::offers
