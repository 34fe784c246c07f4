// Snapshots of /proc for the server under test and the generator itself, taken at the start and
// end of the measurement window. CPU time comes from schedstat (ns of run time, exact), so a
// 20 s window resolves microseconds per packet; threads are listed so the media worker's own
// time can be told from the signaling thread's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace anchord::bench {

struct ProcSnapshot {
  uint64_t process_cpu_ns = 0;                // sum over the process's threads
  std::map<pid_t, uint64_t> thread_cpu_ns;    // tid → run time
  std::map<pid_t, std::string> thread_names;  // tid → comm
  uint64_t rss_kb = 0;                        // VmRSS
  bool ok = false;                            // the process existed
};

struct UdpErrors {  // /proc/net/snmp, system wide (this is a loopback-only benchmark)
  uint64_t in_errors = 0, rcvbuf_errors = 0, sndbuf_errors = 0;
};

ProcSnapshot SnapshotProcess(pid_t pid);
UdpErrors SnapshotUdp();
// This process's user+system CPU time (getrusage), ns.
uint64_t SelfCpuNs();

}  // namespace anchord::bench
