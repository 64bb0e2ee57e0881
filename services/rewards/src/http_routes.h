// The HTTP surface of tessera-rewards (SPEC §4): turns HttpRequests into use-case calls and
// Replies into HttpResponses. Roles per route follow SPEC §3.
#pragma once

#include "rewards_app.h"
#include "tessera/http_server.h"

namespace tessera::rewards {

void RegisterRoutes(HttpServer& server, RewardsApp& app, const Clock& clock);

}  // namespace tessera::rewards
