// Per-ISA mix-minus kernels behind mixer/mix.h. Only dispatch.cc and the tests should need
// these names; everyone else goes through KernelsFor() / BestKernels().
//
// Each Xxx kernel has the MixMinusFn contract of mix.h and each XxxChecked the
// MixMinusCheckedFn one. The SSE2/AVX2/AVX-512 kernels are compiled with their own -m flags and
// may only be called when the CPU has the feature (dispatch checks).
#pragma once

#include <cstddef>
#include <cstdint>

namespace anchord::mixer::internal {

void MixMinusScalar(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                    size_t n_samples);
bool MixMinusScalarChecked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                           size_t n_samples);

// The scalar reference applied to samples [begin, end) only. The vector kernels finish their
// tails with it, so the tail is the specification by construction. It lives in mix_scalar.cc
// (baseline flags) rather than inline in this header: an inline function compiled in an -mavx2
// file could be the copy the linker keeps for every caller (ODR), and would then fault on CPUs
// without AVX2. The checked form returns true if any output in the range was saturated.
void MixMinusScalarRange(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                         size_t begin, size_t end);
bool MixMinusScalarRangeChecked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                                size_t begin, size_t end);

#if defined(ANCHORD_MIXER_X86)
void MixMinusSse2(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                  size_t n_samples);
bool MixMinusSse2Checked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                         size_t n_samples);
void MixMinusAvx2(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                  size_t n_samples);
bool MixMinusAvx2Checked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                         size_t n_samples);
void MixMinusAvx512(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                    size_t n_samples);
bool MixMinusAvx512Checked(const int16_t* const* in, int16_t* const* out, size_t n_sources,
                           size_t n_samples);
#endif

}  // namespace anchord::mixer::internal
