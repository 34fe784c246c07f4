// Algorithm: spandsp's tone generator (two DDS oscillators summed), one descriptor per DTMF
// digit built once per process (a 1 s on / 0 s off repeating cadence is a continuous tone,
// as for the hold tone). Start() re-initialises the leg's existing generator state from the
// digit's descriptor: tone_gen_init() on given storage only copies the descriptor, so a digit
// starting on the tick allocates nothing. 16 kHz: generated at 8 kHz and upsampled.
#include "media/internal/dtmf_generator.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <mutex>

#include <spandsp.h>

#include "media/codec/codec.h"

namespace anchord::media::internal {
namespace {

constexpr char kDigits[] = "123A456B789C*0#D";  // row-major over the Q.23 keypad
constexpr int kLowHz[] = {697, 770, 852, 941};
constexpr int kHighHz[] = {1209, 1336, 1477, 1633};

// Descriptors are read-only after the first use; built once (thread-safe) and never freed.
const std::array<tone_gen_descriptor_t*, 16>& Descriptors() {
  static std::array<tone_gen_descriptor_t*, 16> table;
  static std::once_flag once;
  std::call_once(once, [] {
    for (size_t i = 0; i < table.size(); ++i) {
      table[i] = tone_gen_descriptor_init(nullptr, kLowHz[i / 4], kDtmfToneDbm0, kHighHz[i % 4],
                                          kDtmfToneDbm0, 1000, 0, 0, 0, true);
      if (table[i] == nullptr) std::abort();  // allocation failure only
    }
  });
  return table;
}

int DigitIndex(char digit) {
  for (int i = 0; i < 16; ++i) {
    if (kDigits[i] == digit) return i;
  }
  return -1;
}

}  // namespace

DtmfGenerator::DtmfGenerator(int rate_hz) : rate_hz_(rate_hz) {
  if (rate_hz_ != 8000) {
    auto up = codec::Resampler::Create(8000, rate_hz_);
    if (!up) std::abort();  // only the bridge's rates reach here
    upsampler_ = std::move(*up);
  }
  state_ = tone_gen_init(nullptr, Descriptors()[0]);
  if (state_ == nullptr) std::abort();
}

DtmfGenerator::~DtmfGenerator() { tone_gen_free(state_); }

void DtmfGenerator::Start(char digit, LegId source) {
  const int index = DigitIndex(digit);
  if (index < 0) return;
  tone_gen_init(state_, Descriptors()[static_cast<size_t>(index)]);
  if (upsampler_ != nullptr) upsampler_->Reset();
  active_ = true;
  stopping_ = false;
  ticks_ = 0;
  digit_ = digit;
  source_ = source;
}

void DtmfGenerator::Stop() {
  stopping_ = true;
  if (ticks_ >= kMinTicks) active_ = false;
}

void DtmfGenerator::Generate(int16_t* pcm, size_t n) {
  const size_t narrow_n = codec::FrameSamples(8000);
  int16_t narrow[codec::FrameSamples(8000)];
  int16_t* out = upsampler_ == nullptr ? pcm : narrow;
  const size_t want = upsampler_ == nullptr ? std::min(n, narrow_n) : narrow_n;
  size_t done = 0;
  while (done < want) {  // tone_gen() stops early at its 1 s segment boundary
    const int got = tone_gen(state_, out + done, static_cast<int>(want - done));
    if (got <= 0) break;
    done += static_cast<size_t>(got);
  }
  std::fill(out + done, out + want, int16_t{0});
  if (upsampler_ != nullptr) upsampler_->Process({narrow, narrow_n}, {pcm, n});
  if (++ticks_ >= kMinTicks && stopping_) active_ = false;
}

}  // namespace anchord::media::internal
