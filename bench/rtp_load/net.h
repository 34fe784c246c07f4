// Small UDP/IPv4 helpers shared by the load generator's SIP peer, ng client and RTP streams.
// Everything here is for 127.0.0.0/8 benchmarking: numeric IPv4 only, no name resolution.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace anchord::bench {

// CLOCK_MONOTONIC in microseconds (the same time base as anchord's log timestamps ÷ 1000).
uint64_t NowUs();

// Binds a non-blocking UDP socket on ip:port (port 0 = any) with SO_RCVBUF/SO_SNDBUF forced to
// `buf_bytes` (root: SO_*BUFFORCE). Returns the fd, or -1 with a message on stderr.
int BindUdp(const std::string& ip, uint16_t port, int buf_bytes);

// Numeric IPv4 + port. Returns false if `ip` is not numeric IPv4.
bool MakeAddr(const std::string& ip, uint16_t port, sockaddr_in* out);

// Local port of a bound socket (0 on error).
uint16_t LocalPort(int fd);

// "ip:port" → parts; false when malformed.
bool SplitHostPort(std::string_view s, std::string* ip, uint16_t* port);

}  // namespace anchord::bench
