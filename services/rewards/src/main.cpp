// tessera-rewards: configuration from the environment (SPEC §2), then runs until SIGTERM.
#include "rewards_service.h"

int main() { return tessera::RunService(tessera::rewards::Definition()); }
