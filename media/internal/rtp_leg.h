// RtpLeg: one leg's RTP/RTCP endpoint on its media worker. Both directions are ours: oRTP,
// measured and removed (media/README.md "Send" has the figures).
//
// Receive. With the worker's UringRing (uring_ring.h) a multishot receive stays armed on the
// RTP socket and the ring hands the tick's datagrams over at the tick's start
// (OnRingDatagram); Receive() then only reports them. Without a ring, or when the kernel
// refuses multishot, Receive() drains the socket with recvmmsg() (kRecvBatch datagrams per
// call; a short batch means drained, so the common tick costs one syscall). Either way at most
// kMaxReadsPerTick datagrams per tick are routed (the ring's surplus is counted rtp_garbage),
// and what is not RTP v2 of the negotiated audio or telephone-event payload type is counted and
// dropped (rtp_garbage); audio goes into the leg's JitterBuffer (bounded, adaptive),
// telephone-events into the TelephoneEventReceiver.
//
// Send. The 12-byte header (+ CSRC list, R3550-7.3) is written into a per-leg buffer next to
// the payload and queued on the ring as one sendmsg to the current address (the worker
// submits the whole tick's sends at once; rtp_sent/send_errors are counted when the
// completion is read, at the next tick's start); without a ring, or with its queue full, one
// sendto(). SSRC and the first sequence
// number are random per leg (getrandom); the SSRC never changes for the leg's life and the
// sequence is +1 per packet sent, across Disconnect/Connect and DTMF events (DESIGN
// invariant 2). Timestamps are the caller's.
//
// RTCP (RFC 3550 6, rtcp_report.h). Receive() sends a compound SR (RTP sent since the last
// report) or RR, plus SDES CNAME, every kRtcpIntervalUs randomised to 0.5-1.5x (6.2), to the
// current address's port + 1, with one report block about the incoming stream: fraction and
// cumulative lost and extended highest sequence from the leg's sequence numbers (A.3),
// jitter from the jitter buffer's estimator, LSR/DLSR from the peer's last SR.
// ReceiveRtcp() reads the peer's reports: LSR/arrival of its SR (kernel timestamps), its
// blocks about our SSRC (fraction lost for Opus FEC, cumulative lost, jitter, RTT).
//
// Latching (where we send). We send to the SDP address. A packet from another source (NAT,
// SBC) is counted (rtp_foreign_source) and not played. The leg latches onto a new source only
// when kLatchPackets consecutive packets came from it with consecutive sequence numbers and the
// current SSRC (any SSRC once the current source has been silent for kLatchAnySsrcUs), while
// the current source has been silent for kLatchQuietUs: a single spoofed packet, or a stream
// racing the real peer, moves nothing. An SSRC change from the current source is accepted at
// once (the jitter buffer restarts).
//
// Re-point (R3264-8). SetRemote() with a new address sends there at once, and media from the
// previous source is still accepted (played, not counted foreign) until the first valid packet
// from the new address arrives; from then on only the new one.
//
// Owning thread: the media worker. Created and destroyed on the control path; Receive(),
// Send*(), SetContributors() and ReceiveRtcp() are the data path: no allocation, lock, log
// or exception.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "media/internal/counters.h"
#include "media/internal/jitter_buffer.h"
#include "media/internal/rtcp_report.h"
#include "media/internal/telephone_event.h"
#include "media/media_plane.h"

namespace anchord::media::internal {

class UringRing;

// What the peer's RTCP said about our stream (its blocks about our SSRC).
struct RtcpPeerStats {
  int64_t rtt_us = -1;            // last RTT from LSR/DLSR; -1 = none yet
  int fraction_lost = -1;         // last fraction lost, 0..255 (1/256); -1 = none yet
  int32_t cumulative_lost = 0;    // packets, as the peer counts them
  uint32_t jitter_us = 0;         // the peer's interarrival jitter of our stream
  uint64_t reports_received = 0;  // compound packets that parsed as RTCP
  uint64_t reports_sent = 0;
};

class RtpLeg {
 public:
  static constexpr uint32_t kLatchPackets = 5;
  static constexpr uint64_t kLatchQuietUs = 200'000;
  static constexpr uint64_t kLatchAnySsrcUs = 2'000'000;
  static constexpr size_t kMaxDatagram = 1500;
  static constexpr int kMaxReadsPerTick = 64;  // a flood cannot hold the worker on one leg
  static constexpr unsigned kRecvBatch = 4;    // datagrams per recvmmsg()
  static constexpr size_t kMaxCsrc = 15;       // the CC field's 4 bits
  static constexpr size_t kRtpHeaderSize = 12;
  static constexpr size_t kMaxPayload = 1276;  // codec::kMaxPayloadBytes (Opus)
  static constexpr uint64_t kRtcpIntervalUs = 5'000'000;

  // Takes ownership of both sockets (closed with the leg). `ring`: the worker's io_uring for
  // sends and receives (nullptr: sendto/recvmmsg); it must outlive the leg.
  RtpLeg(int rtp_fd, int rtcp_fd, WorkerCounters& counters, JitterOptions jitter = {},
         UringRing* ring = nullptr);
  ~RtpLeg();
  RtpLeg(const RtpLeg&) = delete;
  RtpLeg& operator=(const RtpLeg&) = delete;

  // False (and nothing changes) when remote.address is not a numeric IPv4 address or a
  // payload type is over 127. A new address is sent to at once; the previous source stays
  // acceptable until the new one is heard (R3264-8), and any latch ends.
  bool SetRemote(const RemoteMedia& remote);
  bool has_remote() const { return has_remote_; }
  // RemoteMedia::send of the last SetRemote: false while the peer holds (sendonly/inactive).
  bool sending() const { return sending_; }
  Codec codec() const { return codec_; }
  uint8_t telephone_event_pt() const { return te_pt_; }
  uint32_t ssrc() const { return ssrc_; }
  // RTP timestamp units per 20 ms for this leg's codec (160, or 960 for Opus).
  uint32_t ts_step() const { return ts_step_; }
  bool latched() const { return latched_; }
  // The SSRC of the stream this leg receives (what a mix names in its CSRC list).
  bool has_incoming_ssrc() const { return have_ssrc_; }
  uint32_t incoming_ssrc() const { return ssrc_in_; }

  // Data path, once per tick: drains the RTP socket, and sends the RTCP report when due.
  // Returns true if valid RTP of this leg (audio or telephone-event, from an accepted
  // source) arrived.
  bool Receive(uint64_t now_us);
  // Drains the RTCP socket (call about once a second). Returns the highest fraction lost the
  // peer reported about our SSRC since the last call, in percent, or -1 if none.
  int ReceiveRtcp();
  const RtcpPeerStats& rtcp_stats() const { return peer_; }
  // Tests: the nominal report interval (randomised 0.5-1.5x); takes effect after the next report.
  void set_rtcp_interval_us(uint64_t us) { rtcp_interval_us_ = us; }

  JitterBuffer& jitter() { return jitter_; }
  const JitterBuffer& jitter() const { return jitter_; }
  TelephoneEventReceiver& events_in() { return events_in_; }

  // The SSRCs mixed into the next packets (R3550-7.3): at most kMaxCsrc are kept; n = 0 for
  // none (a tone alone, silence). Stays until changed.
  void SetContributors(const uint32_t* ssrcs, size_t n);
  // Sends one audio packet with RTP timestamp `ts` (n <= kMaxPayload).
  void Send(const uint8_t* payload, size_t n, uint32_t ts);
  // Sends one telephone-event packet (4-byte payload) on the same SSRC and sequence.
  void SendEvent(const uint8_t* payload, uint32_t ts, bool marker);
  // Whether the ring receives for this leg (a multishot receive is armed or queued).
  bool ring_receives() const { return ring_recv_; }

 private:
  friend class UringRing;
  // UringRing: the completion of the queued send (bytes, or -errno).
  void OnSendComplete(int res);
  // UringRing: one datagram of this tick (data == nullptr: truncated or not IPv4).
  void OnRingDatagram(const uint8_t* data, size_t len, const sockaddr_in& from, uint64_t now_us);
  void ReceiveSyscalls(uint64_t now_us);
  void CountSent(size_t payload, uint32_t ts, uint64_t at_us);
  void SendPacket(uint8_t pt, bool marker, const uint8_t* payload, size_t n, uint32_t ts);
  // Routes one datagram; returns true if it was this leg's RTP from an accepted source.
  bool OnDatagram(const uint8_t* data, size_t len, const sockaddr_in& from, uint64_t now_us);
  // Whether `from` may play: the current source, or the previous one during a re-point.
  bool Accepted(const sockaddr_in& from);
  // Latching candidacy of a packet from another source; true if the leg latched onto it.
  bool ConsiderLatch(const sockaddr_in& from, uint32_t ssrc, uint16_t seq, uint64_t now_us);
  void MaybeSendReport(uint64_t now_us);
  void SendReport(uint64_t now_us);
  uint64_t NextReportDelay();

  int rtp_fd_;
  int rtcp_fd_;
  WorkerCounters& counters_;
  UringRing* ring_;
  // Ring state (UringRing reads and writes these).
  bool ring_recv_ = false;       // a multishot receive is armed or queued
  bool ring_detaching_ = false;  // the leg is going: its datagrams are dropped
  int ring_group_ = -1;          // its provided-buffer group
  int ring_file_ = -2;           // its registered-file slot; -1 none, -2 not tried yet
  bool send_queued_ = false;     // packet_/send_msg_ belong to the kernel until the completion
  int ring_reads_ = 0;           // datagrams routed this tick
  bool ring_arrived_ = false;    // valid RTP among them
  size_t queued_payload_ = 0;    // the queued packet's payload bytes and timestamp
  uint32_t queued_ts_ = 0;
  uint64_t queued_us_ = 0;
  sockaddr_in send_to_{};
  iovec send_iov_{};
  msghdr send_msg_{};
  bool has_remote_ = false;
  bool sending_ = true;
  Codec codec_ = Codec::kPcmu;
  int payload_type_ = -1;
  uint8_t te_pt_ = 0;
  uint32_t ts_step_ = 160;
  sockaddr_in remote_{};    // the SDP address
  sockaddr_in current_{};   // where we send: the SDP address, or the latched source
  sockaddr_in previous_{};  // the source before a re-point, accepted until current_ is heard
  bool previous_ok_ = false;
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
  ReceptionStats reception_;

  // Our stream.
  uint32_t ssrc_ = 0;
  uint16_t seq_ = 0;
  uint32_t rand_state_ = 0;  // report interval randomisation (not security relevant)
  uint64_t now_us_ = 0;      // the current tick's time (Receive), for the SR's timestamp
  uint32_t packets_sent_ = 0;
  uint32_t octets_sent_ = 0;
  bool sent_since_report_ = false;
  uint32_t last_sent_ts_ = 0;
  uint64_t last_sent_us_ = 0;
  // RTCP state.
  uint64_t rtcp_interval_us_ = kRtcpIntervalUs;
  uint64_t next_report_us_ = 0;  // 0 = not scheduled yet
  uint32_t peer_lsr_ = 0;        // middle 32 bits of the peer's last SR, 0 = none
  uint64_t peer_sr_arrival_ntp_ = 0;
  RtcpPeerStats peer_;
  size_t n_csrc_ = 0;
  uint32_t csrc_[kMaxCsrc] = {};  // kept apart: packet_ may be in flight when they change
  uint8_t packet_[kRtpHeaderSize + 4 * kMaxCsrc + kMaxPayload];
};

}  // namespace anchord::media::internal
