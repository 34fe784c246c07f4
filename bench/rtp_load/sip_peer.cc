#include "bench/rtp_load/sip_peer.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>

#include "bench/rtp_load/net.h"

namespace anchord::bench {

// One parsed SIP message: just the parts this peer needs.
struct SipPeer::Message {
  bool response = false;
  int code = 0;
  std::string method, uri, call_id, cseq, from, to, body;
  std::vector<std::string> vias;
};

namespace {

constexpr uint32_t kEnded = UINT32_MAX;  // pos_calls_ value once the leg got a BYE

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Canonical lower-case header name (compact forms expanded).
std::string HeaderName(std::string_view raw) {
  std::string n = Lower(Trim(raw));
  if (n == "v") return "via";
  if (n == "f") return "from";
  if (n == "t") return "to";
  if (n == "i") return "call-id";
  return n;
}

bool Parse(std::string_view text, SipPeer::Message* m) {
  size_t head_end = text.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  m->body = std::string(text.substr(head_end + 4));
  std::string_view head = text.substr(0, head_end);
  size_t eol = head.find("\r\n");
  std::string_view first = head.substr(0, eol);
  if (first.starts_with("SIP/2.0 ")) {
    m->response = true;
    std::from_chars(first.data() + 8, first.data() + first.size(), m->code);
  } else {
    size_t sp = first.find(' ');
    if (sp == std::string_view::npos) return false;
    m->method = std::string(first.substr(0, sp));
    std::string_view rest = first.substr(sp + 1);
    m->uri = std::string(rest.substr(0, rest.find(' ')));
  }
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = HeaderName(line.substr(0, colon));
    std::string value(Trim(line.substr(colon + 1)));
    if (name == "via")
      m->vias.push_back(value);
    else if (name == "call-id")
      m->call_id = value;
    else if (name == "cseq")
      m->cseq = value;
    else if (name == "from")
      m->from = value;
    else if (name == "to")
      m->to = value;
  }
  return !m->call_id.empty() && !m->cseq.empty();
}

// SDP → the audio destination (c= address, m=audio port). False if either is missing.
bool SdpAudio(std::string_view sdp, sockaddr_in* out) {
  size_t c = sdp.find("c=IN IP4 "), a = sdp.find("m=audio ");
  if (c == std::string_view::npos || a == std::string_view::npos) return false;
  std::string_view ip = sdp.substr(c + 9);
  ip = ip.substr(0, ip.find_first_of("\r\n /"));
  std::string_view p = sdp.substr(a + 8);
  unsigned port = 0;
  std::from_chars(p.data(), p.data() + p.size(), port);
  return port > 0 && port < 65536 && MakeAddr(std::string(ip), static_cast<uint16_t>(port), out);
}

}  // namespace

SipPeer::~SipPeer() {
  if (caller_fd_ >= 0) close(caller_fd_);
  if (position_fd_ >= 0) close(position_fd_);
}

bool SipPeer::Open(uint16_t caller_port, uint16_t position_port, const sockaddr_in& server) {
  server_ = server;
  caller_fd_ = BindUdp(ip_, caller_port, 4 << 20);
  position_fd_ = BindUdp(ip_, position_port, 4 << 20);
  return caller_fd_ >= 0 && position_fd_ >= 0;
}

std::string SipPeer::SdpFor(uint16_t port) const {
  return "v=0\r\no=rtpl 1 1 IN IP4 " + ip_ + "\r\ns=-\r\nc=IN IP4 " + ip_ +
         "\r\nt=0 0\r\nm=audio " + std::to_string(port) +
         " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n";
}

void SipPeer::SendTo(int fd, const std::string& text, const sockaddr_in& to) {
  sendto(fd, text.data(), text.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
}

void SipPeer::Invite(uint32_t index) {
  if (calls_.size() <= index) calls_.resize(index + 1);
  CallerCall& c = calls_[index];
  c.stream = rtp_.Reserve(0);
  std::string sdp = SdpFor(rtp_.PortOf(c.stream));
  std::string n = std::to_string(index), port = std::to_string(LocalPort(caller_fd_));
  c.invite = "INVITE urn:service:sos SIP/2.0\r\nVia: SIP/2.0/UDP " + ip_ + ":" + port +
             ";branch=z9hG4bK-rtpl-i" + n + "\r\nMax-Forwards: 70\r\nFrom: <sip:caller" + n + "@" +
             ip_ + ">;tag=c" + n + "\r\nTo: <urn:service:sos>\r\nCall-ID: rtpl-" + n + "@" + ip_ +
             "\r\nCSeq: 1 INVITE\r\nContact: <sip:caller" + n + "@" + ip_ + ":" + port +
             ">\r\nContent-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) +
             "\r\n\r\n" + sdp;
  c.last_sent_us = NowUs();
  SendTo(caller_fd_, c.invite, server_);
}

void SipPeer::Retransmit(uint64_t now_us) {
  for (CallerCall& c : calls_) {
    if (c.final || c.invite.empty() || now_us - c.last_sent_us < 1'000'000) continue;
    c.last_sent_us = now_us;
    SendTo(caller_fd_, c.invite, server_);
  }
}

void SipPeer::OnReadable(int fd) {
  char buf[8192];
  for (;;) {
    sockaddr_in from;
    socklen_t len = sizeof(from);
    ssize_t n =
        recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) return;
    Message m;
    if (!Parse(std::string_view(buf, static_cast<size_t>(n)), &m)) continue;
    if (fd == caller_fd_) {
      OnCallerMessage(m);
    } else {
      OnPositionMessage(m, from);
    }
  }
}

void SipPeer::OnCallerMessage(const Message& m) {
  if (!m.response || m.code < 200 || !m.cseq.ends_with("INVITE")) return;
  // Call-ID rtpl-<index>@ip
  uint32_t index = 0;
  std::from_chars(m.call_id.data() + 5, m.call_id.data() + m.call_id.size(), index);
  if (!m.call_id.starts_with("rtpl-") || index >= calls_.size()) return;
  CallerCall& c = calls_[index];
  std::string n = std::to_string(index);
  if (m.code >= 300) {
    if (!c.final) {
      ++failed_;
      std::fprintf(stderr, "rtp_load: call %u: final response %d\n", index, m.code);
    }
    c.final = true;
    // Non-2xx: the ACK belongs to the INVITE transaction (same branch).
    SendTo(caller_fd_,
           "ACK urn:service:sos SIP/2.0\r\nVia: " + m.vias.front() +
               "\r\nMax-Forwards: 70\r\nFrom: " + m.from + "\r\nTo: " + m.to +
               "\r\nCall-ID: " + m.call_id + "\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
           server_);
    return;
  }
  sockaddr_in media;
  if (!c.final) {
    c.final = true;
    if (SdpAudio(m.body, &media)) {
      rtp_.SetDestination(c.stream, media);
      ++answered_;
    } else {
      ++failed_;
    }
  }
  // 2xx (first or retransmitted): a new ACK transaction; anchord's Contact is its SIP address.
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &server_.sin_addr, host, sizeof(host));
  std::string target = std::string(host) + ":" + std::to_string(ntohs(server_.sin_port));
  SendTo(caller_fd_,
         "ACK sip:anchord@" + target + " SIP/2.0\r\nVia: SIP/2.0/UDP " + ip_ + ":" +
             std::to_string(LocalPort(caller_fd_)) + ";branch=z9hG4bK-rtpl-a" + n +
             "\r\nMax-Forwards: 70\r\nFrom: " + m.from + "\r\nTo: " + m.to +
             "\r\nCall-ID: " + m.call_id + "\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
         server_);
}

void SipPeer::OnPositionMessage(const Message& m, const sockaddr_in& from) {
  if (m.response) return;  // anchord's BYE answers etc. are not expected in a benchmark
  if (m.method == "ACK") return;
  if (m.method == "OPTIONS") {
    ++options_;
    // sip:p<N>@...: count each position once.
    uint32_t pos = 0;
    if (m.uri.starts_with("sip:p") &&
        std::from_chars(m.uri.data() + 5, m.uri.data() + m.uri.size(), pos).ec == std::errc()) {
      if (probed_.size() <= pos) probed_.resize(pos + 1);
      if (!probed_[pos]) ++probed_count_;
      probed_[pos] = true;
    }
    pace_ = true;
    Reply(m, from, 200, "OK", "");
    pace_ = false;
    return;
  }
  if (m.method == "INVITE") {
    auto [it, fresh] = pos_calls_.try_emplace(m.call_id, 0);
    if (fresh) {
      it->second = rtp_.Reserve(1);
      sockaddr_in media;
      if (SdpAudio(m.body, &media)) rtp_.SetDestination(it->second, media);
    }
    if (it->second != kEnded) Reply(m, from, 200, "OK", SdpFor(rtp_.PortOf(it->second)));
    return;
  }
  if (m.method == "BYE") {
    // anchord ended this position's leg (it went silent, say): stop streaming to a closed port.
    auto it = pos_calls_.find(m.call_id);
    if (it != pos_calls_.end() && it->second != kEnded) {
      rtp_.Stop(it->second);
      it->second = kEnded;
      ++pos_byes_;
    }
  }
  Reply(m, from, 200, "OK", "");  // BYE, CANCEL, anything else
}

void SipPeer::Reply(const Message& req, const sockaddr_in& to, int code, std::string_view reason,
                    const std::string& body) {
  std::string r = "SIP/2.0 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  for (const std::string& via : req.vias) r += "Via: " + via + "\r\n";
  r += "From: " + req.from + "\r\nTo: " + req.to;
  if (req.to.find(";tag=") == std::string::npos) {
    r += ";tag=p" + std::to_string(std::hash<std::string>{}(req.call_id) & 0xFFFFFF);
  }
  r += "\r\nCall-ID: " + req.call_id + "\r\nCSeq: " + req.cseq + "\r\nContact: <sip:p@" + ip_ +
       ":" + std::to_string(LocalPort(position_fd_)) + ">\r\n";
  if (!body.empty()) r += "Content-Type: application/sdp\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (pace_) {
    paced_.emplace_back(std::move(r), to);
  } else {
    SendTo(position_fd_, r, to);
  }
}

void SipPeer::FlushPaced(uint64_t now_us) {
  uint64_t budget = std::max<uint64_t>(1, (now_us - last_flush_us_) / 50);
  last_flush_us_ = now_us;
  for (; budget > 0 && !paced_.empty(); --budget) {
    SendTo(position_fd_, paced_.front().first, paced_.front().second);
    paced_.pop_front();
  }
}

}  // namespace anchord::bench
