// tessera-notifications: configuration from the environment (SPEC §2), then runs until SIGTERM.
#include "notifications_service.h"

int main() { return tessera::RunService(tessera::notifications::Definition()); }
