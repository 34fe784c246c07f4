#include "media/codec/codec_factory.h"

#include <strings.h>
#include <charconv>
#include <string>

#include "media/codec/g711_codec.h"
#include "media/codec/g722_codec.h"
#include "media/codec/internal/resampling.h"
#include "media/codec/opus_codec.h"
#include "media/codec/resampler.h"

namespace anchord::media::codec {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Splits "a/b/c" at '/', returning the next field and advancing `rest`.
std::string_view NextField(std::string_view& rest) {
  const size_t slash = rest.find('/');
  std::string_view field = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  return field;
}

std::optional<int> ParseInt(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

bool SupportedBridgeRate(int rate_hz) { return rate_hz == 8000 || rate_hz == 16000; }

}  // namespace

Result<CodecSpec> ParseRtpmap(std::string_view encoding) {
  const std::string quoted = "unsupported rtpmap encoding \"" + std::string(encoding) + "\"";
  std::string_view rest = encoding;
  const std::string_view name = NextField(rest);
  const std::optional<int> clock = ParseInt(NextField(rest));
  std::optional<int> channels = 1;
  if (!rest.empty()) channels = ParseInt(NextField(rest));
  if (!clock || !channels || !rest.empty()) return Fail(quoted);

  CodecSpec spec{CodecId::kPcmu, *clock, *channels};
  if (SameName(name, "opus")) {
    spec.id = CodecId::kOpus;
    if (*clock == kOpusRtpClockHz && *channels <= 2) return spec;
    return Fail(quoted);
  }
  if (SameName(name, "PCMU")) {
    spec.id = CodecId::kPcmu;
  } else if (SameName(name, "PCMA")) {
    spec.id = CodecId::kPcma;
  } else if (SameName(name, "G722")) {
    spec.id = CodecId::kG722;
  } else {
    return Fail(quoted);
  }
  if (*clock != 8000 || *channels != 1) return Fail(quoted);
  return spec;
}

std::optional<CodecSpec> StaticPayloadType(uint8_t payload_type) {
  switch (payload_type) {
    case 0:
      return CodecSpec{CodecId::kPcmu, 8000, 1};
    case 8:
      return CodecSpec{CodecId::kPcma, 8000, 1};
    case 9:
      return CodecSpec{CodecId::kG722, kG722RtpClockHz, 1};
    default:
      return std::nullopt;
  }
}

std::string_view RtpmapEncoding(CodecId id) {
  switch (id) {
    case CodecId::kPcmu:
      return "PCMU/8000";
    case CodecId::kPcma:
      return "PCMA/8000";
    case CodecId::kG722:
      return "G722/8000";
    case CodecId::kOpus:
      return "opus/48000/2";
  }
  return "";
}

uint32_t RtpTimestampStep(CodecId id) {
  return id == CodecId::kOpus ? kOpusRtpClockHz / kFramesPerSecond : 8000 / kFramesPerSecond;
}

int NativeRateHz(CodecId id, int bridge_rate_hz) {
  switch (id) {
    case CodecId::kPcmu:
    case CodecId::kPcma:
      return kG711RateHz;
    case CodecId::kG722:
      return kG722RateHz;
    case CodecId::kOpus:
      return bridge_rate_hz;
  }
  return bridge_rate_hz;
}

bool IsWideband(CodecId id) { return id == CodecId::kG722 || id == CodecId::kOpus; }

namespace {

Result<std::unique_ptr<Decoder>> CreateNativeDecoder(CodecId id, int rate_hz) {
  switch (id) {
    case CodecId::kPcmu:
    case CodecId::kPcma:
      return G711Decoder::Create(id);
    case CodecId::kG722:
      return G722Decoder::Create();
    case CodecId::kOpus:
      return OpusVoiceDecoder::Create(rate_hz);
  }
  return Fail("codec: unknown codec");
}

Result<std::unique_ptr<Encoder>> CreateNativeEncoder(CodecId id, int rate_hz) {
  switch (id) {
    case CodecId::kPcmu:
    case CodecId::kPcma:
      return G711Encoder::Create(id);
    case CodecId::kG722:
      return G722Encoder::Create();
    case CodecId::kOpus:
      return OpusVoiceEncoder::Create(rate_hz);
  }
  return Fail("codec: unknown codec");
}

}  // namespace

Result<std::unique_ptr<Decoder>> CreateDecoder(const CodecSpec& spec, int bridge_rate_hz) {
  if (!SupportedBridgeRate(bridge_rate_hz)) {
    return Fail("codec: bridge rate " + std::to_string(bridge_rate_hz) + " Hz (8000 or 16000)");
  }
  const int native = NativeRateHz(spec.id, bridge_rate_hz);
  auto decoder = CreateNativeDecoder(spec.id, native);
  if (!decoder || native == bridge_rate_hz) return decoder;
  auto resampler = Resampler::Create(native, bridge_rate_hz);
  if (!resampler) return tl::unexpected(resampler.error());
  return std::make_unique<internal::ResamplingDecoder>(std::move(*decoder), std::move(*resampler));
}

Result<std::unique_ptr<Encoder>> CreateEncoder(const CodecSpec& spec, int bridge_rate_hz) {
  if (!SupportedBridgeRate(bridge_rate_hz)) {
    return Fail("codec: bridge rate " + std::to_string(bridge_rate_hz) + " Hz (8000 or 16000)");
  }
  const int native = NativeRateHz(spec.id, bridge_rate_hz);
  auto encoder = CreateNativeEncoder(spec.id, native);
  if (!encoder || native == bridge_rate_hz) return encoder;
  auto resampler = Resampler::Create(bridge_rate_hz, native);
  if (!resampler) return tl::unexpected(resampler.error());
  return std::make_unique<internal::ResamplingEncoder>(std::move(*encoder), std::move(*resampler));
}

CodecSpec SpecFor(Codec codec) {
  switch (codec) {
    case Codec::kPcmu:
      return {CodecId::kPcmu, 8000, 1};
    case Codec::kPcma:
      return {CodecId::kPcma, 8000, 1};
    case Codec::kG722:
      return {CodecId::kG722, 8000, 1};  // RTP clock 8000 (RFC 3551), audio 16 kHz
    case Codec::kOpus:
      return {CodecId::kOpus, 48000, 2};
  }
  return {};
}

}  // namespace anchord::media::codec
