// TtyDecoder: real-time Baudot TTY (TDD) decoding of a caller's audio, one character at a time
// (ADA-35.162 direct access; TTY-media-b: detect TTY and convert it to text).
//
// TTY reaches the PSAP as Baudot FSK in G.711 audio (TIA-825-A / V.18 Annex A): mark 1400 Hz,
// space 1800 Hz, 1 start bit, 5 data bits, 1.5-2 stop bits, at 45.45 bit/s (US) or 50 bit/s.
// The decoder runs spandsp's FSK receiver at both rates side by side in 5N1 framing (spandsp's
// v18_rx would buffer whole lines until the carrier drops), and admits a character only while
// an independent tone gate (internal/tone_gate.h) hears a TTY carrier: speech, tones, noise
// and silence produce none. The rate locks per carrier burst on the first character that the
// other rate cannot produce (a receiver at the wrong rate frames only codes 0x1C-0x1F, because
// its sampling points slide across bits 3-5), so a burst's leading M, X, V, '.', '/', ';' wait
// (at most 8) until the lock or the end of the burst. LTRS/FIGS shifts are applied and not
// delivered; CR ('\r') and LF ('\n') are delivered as such, Baudot blank (code 0) as '\b'.
//
// Latency: a character is available at the centre of its stop bit plus 8 ms (the demodulator's
// correlation window), about 150 ms after its start bit at 45.45 bit/s: 7-8 frames.
//
// Thread: one owner, the media worker of the caller's leg. Create() and the destructor are
// control plane (they allocate); Process(), ReadChars() and the accessors allocate nothing,
// lock nothing, log nothing and throw nothing. Not copyable or movable (spandsp holds `this`).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/result.h"
#include "media/tty/internal/half_band_decimator.h"
#include "media/tty/internal/tone_gate.h"

struct fsk_rx_state_s;
struct v18_state_s;

namespace anchord::media::tty {

// Bit rate of a Baudot TTY.
enum class TtyBaud : uint8_t { kUnknown, k45, k50 };  // k45 = 45.45 bit/s

// "45.45", "50" or "unknown": for log fields.
const char* TtyBaudName(TtyBaud baud);

// Monotonic counts since Create(); read by the owner (copy them out for a summary).
struct TtyCounters {
  uint64_t chars = 0;             // characters put into the ring (shifts excluded)
  uint64_t codes_rejected = 0;    // codes framed while the tone gate heard no TTY (noise, speech)
  uint64_t codes_other_rate = 0;  // codes from the receiver at the rate that did not lock
  uint64_t chars_overflowed = 0;  // characters dropped because the ring was full
  uint64_t carrier_ups = 0;       // TTY carrier bursts heard
};

class TtyDecoder {
 public:
  // Characters held between two ReadChars(); at most one character per 150 ms arrives, so a
  // worker draining every tick never comes near it.
  static constexpr size_t kRingSize = 64;
  // Characters a burst may hold while its rate is not yet known.
  static constexpr size_t kMaxPending = 8;

  // Allocates both receivers (about 5 KB with spandsp's state). Fails only if spandsp does.
  static Result<std::unique_ptr<TtyDecoder>> Create();
  ~TtyDecoder();
  TtyDecoder(const TtyDecoder&) = delete;
  TtyDecoder& operator=(const TtyDecoder&) = delete;

  // Feeds 8 kHz 16-bit linear PCM, any length (normally the leg's decoded 160-sample frame, on
  // the tick). A lost frame should be fed as silence (160 zeros): timing stays on the grid.
  void Process(std::span<const int16_t> pcm);
  // Feeds 16 kHz PCM (a wideband leg's decoded frame; an even number of samples): decimated
  // to 8 kHz (internal/half_band_decimator.h, state kept across calls), then as Process().
  void ProcessWideband(std::span<const int16_t> pcm);

  // Moves up to out.size() decoded characters, oldest first, into `out`; returns how many.
  size_t ReadChars(std::span<char> out);

  // True while a TTY carrier is heard. Measured: rises 5 ms into the tones after silence,
  // 25-30 ms for 0.3x TTY in -35 dBm0 noise; falls 160 ms after clean tones stop (the gate's
  // window). For logs: a change is worth one event.
  bool carrier() const { return gate_.carrier(); }
  // The rate of the current burst, or of the last one that locked; kUnknown before any.
  TtyBaud baud() const { return locked_ != TtyBaud::kUnknown ? locked_ : last_locked_; }
  const TtyCounters& counters() const { return counters_; }

 private:
  struct Receiver {
    TtyDecoder* owner = nullptr;
    TtyBaud baud = TtyBaud::kUnknown;
    fsk_rx_state_s* fsk = nullptr;
    std::array<uint8_t, kMaxPending> pending{};
    size_t pending_count = 0;
  };

  TtyDecoder() = default;
  static void OnBits(void* user, int bits);
  void OnCode(Receiver& rx, uint8_t code);
  void OnCarrierDown();
  void Demodulate(const int16_t* pcm, size_t n);
  void Remember(const int16_t* pcm, size_t n);
  void ReplayHistory();
  void Lock(Receiver& rx);
  void Deliver(uint8_t code);

  internal::TtyToneGate gate_;
  internal::HalfBandDecimator decimator_;  // ProcessWideband only
  std::array<Receiver, 2> receivers_;
  v18_state_s* shift_ = nullptr;  // only its Baudot LTRS/FIGS state is used
  TtyBaud locked_ = TtyBaud::kUnknown;
  TtyBaud last_locked_ = TtyBaud::kUnknown;
  std::array<char, kRingSize> ring_{};
  size_t ring_head_ = 0;  // next to read
  size_t ring_size_ = 0;
  TtyCounters counters_;
  // The demodulators run only while the gate hears a carrier (they are most of a leg's tick
  // cost, bench/RESULTS.md). Until then the last 200 ms of input are kept and replayed into
  // them when the carrier rises, so the first character's start bit is not lost.
  static constexpr size_t kHistorySamples = 1600;
  std::array<int16_t, kHistorySamples> history_{};
  size_t history_end_ = 0;  // next write position
  size_t history_len_ = 0;
};

}  // namespace anchord::media::tty
