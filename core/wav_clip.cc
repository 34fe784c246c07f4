// WAV reading for announcements: RIFF parsing with every size bounds-checked, G.711
// expansion for A-law/mu-law files.
#include "core/wav_clip.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace anchord::core {
namespace {

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A RIFF file is a 12-byte header ("RIFF", size, "WAVE") and chunks (4-byte id, 32-bit LE
// size, data padded to even length). Only "fmt " and "data" matter; every size read from the
// file is checked against what is left before it is used.

constexpr size_t kMaxWavBytes = 16u << 20;  // far above 60 s at 16 kHz; bounds the read
constexpr uint16_t kWavPcm = 1, kWavAlaw = 6, kWavUlaw = 7, kWavExtensible = 0xFFFE;

uint32_t Le32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint16_t Le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

// G.711 expansions (ITU-T G.711 tables, as spandsp computes them): core cannot link media.
int16_t UlawToLinear(uint8_t byte) {
  const int u = ~byte & 0xFF;
  const int t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
  return static_cast<int16_t>((u & 0x80) ? 0x84 - t : t - 0x84);
}
int16_t AlawToLinear(uint8_t byte) {
  const int a = byte ^ 0x55;
  int t = (a & 0x0F) << 4;
  const int seg = (a & 0x70) >> 4;
  t = seg == 0 ? t + 8 : (t + 0x108) << (seg - 1);
  return static_cast<int16_t>((a & 0x80) ? t : -t);
}

struct WavFormat {
  uint16_t tag = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
};

std::string ReadWhole(const std::string& path, std::vector<unsigned char>& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return "cannot open " + Quoted(path) + ": " + std::strerror(errno);
  unsigned char buffer[65536];
  size_t n;
  while (bytes.size() <= kMaxWavBytes && (n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  const int error = std::ferror(file) ? errno : 0;  // a directory fails here (EISDIR)
  std::fclose(file);
  if (error) return "cannot read " + Quoted(path) + ": " + std::strerror(error);
  if (bytes.size() > kMaxWavBytes) return Quoted(path) + " is larger than 16 MiB";
  return "";
}

std::string ParseWavFormat(const unsigned char* p, uint32_t size, WavFormat& f) {
  if (size < 16) return "its fmt chunk is too short";
  f.tag = Le16(p);
  f.channels = Le16(p + 2);
  f.rate = Le32(p + 4);
  f.bits = Le16(p + 14);
  if (f.tag == kWavExtensible) {
    // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the sub-format GUID.
    if (size < 40) return "its extensible fmt chunk is too short";
    f.tag = Le16(p + 24);
  }
  if (f.tag != kWavPcm && f.tag != kWavAlaw && f.tag != kWavUlaw) {
    return "format " + std::to_string(f.tag) + " is not PCM, A-law or mu-law";
  }
  if (f.channels != 1) return std::to_string(f.channels) + " channels: must be mono";
  if (f.rate != 8000 && f.rate != 16000) {
    return std::to_string(f.rate) + " Hz: must be 8000 or 16000 Hz (convert it, e.g. " +
           "sox IN.wav -r 8000 -c 1 -b 16 OUT.wav)";
  }
  if ((f.tag == kWavPcm && f.bits != 16) || (f.tag != kWavPcm && f.bits != 8)) {
    return std::to_string(f.bits) + "-bit samples: must be 16-bit PCM or 8-bit A-law/mu-law";
  }
  return "";
}

std::string DecodeWav(const std::vector<unsigned char>& b, AudioClip& out) {
  if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) != 0 ||
      std::memcmp(b.data() + 8, "WAVE", 4) != 0) {
    return "not a WAV file (no RIFF/WAVE header)";
  }
  WavFormat f;
  bool have_format = false;
  for (size_t at = 12; at <= b.size() && b.size() - at >= 8;) {
    const uint32_t size = Le32(&b[at + 4]);
    const unsigned char* body = &b[at + 8];
    const size_t left = b.size() - at - 8;
    if (std::memcmp(&b[at], "fmt ", 4) == 0) {
      if (size > left) return "its fmt chunk runs past the end of the file";
      if (std::string problem = ParseWavFormat(body, size, f); !problem.empty()) return problem;
      have_format = true;
    } else if (std::memcmp(&b[at], "data", 4) == 0) {
      if (!have_format) return "its data chunk comes before the fmt chunk";
      if (size > left) return "its data chunk runs past the end of the file (truncated?)";
      const size_t n = f.tag == kWavPcm ? size / 2 : size;
      if (n < f.rate / 1000) return "holds no audio (under 1 ms)";
      if (n > size_t{f.rate} * AudioClip::kMaxSeconds) {
        return "lasts " + std::to_string(n / f.rate) + " s: at most " +
               std::to_string(AudioClip::kMaxSeconds) + " s";
      }
      auto pcm = std::make_shared<std::vector<int16_t>>(n);
      for (size_t i = 0; i < n; ++i) {
        (*pcm)[i] = f.tag == kWavPcm    ? static_cast<int16_t>(Le16(body + 2 * i))
                    : f.tag == kWavUlaw ? UlawToLinear(body[i])
                                        : AlawToLinear(body[i]);
      }
      out.rate_hz = f.rate;
      out.samples = std::move(pcm);
      return "";
    }
    if (size > left) break;
    at += 8 + size + (size & 1);
  }
  return have_format ? "has no data chunk" : "has no fmt chunk";
}

}  // namespace

std::string ReadWavClip(const std::string& path, AudioClip& out) {
  std::vector<unsigned char> bytes;
  if (std::string problem = ReadWhole(path, bytes); !problem.empty()) return problem;
  if (std::string problem = DecodeWav(bytes, out); !problem.empty()) {
    return Quoted(path) + ": " + problem;
  }
  out.path = path;
  return "";
}

}  // namespace anchord::core
