// RtpStreams: the generator's RTP side. Sends PCMU 20 ms packets for every stream, paced by the
// caller (one phase of the 20 ms period per call), and receives what the server under test
// sends back, counting end-to-end loss per stream.
//
// How loss is seen end to end: every payload carries, in its first 28 bytes, a magic word and
// the sending stream's id, its packet counter and the send time (µs, CLOCK_MONOTONIC, low 32
// bits), each nibble coded as one mu-law byte 0x20..0x2F. A relay (rtpengine) forwards the
// payload as is; anchord delivers a single other party's G.711 bytes bit-exact (DESIGN
// invariant 3; mu-law 0x7F is the only byte that does not survive, and it is never used). So the
// receiver learns which sender's packet it got, whatever port it arrived on: loss = packets a
// stream sent inside the measurement window that never came out of the server. Frames without
// the magic (anchord's silence when a packet was missing at its tick) are counted as fill.
//
// Sockets: `k` per side (side 0 = callers, side 1 = callees/positions); stream s of a side uses
// that side's socket s % k, for sending and as the address its SDP advertises.
//
// Thread: one (the generator's loop). Sending and receiving allocate nothing.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace anchord::bench {

inline constexpr int kPayloadBytes = 160;  // PCMU, 20 ms at 8 kHz
inline constexpr int kPacketBytes = 12 + kPayloadBytes;

struct WindowResults {
  uint64_t sent = 0;            // packets the generator sent inside the window
  uint64_t delivered = 0;       // of those, distinct packets that came back out of the server
  uint64_t lost = 0;            // sent - delivered
  uint64_t duplicates = 0;      // the same (stream, counter) seen twice
  uint64_t received = 0;        // every packet that arrived inside the window (fill included)
  uint64_t fill = 0;            // arrived inside the window without the magic (server's silence)
  uint64_t silent_streams = 0;  // streams with packets sent in the window and none delivered
  uint64_t send_errors = 0;     // sendmmsg shortfalls (whole run)
  double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;  // generator → generator
};

class RtpStreams {
 public:
  RtpStreams() = default;
  ~RtpStreams();
  RtpStreams(const RtpStreams&) = delete;
  RtpStreams& operator=(const RtpStreams&) = delete;

  // Binds 2·k sockets on ip, ports base_port .. base_port + 2k − 1 (side 0 first).
  bool Open(const std::string& ip, uint16_t base_port, int k, int buf_bytes);
  // A new stream on `side` (not sending until SetDestination). Returns its id.
  uint32_t Reserve(int side);
  // The local port stream `id` sends from and receives on (its SDP port).
  uint16_t PortOf(uint32_t id) const;
  // Starts stream `id` toward `dst`.
  void SetDestination(uint32_t id, const sockaddr_in& dst);
  // Stops stream `id` for good (its leg was ended by the server).
  void Stop(uint32_t id);

  // Sends one packet for every active stream with id % phases == phase.
  void SendPhase(int phase, int phases);
  // Reads fd until it would block (recvmmsg batches).
  void Drain(int fd);
  const std::vector<int>& fds() const { return fds_; }
  size_t active_streams() const { return active_; }

  // The measurement window: [BeginWindow, EndWindow). Packets sent in it are tracked up to
  // `max_packets_per_stream` each. Delivery of window packets keeps counting after EndWindow.
  void BeginWindow(uint32_t max_packets_per_stream);
  void EndWindow();
  WindowResults Results() const;

 private:
  struct Stream {
    sockaddr_in dst{};
    int fd_index = -1;
    bool active = false;
    uint16_t seq = 0;
    uint32_t ts = 0, counter = 0;
    uint32_t win_first = 0, win_end = 0;  // window counters [first, end)
    alignas(8) std::array<uint8_t, kPacketBytes> packet{};
  };
  void Fill(uint32_t id, Stream& s, uint64_t now_us);
  void OnPacket(const uint8_t* data, size_t len, uint64_t now_us);
  void Flush(int fd_index);

  std::vector<int> fds_;
  int k_ = 0;
  std::vector<Stream> streams_;
  std::vector<uint32_t> side_count_{0, 0};
  size_t active_ = 0;
  // Per-socket sendmmsg scratch, sized once streams are known (grown only between sends).
  std::vector<std::vector<mmsghdr>> out_msgs_;
  std::vector<std::vector<iovec>> out_iovs_;
  std::vector<size_t> out_len_;
  // Window bookkeeping.
  enum class Window { kBefore, kOpen, kClosed } window_ = Window::kBefore;
  uint64_t win_start_us_ = 0, win_end_us_ = 0;
  uint32_t win_cap_ = 0, words_per_stream_ = 0;
  std::vector<uint64_t> seen_;  // bitmap: streams × win_cap_ bits
  uint64_t duplicates_ = 0, received_ = 0, fill_ = 0, send_errors_ = 0;
  std::vector<uint32_t> latency_hist_;  // 100 µs bins
  // Receive scratch.
  static constexpr int kBatch = 64;
  std::array<std::array<uint8_t, 256>, kBatch> rx_buf_{};
  std::array<iovec, kBatch> rx_iov_{};
  std::array<mmsghdr, kBatch> rx_msg_{};
};

}  // namespace anchord::bench
