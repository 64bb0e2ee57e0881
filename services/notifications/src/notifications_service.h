// tessera-notifications: preferences, templates, deliveries and the in-app inbox, SPEC §6.
#pragma once

#include "tessera/service_runtime.h"

namespace tessera::notifications {

inline constexpr int kDefaultPort = 8083;

// Name, port and wiring (routes, consumers, background tasks) of tessera-notifications.
ServiceDefinition Definition();
// Registers routes, the event consumer and the dispatcher. Throws ConfigError.
void Wire(ServiceRuntime& runtime);

}  // namespace tessera::notifications
