#include "rewards_service.h"

namespace tessera::rewards {

ServiceDefinition Definition() {
  ServiceDefinition d;
  d.name = "rewards";
  d.default_port = kDefaultPort;
  // The shared runtime serves /healthz, /readyz and /metrics and runs the outbox relay for
  // the "rewards" outbox streams; the domain routes and consumers are wired here.
  d.wire = [](ServiceRuntime&) {};
  return d;
}

}  // namespace tessera::rewards
