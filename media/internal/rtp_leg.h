// RtpLeg: one leg's RTP endpoint on its media worker: an oRTP session on sockets bound by the
// signaling thread, with its own payload profile, a small adaptive jitter buffer and a receive
// filter that counts and drops what is not this leg's RTP.
//
// Owning thread: the media worker (oRTP sessions are not thread-safe). Created and destroyed
// on the control path; Pull() and Send() are the data path and allocate nothing themselves
// (oRTP allocates one message block per packet sent; see media/README.md).
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>

#include "media/internal/counters.h"
#include "media/media_plane.h"

struct _RtpSession;
struct _RtpProfile;
struct _RtpTransport;
struct msgb;

namespace anchord::media::internal {

class RtpLeg {
 public:
  // Takes ownership of both sockets (closed with the leg).
  RtpLeg(int rtp_fd, int rtcp_fd, WorkerCounters& counters);
  ~RtpLeg();
  RtpLeg(const RtpLeg&) = delete;
  RtpLeg& operator=(const RtpLeg&) = delete;

  // False (and nothing changes) when remote.address is not a numeric IPv4 address.
  bool SetRemote(const RemoteMedia& remote);
  bool has_remote() const { return has_remote_; }
  Codec codec() const { return codec_; }
  uint32_t ssrc() const;

  // Pulls the packet due at playout time `user_ts` (advance 160 per tick). On success writes
  // exactly `n` payload bytes (a short payload is padded with silence) and returns true.
  bool Pull(uint32_t user_ts, uint8_t* payload, size_t n);
  // Sends one packet with RTP timestamp `ts`; oRTP adds this leg's SSRC and the next sequence.
  void Send(const uint8_t* payload, size_t n, uint32_t ts);
  // True if RTP from this leg arrived since the last call.
  bool TakeArrivals();

 private:
  static int EndpointRecv(_RtpTransport* t, msgb* msg, int flags, sockaddr* from,
                          socklen_t* fromlen);
  static int EndpointSend(_RtpTransport* t, msgb* msg, int flags, const sockaddr* to,
                          socklen_t tolen);
  static int RtcpRecv(_RtpTransport* t, msgb* msg, int flags, sockaddr* from, socklen_t* fromlen);
  static int RtcpSend(_RtpTransport* t, msgb* msg, int flags, const sockaddr* to, socklen_t tolen);
  static int SendTo(int fd, msgb* msg, const sockaddr_in& to);
  // True if the datagram is RTP version 2 with the negotiated payload type.
  bool Acceptable(const uint8_t* data, size_t len) const;
  void NoteSource(const sockaddr* from, socklen_t fromlen);

  _RtpSession* session_ = nullptr;
  _RtpProfile* profile_ = nullptr;
  int rtp_fd_;
  int rtcp_fd_;
  WorkerCounters& counters_;
  bool has_remote_ = false;
  Codec codec_ = Codec::kPcmu;
  int payload_type_ = -1;
  sockaddr_in remote_{};
  bool arrived_ = false;
};

}  // namespace anchord::media::internal
