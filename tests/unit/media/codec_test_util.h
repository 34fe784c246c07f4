// Test helpers for the codec tests: tone generation and measurement by what is heard.
//
// Measurement: over a window holding a whole number of the tone's cycles (every 20 ms frame
// does, for 600 Hz and 1 kHz at 8 and 16 kHz), the least-squares fit of a*cos + b*sin at the
// tone's frequency is the projection onto cos and sin; the residual is everything else the
// codec added (noise, distortion, other frequencies). Codec delay only changes the phase.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "media/codec/codec.h"

namespace anchord::media::codec::testing {

// Samples [start, start + n) of amplitude * sin(2 pi freq t) at `rate_hz`.
inline std::vector<int16_t> Tone(double freq, int rate_hz, double amplitude, size_t start,
                                 size_t n) {
  std::vector<int16_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(start + i) / rate_hz;
    out[i] = static_cast<int16_t>(std::lround(amplitude * std::sin(2 * M_PI * freq * t)));
  }
  return out;
}

struct ToneFit {
  double amplitude = 0;  // of the fitted sine
  double snr_db = 0;     // fitted sine power over residual power
};

inline ToneFit FitTone(std::span<const int16_t> x, double freq, int rate_hz) {
  const double w = 2 * M_PI * freq / rate_hz;
  double c = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    c += x[i] * std::cos(w * static_cast<double>(i));
    s += x[i] * std::sin(w * static_cast<double>(i));
  }
  const double n = static_cast<double>(x.size());
  const double a = 2 * c / n, b = 2 * s / n;
  double residual = 0, signal = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double fit =
        a * std::cos(w * static_cast<double>(i)) + b * std::sin(w * static_cast<double>(i));
    residual += (x[i] - fit) * (x[i] - fit);
    signal += fit * fit;
  }
  return {std::sqrt(a * a + b * b), 10 * std::log10(signal / std::max(residual, 1e-9))};
}

// Goertzel amplitude of the `freq` component (a sine of amplitude A gives about A).
inline double ToneLevel(std::span<const int16_t> x, double freq, int rate_hz) {
  const double coeff = 2 * std::cos(2 * M_PI * freq / rate_hz);
  double s1 = 0, s2 = 0;
  for (int16_t v : x) {
    const double s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return 2 * std::sqrt(std::max(power, 0.0)) / static_cast<double>(x.size());
}

inline double Rms(std::span<const int16_t> x) {
  double sum = 0;
  for (int16_t v : x) sum += static_cast<double>(v) * v;
  return x.empty() ? 0 : std::sqrt(sum / static_cast<double>(x.size()));
}

// 10 log10(|ref|^2 / |ref - x|^2): how close `x` is to `ref`, sample by sample.
inline double SnrDb(std::span<const int16_t> ref, std::span<const int16_t> x) {
  double signal = 0, error = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    signal += static_cast<double>(ref[i]) * ref[i];
    error += (static_cast<double>(ref[i]) - x[i]) * (static_cast<double>(ref[i]) - x[i]);
  }
  return 10 * std::log10(std::max(signal, 1e-9) / std::max(error, 1e-9));
}

struct RoundTrip {
  double min_snr_db = 1e9;  // worst frame after the codec settled
  double min_amplitude = 1e9;
  double max_amplitude = 0;
};

// Encodes `frames` frames of a continuous tone with `enc`, decodes each payload with `dec` and
// fits the tone in every decoded frame after the first `settle` (codec and filter start-up).
inline RoundTrip ToneRoundTrip(Encoder& enc, Decoder& dec, double freq, double amplitude,
                               int frames = 50, int settle = 5) {
  const size_t n = enc.frame_samples();
  std::vector<uint8_t> payload(kMaxPayloadBytes);
  std::vector<int16_t> out(dec.frame_samples());
  RoundTrip r;
  for (int f = 0; f < frames; ++f) {
    const auto in = Tone(freq, enc.sample_rate_hz(), amplitude, f * n, n);
    const size_t bytes = enc.Encode(in, payload);
    if (!dec.Decode(std::span(payload).first(bytes), out)) r.min_snr_db = -1e9;
    if (f < settle) continue;
    const ToneFit fit = FitTone(out, freq, dec.sample_rate_hz());
    r.min_snr_db = std::min(r.min_snr_db, fit.snr_db);
    r.min_amplitude = std::min(r.min_amplitude, fit.amplitude);
    r.max_amplitude = std::max(r.max_amplitude, fit.amplitude);
  }
  return r;
}

}  // namespace anchord::media::codec::testing
