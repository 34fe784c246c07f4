// Mix-minus kernels: every party of a bridge hears the sum of all the others.
//
//   total[s]  = sum_j in[j][s]            (32-bit accumulation)
//   out[i][s] = sat16(total[s] - in[i][s])
//
// The scalar kernel is the specification; SSE2, AVX2 and AVX-512BW kernels (each in its own file
// with its own compile flags) are bit-exact to it and chosen once at start from the CPU's
// features. FrameMixer (mixer/frame_mixer.h) builds the per-bridge mixer (limiter, ramps,
// shared outputs) on top of these kernels.
// With exactly two sources each output is the other's input unchanged (DESIGN invariant 3).
//
// Thread-safe and allocation-free: kernels are pure functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace anchord::mixer {

inline constexpr size_t kMaxSources = 16;
inline constexpr size_t kMaxSamples = 960;  // 20 ms at 48 kHz

// Ordered slowest to fastest.
enum class Isa { kScalar, kSse2, kAvx2, kAvx512 };

// in: n_sources pointers to n_samples samples each; out: n_sources pointers to n_samples
// samples each (out[i] may not alias any in[j]). 1 <= n_sources <= kMaxSources,
// n_samples <= kMaxSamples.
using MixMinusFn = void (*)(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                            size_t n_samples);
// The same mix-minus (same outputs, bit for bit), and also reports whether any output sample
// was saturated, i.e. total - in[i] fell outside [-32768, 32767] somewhere. FrameMixer uses it
// to take its limiter path only on frames that need it.
using MixMinusCheckedFn = bool (*)(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                                   size_t n_samples);

struct Kernels {
  Isa isa;
  MixMinusFn mix_minus;
  MixMinusCheckedFn mix_minus_checked;
};

// The kernels for `isa`; nullopt if this CPU (or this build) cannot run them.
std::optional<Kernels> KernelsFor(Isa isa);
// The fastest kernels this CPU runs.
Kernels BestKernels();

std::string_view IsaName(Isa isa);
// "scalar" | "sse2" | "avx2" | "avx512"; nullopt for anything else.
std::optional<Isa> ParseIsa(std::string_view name);

}  // namespace anchord::mixer
