#include "bench/rtp_load/proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace anchord::bench {
namespace {

uint64_t ReadSchedstatNs(const std::string& dir) {
  std::ifstream f(dir + "/schedstat");
  uint64_t ns = 0;
  f >> ns;
  return ns;
}

std::string ReadComm(const std::string& dir) {
  std::ifstream f(dir + "/comm");
  std::string s;
  std::getline(f, s);
  return s;
}

}  // namespace

ProcSnapshot SnapshotProcess(pid_t pid) {
  ProcSnapshot s;
  std::string base = "/proc/" + std::to_string(pid);
  DIR* d = opendir((base + "/task").c_str());
  if (!d) return s;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
    std::string dir = base + "/task/" + e->d_name;
    uint64_t ns = ReadSchedstatNs(dir);
    s.thread_cpu_ns[tid] = ns;
    s.thread_names[tid] = ReadComm(dir);
    s.process_cpu_ns += ns;
  }
  closedir(d);
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) std::istringstream(line.substr(6)) >> s.rss_kb;
  }
  s.ok = true;
  return s;
}

UdpErrors SnapshotUdp() {
  std::ifstream f("/proc/net/snmp");
  std::string names, values;
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("Udp:", 0) != 0) continue;
    if (names.empty()) {
      names = line;
    } else {
      values = line;
      break;
    }
  }
  std::istringstream n(names), v(values);
  UdpErrors u;
  for (std::string name, value; n >> name && v >> value;) {
    if (name == "InErrors") u.in_errors = std::stoull(value);
    if (name == "RcvbufErrors") u.rcvbuf_errors = std::stoull(value);
    if (name == "SndbufErrors") u.sndbuf_errors = std::stoull(value);
  }
  return u;
}

uint64_t SelfCpuNs() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000u +
           static_cast<uint64_t>(t.tv_usec) * 1000u;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

}  // namespace anchord::bench
