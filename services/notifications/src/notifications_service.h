// The notifications (preferences, templates, deliveries, inbox) service: its identity and wiring.
#pragma once

#include "tessera/service_runtime.h"

namespace tessera::notifications {

inline constexpr int kDefaultPort = 8083;

// Name, port and wiring (routes, consumers, background tasks) of tessera-notifications.
ServiceDefinition Definition();

}  // namespace tessera::notifications
