#include "offers_service.h"

namespace tessera::offers {

ServiceDefinition Definition() {
  ServiceDefinition d;
  d.name = "offers";
  d.default_port = kDefaultPort;
  // The shared runtime serves /healthz, /readyz and /metrics and runs the outbox relay for
  // the "offers" outbox streams; the domain routes and consumers are wired here.
  d.wire = [](ServiceRuntime&) {};
  return d;
}

}  // namespace tessera::offers
