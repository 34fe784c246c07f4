// SipPeer: the generator's minimal hand-written SIP over UDP, playing both ends of anchord's
// calls so it knows every RTP port:
//  - callers: INVITE (plain PCMU SDP offer pointing at a generator RTP socket) → 200 → ACK;
//    the INVITE is resent every second until a final response (RFC 3261 Timer A is overkill on
//    loopback). Provisional responses are ignored.
//  - positions: one UDP socket serves every position URI sip:p<N>@ip:port. OPTIONS → 200 (that
//    is what makes anchord mark a position up); INVITE → 200 with an SDP answer pointing at a
//    generator RTP socket (a retransmitted INVITE gets the same 200); BYE/CANCEL → 200; ACK is
//    absorbed.
// Just enough SIP for loopback benchmarking against anchord; not a general UA.
//
// Thread: the generator's loop. Allocation here is fine (control plane, not per RTP packet).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bench/rtp_load/rtp_streams.h"

namespace anchord::bench {

class SipPeer {
 public:
  SipPeer(RtpStreams& rtp, std::string ip) : rtp_(rtp), ip_(std::move(ip)) {}
  ~SipPeer();
  SipPeer(const SipPeer&) = delete;
  SipPeer& operator=(const SipPeer&) = delete;

  // Binds the caller socket on caller_port and the positions' socket on position_port;
  // INVITEs go to `server` (anchord's SIP UDP address).
  bool Open(uint16_t caller_port, uint16_t position_port, const sockaddr_in& server);
  int caller_fd() const { return caller_fd_; }
  int position_fd() const { return position_fd_; }

  // Reads and answers everything queued on fd (one of the two above).
  void OnReadable(int fd);
  // Starts call number `index` (0-based; its Call-ID is rtpl-<index>@ip).
  void Invite(uint32_t index);
  // Resends INVITEs that have had no final response for a second.
  void Retransmit(uint64_t now_us);
  // Sends queued OPTIONS answers, at most one per 50 µs since the last call: anchord probes
  // every position at once, and a burst of hundreds of 200s overflows its SIP socket's
  // receive buffer (measured: 166 of 510 lost), leaving those positions "unknown".
  void FlushPaced(uint64_t now_us);

  // Distinct positions that have received at least one OPTIONS (p<N>, N < limit counted once).
  size_t positions_probed() const { return probed_count_; }
  size_t calls_answered() const { return answered_; }  // 200 received by callers
  // Position legs answered and not ended by a BYE from anchord.
  size_t positions_in_call() const { return pos_calls_.size() - pos_byes_; }
  size_t positions_ended() const { return pos_byes_; }
  size_t calls_failed() const { return failed_; }  // non-2xx final responses
  uint64_t options_answered() const { return options_; }

  struct Message;  // a parsed SIP message (defined in the .cc)

 private:
  struct CallerCall {
    uint32_t stream = 0;
    bool final = false;
    uint64_t last_sent_us = 0;
    std::string invite;
  };
  void OnCallerMessage(const Message& m);
  void OnPositionMessage(const Message& m, const sockaddr_in& from);
  void Reply(const Message& req, const sockaddr_in& to, int code, std::string_view reason,
             const std::string& body);
  std::string SdpFor(uint16_t port) const;
  void SendTo(int fd, const std::string& text, const sockaddr_in& to);

  RtpStreams& rtp_;
  std::string ip_;
  int caller_fd_ = -1, position_fd_ = -1;
  sockaddr_in server_{};
  std::vector<CallerCall> calls_;
  std::deque<std::pair<std::string, sockaddr_in>> paced_;
  uint64_t last_flush_us_ = 0;
  bool pace_ = false;                                    // Reply() queues instead of sending
  std::unordered_map<std::string, uint32_t> pos_calls_;  // Call-ID → position stream
  std::vector<bool> probed_;
  size_t probed_count_ = 0, answered_ = 0, failed_ = 0, pos_byes_ = 0;
  uint64_t options_ = 0;
};

}  // namespace anchord::bench
