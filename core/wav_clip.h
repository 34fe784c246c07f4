// AudioClip and its WAV reader: announcements are read and validated with the configuration,
// on the thread that parses it (blocking disk I/O), never by a media worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace anchord::core {

// An announcement read and validated with the configuration, so --check-config finds a bad
// file and no media worker ever touches the disk: decoded to 16-bit linear PCM, mono. Shared
// read-only (any thread) once parsed.
struct AudioClip {
  static constexpr uint32_t kMaxSeconds = 60;
  std::string path;      // as configured (absolute); empty = no announcement
  uint32_t rate_hz = 0;  // 8000 or 16000 (0 when empty)
  std::shared_ptr<const std::vector<int16_t>> samples;  // null when empty, else 1..60 s of audio
  bool empty() const { return samples == nullptr || samples->empty(); }
};

// Reads a WAV file into `out`: RIFF/WAVE, mono, 16-bit PCM or 8-bit A-law/mu-law, 8000 or
// 16000 Hz, 1 ms to AudioClip::kMaxSeconds. Returns the problem (for "FILE:LINE: KEY: ..."),
// or an empty string on success.
std::string ReadWavClip(const std::string& path, AudioClip& out);

}  // namespace anchord::core
