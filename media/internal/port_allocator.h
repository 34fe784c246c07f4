// PortAllocator: binds RTP/RTCP socket pairs (even port, odd port + 1) on the media address.
//
// Owning thread: the signaling thread (CreateLeg must return the port at once so the SDP can
// be written). It walks the range from a rotating cursor, so a pair freed by a call that just
// ended is not handed out again at once (late packets of the old call would land in the new).
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace anchord::media::internal {

struct SocketPair {
  int rtp_fd = -1;
  int rtcp_fd = -1;
  uint16_t rtp_port = 0;
};

class PortAllocator {
 public:
  PortAllocator(std::string address, uint16_t port_min, uint16_t port_max);

  // Checks the address and the range; call once before Allocate().
  Status Validate() const;
  // Binds the next free pair; skips ports in use (EADDRINUSE). Fails when none is free.
  Result<SocketPair> Allocate();

 private:
  std::string address_;
  uint16_t first_;  // first even port in range
  uint32_t pairs_;  // number of (even, odd) pairs in range
  uint32_t cursor_ = 0;
};

}  // namespace anchord::media::internal
