#include "bench/rtp_load/ng_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <string_view>
#include <vector>

#include "bench/rtp_load/net.h"

namespace anchord::bench {
namespace {

std::string BString(std::string_view s) { return std::to_string(s.size()) + ":" + std::string(s); }

// Parses one bencoded value at `p`; a string is stored in *str. Lists, dicts and integers are
// skipped (the replies we read keep what we need in top-level strings). Returns false if bad.
bool ParseValue(std::string_view& p, std::string* str) {
  if (p.empty()) return false;
  if (p[0] == 'i') {
    size_t e = p.find('e');
    if (e == std::string_view::npos) return false;
    p.remove_prefix(e + 1);
    return true;
  }
  if (p[0] == 'l' || p[0] == 'd') {
    p.remove_prefix(1);
    while (!p.empty() && p[0] != 'e') {
      std::string ignored;
      if (!ParseValue(p, &ignored)) return false;
    }
    if (p.empty()) return false;
    p.remove_prefix(1);
    return true;
  }
  size_t len = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), len);
  if (ec != std::errc() || ptr >= p.data() + p.size() || *ptr != ':') return false;
  size_t start = static_cast<size_t>(ptr - p.data()) + 1;
  if (start + len > p.size()) return false;
  if (str) *str = std::string(p.substr(start, len));
  p.remove_prefix(start + len);
  return true;
}

}  // namespace

NgClient::~NgClient() {
  if (fd_ >= 0) close(fd_);
}

bool NgClient::Open(const sockaddr_in& server) {
  server_ = server;
  fd_ = BindUdp("127.0.0.1", 0, 1 << 20);
  return fd_ >= 0;
}

bool NgClient::Request(const std::map<std::string, std::string>& dict,
                       std::map<std::string, std::string>* reply) {
  std::string cookie = "c" + std::to_string(++cookie_);
  std::string msg = cookie + " d";
  for (const auto& [k, v] : dict) msg += BString(k) + BString(v);  // std::map: sorted keys
  msg += "e";
  std::vector<char> buf(65536);
  for (int attempt = 0; attempt < 3; ++attempt) {
    sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&server_), sizeof(server_));
    uint64_t deadline = NowUs() + 2'000'000;
    for (uint64_t now = NowUs(); now < deadline; now = NowUs()) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>((deadline - now) / 1000) + 1) <= 0) continue;
      ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) continue;
      std::string_view r(buf.data(), static_cast<size_t>(n));
      if (!r.starts_with(cookie + " ")) continue;  // a late reply to an earlier try
      r.remove_prefix(cookie.size() + 1);
      if (r.empty() || r[0] != 'd') break;
      r.remove_prefix(1);
      while (!r.empty() && r[0] != 'e') {
        std::string key, value;
        if (!ParseValue(r, &key) || !ParseValue(r, &value)) break;
        (*reply)[key] = value;
      }
      if ((*reply)["result"] == "ok") return true;
      error_ = "rtpengine: " + (*reply)["result"] + ": " + (*reply)["error-reason"];
      return false;
    }
  }
  error_ = "rtpengine: no (valid) reply to " + dict.at("command");
  return false;
}

bool NgClient::Ping() {
  std::map<std::string, std::string> reply;
  if (!Request({{"command", "ping"}}, &reply)) return reply["result"] == "pong";
  return true;
}

bool NgClient::Offer(const std::string& call_id, const std::string& from_tag,
                     const std::string& sdp, std::string* sdp_out) {
  std::map<std::string, std::string> reply;
  if (!Request({{"command", "offer"}, {"call-id", call_id}, {"from-tag", from_tag}, {"sdp", sdp}},
               &reply))
    return false;
  *sdp_out = reply["sdp"];
  return true;
}

bool NgClient::Answer(const std::string& call_id, const std::string& from_tag,
                      const std::string& to_tag, const std::string& sdp, std::string* sdp_out) {
  std::map<std::string, std::string> reply;
  if (!Request({{"command", "answer"},
                {"call-id", call_id},
                {"from-tag", from_tag},
                {"to-tag", to_tag},
                {"sdp", sdp}},
               &reply))
    return false;
  *sdp_out = reply["sdp"];
  return true;
}

bool NgClient::Delete(const std::string& call_id, const std::string& from_tag) {
  std::map<std::string, std::string> reply;
  return Request({{"command", "delete"}, {"call-id", call_id}, {"from-tag", from_tag}}, &reply);
}

}  // namespace anchord::bench
