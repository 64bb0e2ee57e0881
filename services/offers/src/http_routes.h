// The HTTP surface of tessera-offers (SPEC §5). Roles: ops writes and reads campaigns;
// storefront, pos and app (own member only) read offers and activate; pos, storefront and app
// redeem.
#pragma once

#include "offers_app.h"
#include "tessera/http_server.h"

namespace tessera::offers {

void RegisterRoutes(HttpServer& server, OffersApp& app);

}  // namespace tessera::offers
