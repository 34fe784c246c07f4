// RTCP for one leg, ours (RFC 3550 section 6 and appendix A): the reception statistics of the
// leg's incoming stream, the compound report we send (SR when we sent RTP since the last
// report, else RR; one report block about the incoming stream; SDES CNAME), and the parse of
// the peer's reports (its SR for LSR/DLSR, its blocks about our SSRC: fraction lost,
// cumulative lost, jitter, and the round-trip time A - LSR - DLSR of RFC 3550 6.4.1).
//
// Units: NTP "short" values (LSR, DLSR, RTT) are 1/65536 s, as on the wire; jitter in the
// report block is in RTP timestamp units. All functions are pure or touch only the objects
// passed; they allocate nothing (the data path calls them once per report interval).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace anchord::media::internal {

// RFC 3550 A.1/A.3: extended highest sequence, expected vs received, fraction lost over the
// interval since the previous block. No probation: the first packet after Reset() is the base.
class ReceptionStats {
 public:
  void Reset() { *this = ReceptionStats{}; }
  void OnPacket(uint16_t seq);
  bool active() const { return received_ > 0; }
  uint32_t extended_max() const { return cycles_ + max_seq_; }
  // Signed, clamped to the 24-bit field of a report block.
  int32_t cumulative_lost() const;
  // Fraction lost since the previous call (0..255, in 1/256); starts a new interval.
  uint8_t TakeFractionLost();

 private:
  uint32_t cycles_ = 0;  // wraps counted in the upper 16 bits
  uint16_t base_seq_ = 0;
  uint16_t max_seq_ = 0;
  uint64_t received_ = 0;
  uint64_t expected_prior_ = 0;
  uint64_t received_prior_ = 0;
};

// What goes into our compound report.
struct ReportInput {
  uint32_t ssrc = 0;
  bool sender = false;  // SR (sent RTP since the last report) or RR
  uint64_t ntp = 0;     // 64-bit NTP timestamp of now (SR)
  uint32_t rtp_ts = 0;  // RTP timestamp matching `ntp` (SR)
  uint32_t packets_sent = 0;
  uint32_t octets_sent = 0;
  bool block = false;  // one report block about `source`
  uint32_t source = 0;
  uint8_t fraction_lost = 0;
  int32_t cumulative_lost = 0;
  uint32_t extended_max = 0;
  uint32_t jitter = 0;  // RTP timestamp units
  uint32_t lsr = 0;     // middle 32 bits of the source's last SR, 0 = none
  uint32_t dlsr = 0;    // 1/65536 s since that SR
  std::string_view cname;
};

inline constexpr size_t kMaxRtcpReport = 28 + 24 + 8 + 2 + 255 + 4;

// Writes the compound SR/RR + SDES into `out` (kMaxRtcpReport bytes); returns its length.
size_t BuildReport(const ReportInput& in, uint8_t* out);

// What one incoming compound packet told us.
struct PeerReport {
  bool sr = false;          // the peer sent an SR
  uint32_t sr_ntp_mid = 0;  // its NTP timestamp, middle 32 bits (our next LSR)
  int fraction_lost = -1;   // highest of its blocks about `our_ssrc`, 0..255; -1 = none
  int32_t cumulative_lost = 0;
  uint32_t jitter = 0;     // RTP timestamp units
  int64_t rtt_short = -1;  // 1/65536 s; -1 = no block with an LSR
};

// Parses a compound RTCP packet received at NTP time `arrival_ntp`. Malformed parts end the
// walk (what was read before counts). Returns false if nothing parsed as RTCP v2.
bool ParseRtcp(const uint8_t* data, size_t len, uint32_t our_ssrc, uint64_t arrival_ntp,
               PeerReport* out);

// NTP timestamp (RFC 5905: seconds since 1900 in the upper 32 bits) of CLOCK_REALTIME.
uint64_t NtpNow();
uint64_t NtpFromRealtime(int64_t sec, int64_t nsec);
inline uint32_t NtpMiddle(uint64_t ntp) { return static_cast<uint32_t>(ntp >> 16); }

// One CNAME per process (RFC 3550 6.5.1 "user@host"): "anchord@<hostname>". The first call
// builds it (control path); later calls return the same view.
std::string_view ProcessCname();

}  // namespace anchord::media::internal
