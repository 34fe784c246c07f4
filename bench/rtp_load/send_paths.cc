// send_paths: what one RTP packet per socket costs to send on loopback, three ways, side by
// side in one process (the machine is shared and noisy): sendto() on an unconnected socket
// (what RtpLeg does), sendmmsg() of one datagram on it (a per-socket batch of one: a leg sends
// one packet per tick), and send() on a connect()ed socket (no route lookup per packet).
// N sockets each send one 172-byte datagram per round (PCMU + header) to one receiver, which
// is drained outside the timed part. Prints µs per packet per round of 5; quote the medians.
//
//   g++ -O2 -std=c++20 -o /tmp/send_paths bench/rtp_load/send_paths.cc && /tmp/send_paths
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace {

constexpr int kSockets = 400;
constexpr int kRounds = 200;

double Now() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

int main() {
  int rx = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(rx, reinterpret_cast<sockaddr*>(&to), sizeof to);
  socklen_t len = sizeof to;
  getsockname(rx, reinterpret_cast<sockaddr*>(&to), &len);
  int big = 64 << 20;
  setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);  // root; else SO_RCVBUF's cap
  std::vector<int> plain(kSockets), connected(kSockets);
  for (int i = 0; i < kSockets; ++i) {
    plain[i] = socket(AF_INET, SOCK_DGRAM, 0);
    connected[i] = socket(AF_INET, SOCK_DGRAM, 0);
    connect(connected[i], reinterpret_cast<sockaddr*>(&to), sizeof to);
  }
  unsigned char packet[172];
  std::memset(packet, 0x55, sizeof packet);
  auto drain = [rx] {
    char sink[2048];
    while (recv(rx, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
  };
  auto sendto_one = [&](int i) {
    sendto(plain[i], packet, sizeof packet, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to),
           sizeof to);
  };
  auto sendmmsg_one = [&](int i) {
    iovec v{packet, sizeof packet};
    mmsghdr m{};
    m.msg_hdr.msg_name = &to;
    m.msg_hdr.msg_namelen = sizeof to;
    m.msg_hdr.msg_iov = &v;
    m.msg_hdr.msg_iovlen = 1;
    sendmmsg(plain[i], &m, 1, MSG_DONTWAIT);
  };
  auto send_connected = [&](int i) { send(connected[i], packet, sizeof packet, MSG_DONTWAIT); };
  auto time_it = [&](auto&& one) {
    double spent = 0;
    for (int r = 0; r < kRounds; ++r) {
      const double start = Now();
      for (int i = 0; i < kSockets; ++i) one(i);
      spent += Now() - start;
      drain();
    }
    return spent * 1e6 / (kSockets * kRounds);
  };
  for (int round = 0; round < 5; ++round) {
    const double a = time_it(sendto_one);
    const double b = time_it(sendmmsg_one);
    const double c = time_it(send_connected);
    std::printf("us/packet: sendto %.2f  sendmmsg(1) %.2f  connected send %.2f\n", a, b, c);
  }
  return 0;
}
