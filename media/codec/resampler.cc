#include "media/codec/resampler.h"

#include <speex/speex_resampler.h>

#include <algorithm>
#include <string>

#include "media/codec/codec.h"

namespace anchord::media::codec {
namespace {

bool SupportedRate(int rate_hz) { return rate_hz == 8000 || rate_hz == 16000; }

}  // namespace

Result<std::unique_ptr<Resampler>> Resampler::Create(int in_rate_hz, int out_rate_hz) {
  if (!SupportedRate(in_rate_hz) || !SupportedRate(out_rate_hz)) {
    return Fail("resampler: unsupported rates " + std::to_string(in_rate_hz) + " -> " +
                std::to_string(out_rate_hz) + " Hz (8000 and 16000 only)");
  }
  SpeexResamplerState* state = nullptr;
  if (in_rate_hz != out_rate_hz) {
    int err = RESAMPLER_ERR_SUCCESS;
    state = speex_resampler_init(1, static_cast<spx_uint32_t>(in_rate_hz),
                                 static_cast<spx_uint32_t>(out_rate_hz), kQuality, &err);
    if (state == nullptr || err != RESAMPLER_ERR_SUCCESS) {
      if (state != nullptr) speex_resampler_destroy(state);
      return Fail(std::string("resampler: speex_resampler_init: ") + speex_resampler_strerror(err));
    }
  }
  return std::unique_ptr<Resampler>(new Resampler(state, in_rate_hz, out_rate_hz));
}

Resampler::~Resampler() {
  if (state_ != nullptr) speex_resampler_destroy(state_);
}

int Resampler::input_latency_samples() const {
  return state_ == nullptr ? 0 : speex_resampler_get_input_latency(state_);
}

bool Resampler::Process(std::span<const int16_t> in, std::span<int16_t> out) {
  const size_t in_n = FrameSamples(in_rate_hz_);
  const size_t out_n = FrameSamples(out_rate_hz_);
  if (state_ == nullptr) {
    std::copy_n(in.begin(), out_n, out.begin());
    return true;
  }
  spx_uint32_t in_len = static_cast<spx_uint32_t>(in_n);
  spx_uint32_t out_len = static_cast<spx_uint32_t>(out_n);
  speex_resampler_process_int(state_, 0, in.data(), &in_len, out.data(), &out_len);
  if (out_len == out_n && in_len == in_n) return true;
  std::fill(out.begin() + out_len, out.begin() + out_n, int16_t{0});
  return false;
}

void Resampler::Reset() {
  if (state_ != nullptr) speex_resampler_reset_mem(state_);
}

}  // namespace anchord::media::codec
