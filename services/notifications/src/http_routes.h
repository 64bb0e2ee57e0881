// The HTTP surface of tessera-notifications (SPEC §6): preferences and inbox per member (app
// tokens on their own member), templates for ops.
#pragma once

#include "notifications_app.h"
#include "tessera/http_server.h"

namespace tessera::notifications {

void RegisterRoutes(HttpServer& server, NotificationsApp& app);

}  // namespace tessera::notifications
