// RtpLeg: one leg's RTP endpoint on its media worker.
//
// Receive is ours, send is oRTP's. Every tick Receive() drains the leg's RTP socket with plain
// recvfrom() into a stack buffer: what is not RTP v2 of the negotiated audio or telephone-event
// payload type is counted and dropped (rtp_garbage); audio goes into the leg's JitterBuffer
// (bounded, adaptive), telephone-events into the TelephoneEventReceiver. oRTP's own receive
// path is not used: it took a 64 KiB block per packet from a linearly scanned pool (53 % of
// the worker under load, bench/RESULTS.md) and its adaptive buffer grew past 1 s on a late
// worker. oRTP still builds and sends our packets (SSRC, sequence) and the RTCP SRs.
//
// Latching (where we send). We send to the SDP address. A packet from another source (NAT,
// SBC) is counted (rtp_foreign_source) and not played. The leg latches onto a new source only
// when kLatchPackets consecutive packets came from it with consecutive sequence numbers and the
// current SSRC (any SSRC once the current source has been silent for kLatchAnySsrcUs), while
// the current source has been silent for kLatchQuietUs: a single spoofed packet, or a stream
// racing the real peer, moves nothing. An SSRC change from the current source is accepted at
// once (the jitter buffer restarts).
//
// Owning thread: the media worker (oRTP sessions are not thread-safe). Created and destroyed
// on the control path; Receive(), Send*() are the data path and allocate nothing themselves
// (oRTP allocates one message block per packet sent; see media/README.md).
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>

#include "media/internal/counters.h"
#include "media/internal/jitter_buffer.h"
#include "media/internal/telephone_event.h"
#include "media/media_plane.h"

struct _RtpSession;
struct _RtpProfile;
struct _RtpTransport;
struct msgb;

namespace anchord::media::internal {

class RtpLeg {
 public:
  static constexpr uint32_t kLatchPackets = 5;
  static constexpr uint64_t kLatchQuietUs = 200'000;
  static constexpr uint64_t kLatchAnySsrcUs = 2'000'000;
  static constexpr size_t kMaxDatagram = 1500;
  static constexpr int kMaxReadsPerTick = 64;  // a flood cannot hold the worker on one leg

  // Takes ownership of both sockets (closed with the leg).
  RtpLeg(int rtp_fd, int rtcp_fd, WorkerCounters& counters, JitterOptions jitter = {});
  ~RtpLeg();
  RtpLeg(const RtpLeg&) = delete;
  RtpLeg& operator=(const RtpLeg&) = delete;

  // False (and nothing changes) when remote.address is not a numeric IPv4 address or a
  // payload type is over 127. A new address ends any latch.
  bool SetRemote(const RemoteMedia& remote);
  bool has_remote() const { return has_remote_; }
  Codec codec() const { return codec_; }
  uint8_t telephone_event_pt() const { return te_pt_; }
  uint32_t ssrc() const;
  // RTP timestamp units per 20 ms for this leg's codec (160, or 960 for Opus).
  uint32_t ts_step() const { return ts_step_; }
  bool latched() const { return latched_; }

  // Data path, once per tick: drains the RTP socket. Returns true if valid RTP of this leg
  // (audio or telephone-event, from the current source) arrived.
  bool Receive(uint64_t now_us);
  // Drains the RTCP socket (call about once a second). Returns the highest fraction lost the
  // peer reported in an SR/RR block since the last call, in percent, or -1 if none.
  int ReceiveRtcp();

  JitterBuffer& jitter() { return jitter_; }
  const JitterBuffer& jitter() const { return jitter_; }
  TelephoneEventReceiver& events_in() { return events_in_; }

  // Sends one audio packet with RTP timestamp `ts`; oRTP adds the SSRC and next sequence.
  void Send(const uint8_t* payload, size_t n, uint32_t ts);
  // Sends one telephone-event packet (4-byte payload) on the same SSRC and sequence.
  void SendEvent(const uint8_t* payload, uint32_t ts, bool marker);

 private:
  static int EndpointRecv(_RtpTransport* t, msgb* msg, int flags, sockaddr* from,
                          socklen_t* fromlen);
  static int EndpointSend(_RtpTransport* t, msgb* msg, int flags, const sockaddr* to,
                          socklen_t tolen);
  static int RtcpRecv(_RtpTransport* t, msgb* msg, int flags, sockaddr* from, socklen_t* fromlen);
  static int RtcpSend(_RtpTransport* t, msgb* msg, int flags, const sockaddr* to, socklen_t tolen);
  static int SendTo(int fd, msgb* msg, const sockaddr_in& to);
  void SendMessage(msgb* m, uint32_t ts);
  // Routes one datagram; returns true if it was this leg's RTP from the current source.
  bool OnDatagram(const uint8_t* data, size_t len, const sockaddr_in& from, uint64_t now_us);
  bool FromCurrent(const sockaddr_in& from) const;
  // Latching candidacy of a packet from another source; true if the leg latched onto it.
  bool ConsiderLatch(const sockaddr_in& from, uint32_t ssrc, uint16_t seq, uint64_t now_us);

  _RtpSession* session_ = nullptr;
  _RtpProfile* profile_ = nullptr;
  int rtp_fd_;
  int rtcp_fd_;
  WorkerCounters& counters_;
  bool has_remote_ = false;
  Codec codec_ = Codec::kPcmu;
  int payload_type_ = -1;
  uint8_t te_pt_ = 0;
  uint32_t ts_step_ = 160;
  sockaddr_in remote_{};   // the SDP address
  sockaddr_in current_{};  // where we send: the SDP address, or the latched source
  bool latched_ = false;
  // The stream from the current source.
  bool have_ssrc_ = false;
  uint32_t ssrc_in_ = 0;
  uint64_t last_current_us_ = 0;  // last packet from the current source (0 = never)
  struct Candidate {
    sockaddr_in from{};
    uint32_t ssrc = 0;
    uint16_t seq = 0;
    uint32_t count = 0;
  } candidate_;
  JitterBuffer jitter_;
  TelephoneEventReceiver events_in_;
};

}  // namespace anchord::media::internal
