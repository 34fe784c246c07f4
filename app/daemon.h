// RunDaemon: builds anchord's parts from a validated configuration and runs the signaling loop
// until SIGTERM or SIGINT. Returns the process exit code.
#pragma once

#include "core/config.h"

namespace anchord::app {

int RunDaemon(const core::Config& config);

}  // namespace anchord::app
