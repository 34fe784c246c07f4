// TtyToneGate: says whether the audio is a Baudot TTY carrier (1400 Hz mark / 1800 Hz space),
// independently of the FSK demodulator, so that speech, tones and noise produce no characters.
//
// Algorithm: the stream is cut into 40-sample sub-blocks (5 ms) on its own grid, whatever the
// caller's chunking. For each sub-block a Goertzel filter gives the energy at 1400 Hz and at
// 1800 Hz (bins 7 and 9 of a 40-point DFT: exact, and orthogonal to each other), normalised so
// that a pure tone filling the sub-block scores its full energy; the total energy is the sum of
// squares. Over the last 32 sub-blocks (160 ms, about one character) the gate computes
//   ratio = sum(band energy) / sum(total energy),   level = sum(total energy) / 1280 samples.
// A TTY signal is one of the two tones at any moment, so the ratio is near 1; a sub-block that
// straddles a bit transition loses about half its band energy, which 5 ms sub-blocks keep rare
// (bits are 20 or 22 ms). Measured (160 ms window, G.711): TTY >= 0.93 clean, >= 0.86 at 0.3x
// with -35 dBm0 white noise; white noise 0.1; a 1 kHz tone 0; a synthetic voice whose formants
// sweep through 1400/1800 Hz peaks at 0.63. The carrier turns on at ratio > 0.7 with a level
// above -45 dBm0, and off below 0.55 or below that level (hysteresis; the off edge comes at
// most 160 ms after the tones stop).
//
// Thread: one owner (the media worker of the leg). No allocation, no locks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace anchord::media::tty::internal {

class TtyToneGate {
 public:
  static constexpr size_t kSubBlock = 40;  // samples (5 ms at 8 kHz)
  static constexpr size_t kWindow = 32;    // sub-blocks (160 ms)
  static constexpr float kOnRatio = 0.70f;
  static constexpr float kOffRatio = 0.55f;
  // Mean power (linear units^2) of a -45 dBm0 sine: (22786 * 10^(-45/20))^2 / 2.
  static constexpr float kMinPower = 8200.0f;

  // Feeds `n` samples of 8 kHz linear PCM (any n, including 0).
  void Process(const int16_t* pcm, size_t n);

  // A frame of kFrameBlocks whole sub-blocks at a sub-block boundary (fill() == 0), for the
  // common case of a leg without TTY: the sub-blocks' filters run side by side (independent
  // chains: about 3x faster than Process), then the sub-blocks close in order exactly as
  // Process would close them, stopping after the first one that changes carrier(). Returns
  // how many sub-blocks it closed (kFrameBlocks if carrier() never changed).
  static constexpr size_t kFrameBlocks = 4;  // 160 samples, 20 ms
  size_t ProcessFrame(const int16_t* pcm);
  size_t fill() const { return fill_; }

  bool carrier() const { return carrier_; }
  // Band/total energy ratio over the last 160 ms, in [0, 1] (0 before any sub-block).
  float ratio() const { return ratio_; }
  // Mean power over the last 160 ms, linear units^2.
  float power() const { return power_; }

 private:
  void CloseSubBlock();
  // Closes a sub-block whose band and total energies are known.
  void Close(float band, float total);

  // Goertzel states (s[n-1], s[n-2]) for 1400 and 1800 Hz, and the running sum of squares.
  float s1_mark_ = 0, s2_mark_ = 0, s1_space_ = 0, s2_space_ = 0, energy_ = 0;
  size_t fill_ = 0;  // samples in the current sub-block
  std::array<float, kWindow> band_{};
  std::array<float, kWindow> total_{};
  size_t next_ = 0;  // ring index of the next sub-block
  float ratio_ = 0, power_ = 0;
  bool carrier_ = false;
};

}  // namespace anchord::media::tty::internal
