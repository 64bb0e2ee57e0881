#include "notifications_service.h"

namespace tessera::notifications {

ServiceDefinition Definition() {
  ServiceDefinition d;
  d.name = "notifications";
  d.default_port = kDefaultPort;
  // The shared runtime serves /healthz, /readyz and /metrics and runs the outbox relay for
  // the "notifications" outbox streams; the domain routes and consumers are wired here.
  d.wire = [](ServiceRuntime&) {};
  return d;
}

}  // namespace tessera::notifications
