// G.711 (mu-law / A-law) for the media tick: table-free inline conversions from spandsp.
//
// Why not g711_init()/g711_encode(): the state object only selects the law, and the tick already
// knows each leg's codec; the inline functions are the same arithmetic with no state to own.
//
// Round trip: decode -> encode is the identity for every A-law byte and for every mu-law byte
// except 0x7F ("negative zero" decodes to 0, which encodes as 0xFF). Invariant 3 therefore
// needs the bridge's pass-through when a leg hears exactly one party on the same codec.
#pragma once

#include <cstddef>
#include <cstdint>

#include <spandsp.h>

#include "media/media_plane.h"

namespace anchord::media::internal {

inline constexpr size_t kFrameSamples = 160;  // 20 ms at 8 kHz
inline constexpr uint32_t kTicksPerSecond = 50;

// The byte that decodes to digital silence in `codec`.
inline uint8_t G711Silence(Codec codec) { return codec == Codec::kPcmu ? 0xFF : 0xD5; }

inline void G711Decode(Codec codec, const uint8_t* in, size_t n, int16_t* out) {
  if (codec == Codec::kPcmu) {
    for (size_t i = 0; i < n; ++i) out[i] = ulaw_to_linear(in[i]);
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = alaw_to_linear(in[i]);
  }
}

inline void G711Encode(Codec codec, const int16_t* in, size_t n, uint8_t* out) {
  if (codec == Codec::kPcmu) {
    for (size_t i = 0; i < n; ++i) out[i] = linear_to_ulaw(in[i]);
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = linear_to_alaw(in[i]);
  }
}

}  // namespace anchord::media::internal
