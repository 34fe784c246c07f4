// recv_paths: what draining one leg's RTP socket costs per tick when one datagram is queued
// (the usual case: one 20 ms packet per leg per tick), two ways side by side in one process:
// recvfrom() until EAGAIN (two syscalls) vs recvmmsg() of up to 4 (one syscall; a short batch
// means drained). 400 sockets, 200 rounds, 5 repetitions; quote the medians.
//
//   g++ -O2 -std=c++20 -o /tmp/recv_paths bench/rtp_load/recv_paths.cc && /tmp/recv_paths
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>
double Now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
int main() {
  const int N = 400, R = 200;
  std::vector<int> rx(N);
  std::vector<sockaddr_in> addr(N);
  int tx = socket(AF_INET, SOCK_DGRAM, 0);
  for (int i = 0; i < N; i++) {
    rx[i] = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000001);
    bind(rx[i], (sockaddr*)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(rx[i], (sockaddr*)&a, &l);
    addr[i] = a;
  }
  unsigned char pkt[172] = {0x80};
  auto fill = [&] {
    for (int i = 0; i < N; i++) sendto(tx, pkt, sizeof pkt, 0, (sockaddr*)&addr[i], sizeof addr[i]);
  };
  for (int rep = 0; rep < 5; rep++) {
    double A = 0, B = 0;
    for (int r = 0; r < R; r++) {
      fill();
      double t = Now();
      for (int i = 0; i < N; i++) {
        unsigned char buf[1500];
        for (;;) {
          sockaddr_in f;
          socklen_t fl = sizeof f;
          if (recvfrom(rx[i], buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC, (sockaddr*)&f, &fl) < 0)
            break;
        }
      }
      A += Now() - t;
    }
    for (int r = 0; r < R; r++) {
      fill();
      double t = Now();
      for (int i = 0; i < N; i++) {
        unsigned char bufs[4][1500];
        sockaddr_in f[4];
        iovec iov[4];
        mmsghdr m[4];
        for (;;) {
          for (int k = 0; k < 4; k++) {
            iov[k] = {bufs[k], 1500};
            m[k] = {};
            m[k].msg_hdr.msg_name = &f[k];
            m[k].msg_hdr.msg_namelen = sizeof f[k];
            m[k].msg_hdr.msg_iov = &iov[k];
            m[k].msg_hdr.msg_iovlen = 1;
          }
          int n = recvmmsg(rx[i], m, 4, MSG_DONTWAIT, nullptr);
          if (n < 4) break;
        }
      }
      B += Now() - t;
    }
    printf("us per leg-tick (1 datagram queued): recvfrom until EAGAIN %.2f   recvmmsg(4) %.2f\n",
           A * 1e6 / (N * R), B * 1e6 / (N * R));
  }
}
