// HalfBandDecimator: 16 kHz -> 8 kHz for the TTY decoder of a wideband leg (G.722, Opus in a
// 16 kHz bridge), so such a caller's Baudot is decoded too.
//
// Algorithm: a 23-tap half-band FIR low-pass (windowed sinc, Kaiser beta 6, Q15; every other
// tap but the centre is zero), evaluated only at the kept output samples: 6 symmetric pairs
// and the centre per output sample. Passband flat within 0.02 dB to 2.5 kHz (TTY's 1400/1800
// Hz and the FSK filters' skirts); at least 60 dB down from 5.5 to 8 kHz, the band that would
// fold onto 0-2.5 kHz. Not a general resampler (3-4 kHz is attenuated, aliases from 4-5.5 kHz
// land above 2.5 kHz where TTY does not look): it costs a fraction of speexdsp's quality-5
// resampler (bench/RESULTS.md "TTY decoder"), which would otherwise run on every wideband
// leg on every tick whether or not it ever carries TTY. Delay: 11 input samples (0.7 ms).
//
// Thread: one owner. No allocation; state carries across calls, so frames join seamlessly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace anchord::media::tty::internal {

class HalfBandDecimator {
 public:
  static constexpr size_t kTaps = 23;
  static constexpr size_t kMaxInput = 320;  // one 20 ms frame at 16 kHz

  // `in`: an even number of samples, at most kMaxInput; `out`: in.size() / 2 samples.
  void Process(std::span<const int16_t> in, std::span<int16_t> out);
  void Reset() { history_.fill(0); }

 private:
  std::array<int16_t, kTaps - 1> history_{};  // the last kTaps - 1 input samples
};

}  // namespace anchord::media::tty::internal
