// anchord: the NG9-1-1 media-anchoring server. Wiring only: configuration, the signaling loop,
// the media workers, the SIP stack, the controller and the heartbeats; then systemd readiness,
// status and watchdog.
#include <getopt.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include <systemd/sd-daemon.h>

#include "app/daemon.h"
#include "core/config.h"
#include "core/log.h"

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitConfig = 2;

void PrintUsage(std::FILE* out) {
  std::fputs(
      "usage: anchord [--config FILE]\n"
      "       anchord --check-config FILE\n"
      "       anchord --print-default-config\n"
      "\n"
      "Without --config, anchord runs on its embedded default configuration (SIP on UDP and TCP\n"
      "127.0.0.1:5060, RTP on 127.0.0.1 ports 30000-39999, positions pos1 and pos2).\n"
      "--check-config validates FILE and exits 0, or 2 with one line per problem.\n",
      out);
}

int ReportConfigErrors(const anchord::core::ConfigErrors& errors) {
  for (const std::string& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
  return kExitConfig;
}

}  // namespace

int main(int argc, char** argv) {
  enum { kConfig = 1, kCheck, kPrintDefault, kHelp };
  static const option kOptions[] = {{"config", required_argument, nullptr, kConfig},
                                    {"check-config", required_argument, nullptr, kCheck},
                                    {"print-default-config", no_argument, nullptr, kPrintDefault},
                                    {"help", no_argument, nullptr, kHelp},
                                    {nullptr, 0, nullptr, 0}};
  std::string config_path;
  for (int opt; (opt = getopt_long(argc, argv, "", kOptions, nullptr)) != -1;) {
    switch (opt) {
      case kConfig:
        config_path = optarg;
        break;
      case kCheck: {
        auto config = anchord::core::LoadConfigFile(optarg);
        return config ? 0 : ReportConfigErrors(config.error());
      }
      case kPrintDefault:
        std::fputs(anchord::core::DefaultConfigText().data(), stdout);
        return 0;
      case kHelp:
        PrintUsage(stdout);
        return 0;
      default:
        PrintUsage(stderr);
        return kExitUsage;
    }
  }
  if (optind < argc) {
    PrintUsage(stderr);
    return kExitUsage;
  }
  auto config = config_path.empty()
                    ? anchord::core::ParseConfig(anchord::core::DefaultConfigText(), "<default>")
                    : anchord::core::LoadConfigFile(config_path);
  if (!config) return ReportConfigErrors(config.error());
  return anchord::app::RunDaemon(*config);
}
