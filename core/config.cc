// Placeholder until the config parser lands.
#include "core/config.h"
