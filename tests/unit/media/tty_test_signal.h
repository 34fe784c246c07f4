// Test signals for the TTY decoder: Baudot TTY from spandsp's own V.18 transmitter (an independent
// implementation of the sender), G.711 round trips, white noise, tones and a speech-like signal.
// Every generator is deterministic (fixed seeds), so a failing test fails the same way each run.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <spandsp.h>

namespace anchord::media::testing {

inline constexpr double kTtySampleRate = 8000.0;
inline constexpr size_t kTtyFrame = 160;

enum class TtyRate { k45, k50 };

// `lead_silence_ms` of digital silence, then `text` as Baudot TTY (spandsp's V.18 transmitter at
// its default level, about -14 dBm0 per tone, mark-hold lead-in and hangover included), then
// `tail_silence_ms` of silence. Sample count is a multiple of 160.
inline std::vector<int16_t> MakeTty(const std::string& text, TtyRate baud,
                                    int lead_silence_ms = 100, int tail_silence_ms = 500) {
  std::vector<int16_t> out(static_cast<size_t>(lead_silence_ms) * 8, 0);
  v18_state_t* tx = v18_init(
      nullptr, TRUE, baud == TtyRate::k45 ? V18_MODE_5BIT_45 : V18_MODE_5BIT_50, nullptr, nullptr);
  v18_put(tx, text.c_str(), -1);
  int16_t frame[kTtyFrame];
  // v18_tx returns fewer samples than asked once the queue is empty and the carrier is off;
  // bounded at 60 s of audio so a transmitter that never stops fails the test instead of hanging.
  for (int i = 0; i < 3000; ++i) {
    int n = v18_tx(tx, frame, static_cast<int>(kTtyFrame));
    out.insert(out.end(), frame, frame + n);
    if (n < static_cast<int>(kTtyFrame)) break;
  }
  v18_free(tx);
  out.resize(out.size() + static_cast<size_t>(tail_silence_ms) * 8, 0);
  out.resize((out.size() + kTtyFrame - 1) / kTtyFrame * kTtyFrame, 0);
  return out;
}

inline std::vector<int16_t> Scale(std::vector<int16_t> x, double gain) {
  for (int16_t& v : x) v = static_cast<int16_t>(std::lround(v * gain));
  return x;
}

// Linear -> G.711 byte -> linear, as a call through a PCMU or PCMA leg does.
inline std::vector<int16_t> UlawRoundTrip(std::vector<int16_t> x) {
  for (int16_t& v : x) v = ulaw_to_linear(linear_to_ulaw(v));
  return x;
}
inline std::vector<int16_t> AlawRoundTrip(std::vector<int16_t> x) {
  for (int16_t& v : x) v = alaw_to_linear(linear_to_alaw(v));
  return x;
}

// Deterministic Gaussian white noise; 0 dBm0 is a sine of 10^(3.14/20) below full scale
// (spandsp's mu-law reference), so RMS(dBm0) = 22786/sqrt(2) * 10^(dbm0/20).
class NoiseSource {
 public:
  explicit NoiseSource(double dbm0, uint32_t seed = 12345)
      : rms_(22786.0 / std::sqrt(2.0) * std::pow(10.0, dbm0 / 20.0)), state_(seed) {}
  double Next() {
    // Box-Muller on a 32-bit LCG: deterministic across libstdc++ versions.
    double u1 = (Step() + 1.0) / 4294967297.0;
    double u2 = (Step() + 1.0) / 4294967297.0;
    return rms_ * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  double Step() {
    state_ = state_ * 1664525u + 1013904223u;
    return static_cast<double>(state_);
  }
  double rms_;
  uint32_t state_;
};

inline int16_t Saturate(double v) {
  return static_cast<int16_t>(std::lround(std::fmax(-32768.0, std::fmin(32767.0, v))));
}

inline std::vector<int16_t> AddNoise(std::vector<int16_t> x, double dbm0, uint32_t seed = 7) {
  NoiseSource noise(dbm0, seed);
  for (int16_t& v : x) v = Saturate(v + noise.Next());
  return x;
}

inline std::vector<int16_t> Tone(double freq, double dbm0, size_t samples) {
  const double amp = 22786.0 * std::pow(10.0, dbm0 / 20.0);
  std::vector<int16_t> out(samples);
  for (size_t i = 0; i < samples; ++i) {
    out[i] = Saturate(amp * std::sin(2.0 * M_PI * freq * static_cast<double>(i) / kTtySampleRate));
  }
  return out;
}

// A speech-like signal: a glottal pulse train whose pitch glides (90..260 Hz) through three
// formant resonators that move between vowel targets every 150 ms (one of them sweeps through
// 1400 and 1800 Hz, the TTY tones), syllable-rate amplitude envelope, unvoiced noise bursts.
// Scaled to an RMS level of `dbm0`.
inline std::vector<int16_t> SpeechLike(size_t samples, double dbm0 = -20, uint32_t seed = 99) {
  struct Vowel {
    double f1, f2, f3;
  };
  static constexpr Vowel kVowels[] = {{730, 1090, 2440}, {270, 2290, 3010}, {530, 1840, 2480},
                                      {570, 840, 2410},  {440, 1020, 2240}, {660, 1720, 2410},
                                      {300, 1400, 2300}, {490, 1350, 1690}};
  NoiseSource noise(-30, seed);
  std::vector<double> raw(samples);
  double y[3][2] = {};
  double phase = 0;
  for (size_t i = 0; i < samples; ++i) {
    const double t = static_cast<double>(i) / kTtySampleRate;
    const size_t seg = i / 1200;  // 150 ms per vowel
    const Vowel& a = kVowels[(seg * 5 + seed) % 8];
    const Vowel& b = kVowels[(seg * 5 + seed + 5) % 8];
    const double m = static_cast<double>(i % 1200) / 1200.0;
    const double f[3] = {a.f1 + (b.f1 - a.f1) * m, a.f2 + (b.f2 - a.f2) * m,
                         a.f3 + (b.f3 - a.f3) * m};
    const double pitch = 175 + 85 * std::sin(2 * M_PI * 0.7 * t) * std::cos(2 * M_PI * 0.23 * t);
    phase += pitch / kTtySampleRate;
    double excitation = 0;
    if (phase >= 1.0) {
      phase -= 1.0;
      excitation = 6000.0;
    }
    const bool unvoiced = seg % 7 == 3;
    if (unvoiced) excitation = noise.Next() * 0.6;
    double x = excitation;
    for (int k = 0; k < 3; ++k) {
      const double r = 0.97;
      const double c = 2 * r * std::cos(2 * M_PI * f[k] / kTtySampleRate);
      double v = x + c * y[k][0] - r * r * y[k][1];
      y[k][1] = y[k][0];
      y[k][0] = v;
      x = v * 0.12;
    }
    const double envelope = 0.55 + 0.45 * std::sin(2 * M_PI * 4.0 * t);  // 4 syllables/s
    raw[i] = x * envelope;
  }
  double sum = 0;
  for (double v : raw) sum += v * v;
  const double rms = std::sqrt(sum / static_cast<double>(samples)) + 1e-9;
  const double gain = 22786.0 / std::sqrt(2.0) * std::pow(10.0, dbm0 / 20.0) / rms;
  std::vector<int16_t> out(samples);
  for (size_t i = 0; i < samples; ++i) out[i] = Saturate(raw[i] * gain);
  return out;
}

// RMS level of `x` in dBm0 (same reference as NoiseSource).
inline double LevelDbm0(const std::vector<int16_t>& x) {
  double sum = 0;
  for (int16_t v : x) sum += static_cast<double>(v) * v;
  const double rms = std::sqrt(sum / static_cast<double>(x.size()));
  return 20.0 * std::log10(rms / (22786.0 / std::sqrt(2.0)) + 1e-12);
}

}  // namespace anchord::media::testing
