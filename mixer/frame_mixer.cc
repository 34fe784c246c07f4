// FrameMixer: mix-minus with a soft limiter, fades and shared outputs (contract in the header).
//
// Algorithm, per frame of N samples:
//  1. Sources. Each slot's effective input e_k is chosen:
//       present, heard last frame, not last, not restarted  -> in[k] itself (no copy, exact);
//       otherwise a faded copy in scratch:
//         e_k[n] = round(in[k][n] * up(n) * down(n)) + round(held_k * (N-1-n)/N)
//       with up(n) = (n+1)/N when the source is new (else 1), down(n) = (N-1-n)/N when this is
//       its last frame (else 1), and held_k = its previous frame's last sample when it vanished
//       (or was restarted) without a faded last frame (else 0). The linear ramps bound the extra
//       sample-to-sample step to |x|/N, so entry and exit make no click.
//  2. Kernel. One checked mix-minus call over the sources: out_i = sat16(T - e_i), T = sum e_k,
//     plus, if some slot listens without contributing, one all-zero source whose output is
//     sat16(T) for them. The call also says whether any output was saturated.
//  3. Limiter, per distinct output i with previous gain g0 (state, 1 = unity):
//       skip it if g0 == 1 and nothing saturated: the kernel's output is exact;
//       else d[n] = T[n] - e_i[n] in int32, peak = max |d|,
//            need = peak > 32767 ? 32767 / peak : 1,
//            g1 = min(need, min(1, g0 + frame_ms / release_ms))     (instant attack, slow release)
//       and out_i[n] = sat16(round(d[n] * g(n))) with g linear from g0 to g1 over the first K
//       samples, then g1. K = N unless that would let an early sample exceed 32767 (a loud onset
//       near the start of a frame); then the longest of N/2, N/4, ..., 1 that keeps every
//       sample in range. g0 == 1 and g1 == 1 leave the kernel's (exact) output untouched.
//  4. Listen-only outputs with equal gain share one computation; the rest copy it.
// Cost when nothing overflows and no one enters or leaves: the kernel call plus a few
// branches per slot. The limiter path is scalar, O(N) per limited output (twice N for the K
// search), and runs only on frames that overflow or are releasing.
#include "mixer/frame_mixer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace anchord::mixer {
namespace {

constexpr float kUnity = 1.0f;
constexpr float kFullScale = 32767.0f;

int16_t Sat16(int64_t v) { return static_cast<int16_t>(std::clamp<int64_t>(v, -32768, 32767)); }

// Rounds num / den to nearest, halves away from zero; den > 0.
int64_t DivRound(int64_t num, int64_t den) {
  return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

int32_t RoundToInt(float v) { return static_cast<int32_t>(v >= 0.0f ? v + 0.5f : v - 0.5f); }

// The gain at sample n of a ramp from g0 to g1 over the first k samples.
float GainAt(size_t n, size_t k, float g0, float g1) {
  if (n >= k) return g1;
  return g0 + (g1 - g0) * static_cast<float>(n + 1) / static_cast<float>(k);
}

}  // namespace

// Working memory of one Mix(): nothing in it outlives the call (faded copies, the total, the
// sink for unheard outputs; `zero` is never written), so all mixers of a thread share one.
// Per bridge it was 38 KiB of RSS per call, and a worker's tick walked a copy per bridge.
struct FrameMixer::Scratch {
  int16_t faded[kMaxSlots][kMaxSamples];
  int16_t zero[kMaxSamples];
  int16_t sink[kMaxSamples];  // outputs of sources nobody listens to
  int32_t total[kMaxSamples];
};

FrameMixer::Scratch& FrameMixer::ThreadScratch() {
  static thread_local Scratch scratch{};  // zero-initialised, no constructor to run
  return scratch;
}

FrameMixer::FrameMixer(Kernels kernels, FrameMixerOptions options)
    : kernels_(kernels),
      release_per_frame_(static_cast<float>(std::max<uint32_t>(options.frame_ms, 1)) /
                         static_cast<float>(std::max<uint32_t>(options.release_ms, 1))) {
  gain_.fill(kUnity);
  share_.fill(kNoOutput);
}

FrameMixer::~FrameMixer() = default;
FrameMixer::FrameMixer(FrameMixer&&) noexcept = default;
FrameMixer& FrameMixer::operator=(FrameMixer&&) noexcept = default;

void FrameMixer::Restart(size_t slot) {
  if (slot < kMaxSlots) restart_[slot] = true;
}

void FrameMixer::Clear(size_t slot) {
  if (slot >= kMaxSlots) return;
  gain_[slot] = kUnity;
  last_sample_[slot] = 0;
  was_heard_[slot] = false;
  restart_[slot] = false;
}

const FrameMixer::ShareMap& FrameMixer::Mix(const Frame& frame) {
  share_.fill(kNoOutput);
  if (frame.n_samples == 0 || frame.n_samples > kMaxSamples) return share_;
  ++counters_.frames;
  total_ready_ = false;
  PrepareSources(frame);
  RunKernel(frame);
  FinishFrame(frame);
  return share_;
}

void FrameMixer::PrepareSources(const Frame& frame) {
  for (size_t k = 0; k < kMaxSlots; ++k) {
    const bool present = frame.in[k] != nullptr;
    const bool fade_in = present && (!was_heard_[k] || restart_[k]);
    const bool fade_out = present && frame.last[k];
    const bool hold = was_heard_[k] && last_sample_[k] != 0 && (!present || restart_[k]);
    counters_.fades_in += fade_in;
    counters_.fades_out += fade_out + hold;
    if (!fade_in && !fade_out && !hold) {
      source_[k] = frame.in[k];  // nullptr when absent
    } else {
      PrepareFaded(frame, k, fade_in, fade_out, hold);
      source_[k] = ThreadScratch().faded[k];
    }
  }
}

void FrameMixer::PrepareFaded(const Frame& frame, size_t slot, bool fade_in, bool fade_out,
                              bool hold) {
  const int64_t n = static_cast<int64_t>(frame.n_samples);
  const int16_t* in = frame.in[slot];
  const int64_t held = hold ? last_sample_[slot] : 0;
  int16_t* faded = ThreadScratch().faded[slot];
  for (int64_t s = 0; s < n; ++s) {
    int64_t v = DivRound(held * (n - 1 - s), n);
    if (in != nullptr) {
      const int64_t up = fade_in ? s + 1 : n;
      const int64_t down = fade_out ? n - 1 - s : n;
      v += DivRound(int64_t{in[s]} * up * down, n * n);
    }
    faded[s] = Sat16(v);
  }
}

void FrameMixer::RunKernel(const Frame& frame) {
  const int16_t* in[kMaxSources];
  int16_t* out[kMaxSources];
  size_t n = 0;
  size_t unity_listener = kMaxSlots;  // a listen-only output at unity gain, if any
  for (size_t k = 0; k < kMaxSlots; ++k) {
    if (source_[k] != nullptr) {
      share_[k] = frame.out[k] != nullptr ? static_cast<uint8_t>(k) : kNoOutput;
      in[n] = source_[k];
      out[n++] = frame.out[k] != nullptr ? frame.out[k] : ThreadScratch().sink;
    } else if (frame.out[k] != nullptr) {
      // Listen-only: share with the first earlier listen-only output at the same gain.
      share_[k] = static_cast<uint8_t>(k);
      for (size_t j = 0; j < k; ++j) {
        if (frame.out[j] != nullptr && source_[j] == nullptr && gain_[j] == gain_[k]) {
          share_[k] = share_[j];
          break;
        }
      }
      if (share_[k] == k && gain_[k] == kUnity) unity_listener = k;
    }
  }
  // At most kMaxSlots sources, and the zero source is added only when a slot is not a source.
  if (unity_listener < kMaxSlots) {
    in[n] = ThreadScratch().zero;
    out[n++] = frame.out[unity_listener];
  }
  bool saturated = false;
  if (n > 0) saturated = kernels_.mix_minus_checked(in, out, n, frame.n_samples);
  Limit(frame, saturated);
}

void FrameMixer::Limit(const Frame& frame, bool saturated) {
  const size_t n = frame.n_samples;
  for (size_t k = 0; k < kMaxSlots; ++k) {
    if (share_[k] == kNoOutput) {
      gain_[k] = std::min(kUnity, gain_[k] + release_per_frame_);  // time passes unheard
    } else if (share_[k] == k) {
      if (saturated || gain_[k] != kUnity) LimitOutput(n, source_[k], frame.out[k], gain_[k]);
    } else {
      std::memcpy(frame.out[k], frame.out[share_[k]], n * sizeof(int16_t));
      gain_[k] = gain_[share_[k]];
    }
  }
}

void FrameMixer::ComputeTotal(size_t n_samples) {
  if (total_ready_) return;
  int32_t* total = ThreadScratch().total;
  std::fill(total, total + n_samples, 0);
  for (const int16_t* src : source_) {
    if (src == nullptr) continue;
    for (size_t s = 0; s < n_samples; ++s) total[s] += src[s];
  }
  total_ready_ = true;
}

void FrameMixer::LimitOutput(size_t n_samples, const int16_t* own, int16_t* out, float& gain) {
  ComputeTotal(n_samples);
  const int32_t* total = ThreadScratch().total;
  auto diff = [&](size_t s) { return total[s] - (own != nullptr ? own[s] : 0); };
  int32_t peak = 0;
  for (size_t s = 0; s < n_samples; ++s) peak = std::max(peak, std::abs(diff(s)));
  const float g0 = gain;
  const float need = peak > 32767 ? kFullScale / static_cast<float>(peak) : kUnity;
  const float g1 = std::min(need, std::min(kUnity, g0 + release_per_frame_));
  gain = g1;
  if (g0 == kUnity && g1 == kUnity) return;  // no overflow: the kernel's output is exact
  ++counters_.limited_outputs;
  // Attack length: the longest ramp (N, N/2, ..., 1) that keeps every early sample in range.
  size_t ramp = n_samples;
  while (g1 < g0 && ramp > 1) {
    bool fits = true;
    for (size_t s = 0; s < ramp && fits; ++s) {
      fits = std::abs(static_cast<float>(diff(s)) * GainAt(s, ramp, g0, g1)) <= kFullScale + 0.25f;
    }
    if (fits) break;
    ramp /= 2;
  }
  for (size_t s = 0; s < n_samples; ++s) {
    const int32_t v = RoundToInt(static_cast<float>(diff(s)) * GainAt(s, ramp, g0, g1));
    counters_.clipped_samples += (v > 32767 || v < -32768);
    out[s] = Sat16(v);
  }
}

void FrameMixer::FinishFrame(const Frame& frame) {
  const size_t last = frame.n_samples - 1;
  for (size_t k = 0; k < kMaxSlots; ++k) {
    const bool present = frame.in[k] != nullptr;
    was_heard_[k] = present && !frame.last[k];
    last_sample_[k] = present ? frame.in[k][last] : int16_t{0};
    restart_[k] = false;
  }
}

}  // namespace anchord::mixer
