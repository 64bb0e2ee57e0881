// tessera-offers: configuration from the environment (SPEC §2), then runs until SIGTERM.
#include "offers_service.h"

int main() { return tessera::RunService(tessera::offers::Definition()); }
