// MediaService end to end on 127.0.0.1 for issue 4: transcoding between PCMU, G.722 and Opus
// legs, loss and jitter injected by the test's phones, tone-onset latency, latching against a
// spoofed source, RFC 4733 forwarding with OnDtmf, and TTY through the bridge with OnTtyText.
// Phones are test-owned UDP sockets with media/codec encoders and decoders; audio is checked
// by what is heard (Goertzel) or byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "audio_test_util.h"
#include "core/clock.h"
#include "media/codec/codec_factory.h"
#include "media/media_service.h"
#include "media/tty/tty_decoder.h"
#include "tty_test_signal.h"

namespace anchord::media {
namespace {

using testing::LoopThread;
using testing::Pacer;

constexpr CallId kCall{9};
constexpr uint8_t kTePt = 101;

struct Event {
  LegId leg;
  char digit;
  uint32_t duration_ms;
};

class Events : public MediaEvents {
 public:
  void OnLegSilent(CallId, LegId) override {}
  void OnGapMeasured(CallId, LegId, uint32_t) override {}
  void OnDtmf(CallId, LegId leg, char digit, uint32_t ms) override {
    std::lock_guard lock(mutex_);
    dtmf_.push_back({leg, digit, ms});
  }
  void OnTtyText(CallId, LegId leg, const std::string& text) override {
    std::lock_guard lock(mutex_);
    tty_[leg.value] += text;
  }
  std::vector<Event> dtmf() {
    std::lock_guard lock(mutex_);
    return dtmf_;
  }
  std::string tty(LegId leg) {
    std::lock_guard lock(mutex_);
    return tty_[leg.value];
  }

 private:
  std::mutex mutex_;
  std::vector<Event> dtmf_;
  std::map<uint64_t, std::string> tty_;
};

int NativeRate(Codec c) { return c == Codec::kPcmu || c == Codec::kPcma ? 8000 : 16000; }
uint8_t Pt(Codec c) {
  switch (c) {
    case Codec::kPcmu:
      return 0;
    case Codec::kPcma:
      return 8;
    case Codec::kG722:
      return 9;
    case Codec::kOpus:
      return 111;
  }
  return 0;
}

double Level(const std::vector<int16_t>& x, double freq, int rate) {
  const double coeff = 2 * std::cos(2 * M_PI * freq / rate);
  double s1 = 0, s2 = 0;
  for (int16_t v : x) {
    const double s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const double p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return 2 * std::sqrt(std::max(p, 0.0)) / static_cast<double>(x.size());
}

struct Packet {
  uint8_t pt;
  bool marker;
  uint16_t seq;
  uint32_t ts;
  uint32_t ssrc;
  std::vector<uint8_t> payload;
  uint64_t at_us;
};

// A phone: its own socket, codec, SSRC, sequence and timestamp.
class Phone {
 public:
  Phone(Codec codec, uint32_t ssrc) : codec_(codec), ssrc_(ssrc) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    encoder_ = std::move(*codec::CreateEncoder(codec::SpecFor(codec), NativeRate(codec)));
    decoder_ = std::move(*codec::CreateDecoder(codec::SpecFor(codec), NativeRate(codec)));
  }
  ~Phone() { close(fd_); }
  uint16_t port() const { return port_; }
  Codec codec() const { return codec_; }
  int rate() const { return NativeRate(codec_); }
  size_t frame() const { return codec::FrameSamples(rate()); }
  uint32_t step() const { return codec_ == Codec::kOpus ? 960 : 160; }
  RemoteMedia Remote(uint8_t te_pt = 0) const {
    return RemoteMedia{"127.0.0.1", port_, codec_, Pt(codec_), te_pt};
  }

  // Builds the next audio packet from `pcm` (one frame at rate()) and advances seq/ts.
  std::vector<uint8_t> NextAudio(const int16_t* pcm) {
    uint8_t payload[codec::kMaxPayloadBytes];
    size_t n = encoder_->Encode({pcm, frame()}, payload);
    auto p = Build(Pt(codec_), false, seq_++, ts_, {payload, n});
    ts_ += step();
    return p;
  }
  std::vector<uint8_t> Build(uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                             std::span<const uint8_t> payload) const {
    std::vector<uint8_t> p(12 + payload.size());
    p[0] = 0x80;
    p[1] = static_cast<uint8_t>(pt | (marker ? 0x80 : 0));
    p[2] = static_cast<uint8_t>(seq >> 8);
    p[3] = static_cast<uint8_t>(seq);
    for (int i = 0; i < 4; ++i) {
      p[4 + i] = static_cast<uint8_t>(ts >> (24 - 8 * i));
      p[8 + i] = static_cast<uint8_t>(ssrc_ >> (24 - 8 * i));
    }
    std::copy(payload.begin(), payload.end(), p.begin() + 12);
    return p;
  }
  void SendTo(uint16_t port, const std::vector<uint8_t>& p) const {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    sendto(fd_, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  }
  uint16_t& seq() { return seq_; }
  uint32_t& ts() { return ts_; }

  // Reads what arrived; audio of this phone's codec is decoded into heard().
  void Drain() {
    uint8_t buf[2048];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 12) break;
      Packet p;
      p.pt = buf[1] & 0x7F;
      p.marker = (buf[1] & 0x80) != 0;
      p.seq = static_cast<uint16_t>(buf[2] << 8 | buf[3]);
      p.ts = uint32_t{buf[4]} << 24 | uint32_t{buf[5]} << 16 | uint32_t{buf[6]} << 8 | buf[7];
      p.ssrc = uint32_t{buf[8]} << 24 | uint32_t{buf[9]} << 16 | uint32_t{buf[10]} << 8 | buf[11];
      const size_t header = 12 + 4u * (buf[0] & 0x0F);
      p.payload.assign(buf + header, buf + n);
      p.at_us = core::MonotonicUs();
      if (p.pt == Pt(codec_)) {
        std::vector<int16_t> pcm(frame());
        decoder_->Decode(p.payload, pcm);
        heard_.insert(heard_.end(), pcm.begin(), pcm.end());
        frame_times_.push_back(p.at_us);
      }
      packets_.push_back(std::move(p));
    }
  }
  const std::vector<Packet>& packets() const { return packets_; }
  // The last `frames` frames heard.
  std::vector<int16_t> Tail(size_t frames) const {
    size_t n = std::min(heard_.size(), frames * frame());
    return {heard_.end() - static_cast<ptrdiff_t>(n), heard_.end()};
  }
  // Arrival time of the first frame at or after frame index `from` whose `freq` level is over
  // `level`; 0 if none.
  uint64_t FirstFrameWith(double freq, double level, size_t from = 0) const {
    for (size_t f = from; (f + 1) * frame() <= heard_.size(); ++f) {
      std::vector<int16_t> x(heard_.begin() + static_cast<ptrdiff_t>(f * frame()),
                             heard_.begin() + static_cast<ptrdiff_t>((f + 1) * frame()));
      if (Level(x, freq, rate()) > level) return frame_times_[f];
    }
    return 0;
  }
  size_t frames_heard() const { return frame_times_.size(); }

 private:
  Codec codec_;
  uint32_t ssrc_;
  int fd_ = -1;
  uint16_t port_ = 0;
  uint16_t seq_ = 2000;
  uint32_t ts_ = 90000;
  std::unique_ptr<codec::Encoder> encoder_;
  std::unique_ptr<codec::Decoder> decoder_;
  std::vector<int16_t> heard_;
  std::vector<uint64_t> frame_times_;
  std::vector<Packet> packets_;
};

// One frame of a continuous sine at `rate`.
std::vector<int16_t> SineFrame(double freq, int rate, uint32_t index, double amp = 6000) {
  const size_t n = codec::FrameSamples(rate);
  std::vector<int16_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(index * n + i) / rate;
    out[i] = static_cast<int16_t>(amp * std::sin(2 * M_PI * freq * t));
  }
  return out;
}

class MediaBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MediaOptions options;
    options.port_min = 44000;
    options.port_max = 44999;
    options.workers = 1;
    auto created = MediaService::Create(options, signaling_.loop(), &events_);
    ASSERT_TRUE(created) << created.error().message;
    service_ = std::move(*created);
    ASSERT_TRUE(service_->Start());
  }
  void TearDown() override {
    if (service_) service_->Stop();
  }
  uint16_t AddLeg(LegId leg, const Phone& phone, uint8_t te_pt = 0) {
    return signaling_.Call([&] {
      auto local = service_->CreateLeg(kCall, leg);
      EXPECT_TRUE(local) << local.error().message;
      service_->SetRemote(leg, phone.Remote(te_pt));
      service_->Connect(leg);
      return local ? local->rtp_port : uint16_t{0};
    });
  }
  std::optional<LegStats> Stats(LegId leg) {
    return signaling_.Call([&] { return service_->GetLegStats(leg); });
  }

  Events events_;
  LoopThread signaling_;
  std::unique_ptr<MediaService> service_;
  Pacer pacer_;
};

// --- jitter buffer shrink ----------------------------------------------------------------------

// Issue 4: a buffer that holds more than it needs gives the surplus back only on near-silent
// frames. A's first packets arrive in a burst (surplus), then it streams steadily: silence is
// skipped (counted, not lost), a steady tone is never skipped.
class ShrinkTest : public MediaBridgeTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ShrinkTest, SurplusGoesOnlyInSilence) {
  const bool speech = GetParam();
  Phone a(Codec::kPcmu, 0xA5), b(Codec::kPcmu, 0xB5);
  const uint16_t port_a = AddLeg(LegId{1}, a);
  AddLeg(LegId{2}, b);
  uint32_t frame = 0;
  auto next = [&] {
    auto pcm = speech ? SineFrame(1000, 8000, frame) : std::vector<int16_t>(160, 0);
    ++frame;
    return a.NextAudio(pcm.data());
  };
  for (int i = 0; i < 6; ++i) a.SendTo(port_a, next());  // 120 ms at once: surplus
  for (int i = 0; i < 200; ++i) {                        // then 4 s, one per 20 ms
    pacer_.Wait();
    a.SendTo(port_a, next());
    b.Drain();
  }
  const auto stats = Stats(LegId{1});
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->lost, 0u);
  EXPECT_EQ(stats->dropped, 0u);
  if (speech) {
    EXPECT_EQ(stats->skipped_silent, 0u) << "a speech frame was skipped";
    EXPECT_GT(Level(b.Tail(50), 1000, 8000), 2500.0);
  } else {
    EXPECT_GE(stats->skipped_silent, 1u) << "the surplus was never given back in silence";
  }
}

INSTANTIATE_TEST_SUITE_P(SilenceOrSpeech, ShrinkTest, ::testing::Bool());

// --- transcoding ------------------------------------------------------------------------------

struct CodecPair {
  Codec a, b;
};

class TranscodingTest : public MediaBridgeTest, public ::testing::WithParamInterface<CodecPair> {};

TEST_P(TranscodingTest, EachSideHearsTheOther) {
  Phone a(GetParam().a, 0xA1), b(GetParam().b, 0xB1);
  const uint16_t port_a = AddLeg(LegId{1}, a), port_b = AddLeg(LegId{2}, b);
  for (uint32_t i = 0; i < 100; ++i) {
    a.SendTo(port_a, a.NextAudio(SineFrame(1000, a.rate(), i).data()));
    b.SendTo(port_b, b.NextAudio(SineFrame(600, b.rate(), i).data()));
    pacer_.Wait();
    a.Drain();
    b.Drain();
  }
  ASSERT_GE(a.frames_heard(), 80u);
  ASSERT_GE(b.frames_heard(), 80u);
  auto at_b = b.Tail(25), at_a = a.Tail(25);
  EXPECT_GT(Level(at_b, 1000, b.rate()), 3000.0);
  EXPECT_LT(Level(at_b, 600, b.rate()), 300.0);
  EXPECT_GT(Level(at_a, 600, a.rate()), 3000.0);
  EXPECT_LT(Level(at_a, 1000, a.rate()), 300.0);
  // Invariant 2 with the codec's own timestamp step.
  const auto& p = b.packets();
  for (size_t i = 1; i < p.size(); ++i) {
    ASSERT_EQ(static_cast<uint16_t>(p[i - 1].seq + 1), p[i].seq);
    ASSERT_EQ(p[i - 1].ts + b.step(), p[i].ts);
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, TranscodingTest,
                         ::testing::Values(CodecPair{Codec::kPcmu, Codec::kG722},
                                           CodecPair{Codec::kPcmu, Codec::kOpus},
                                           CodecPair{Codec::kG722, Codec::kOpus},
                                           CodecPair{Codec::kPcma, Codec::kPcmu}));

// --- loss, jitter, latency --------------------------------------------------------------------

struct Impairment {
  double loss;
  uint32_t jitter_ms;
};

class ImpairedTest : public MediaBridgeTest, public ::testing::WithParamInterface<Impairment> {};

// A sends silence, then a 1 kHz tone from frame 100, through random loss and up to jitter_ms of
// extra delay per packet (reordering included). B must hear the tone, the counters must match
// what was dropped, and the onset must arrive within 200 ms + one tick of when it was sent.
TEST_P(ImpairedTest, ToneSurvivesAndLatencyIsBounded) {
  const Impairment imp = GetParam();
  Phone a(Codec::kPcmu, 0xA2), b(Codec::kPcmu, 0xB2);
  const uint16_t port_a = AddLeg(LegId{1}, a);
  AddLeg(LegId{2}, b);
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> uni(0, 1);
  struct Pending {
    uint64_t due_us;
    std::vector<uint8_t> bytes;
    uint32_t index;
  };
  std::deque<Pending> queue;
  constexpr uint32_t kFrames = 250, kOnset = 100;
  uint32_t dropped = 0;
  uint64_t onset_sent_us = 0;
  const uint64_t start = core::MonotonicUs();
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (uint32_t step = 0; step < kFrames * 4; ++step) {  // 5 ms steps
    const uint64_t now = core::MonotonicUs();
    if (step % 4 == 0) {
      const uint32_t i = step / 4;
      auto pcm = i >= kOnset ? SineFrame(1000, 8000, i) : std::vector<int16_t>(160, 0);
      auto bytes = a.NextAudio(pcm.data());
      if (i != kOnset && uni(rng) < imp.loss) {
        ++dropped;
      } else {
        uint64_t delay = static_cast<uint64_t>(uni(rng) * imp.jitter_ms * 1000);
        queue.push_back({now + delay, std::move(bytes), i});
      }
    }
    std::stable_sort(queue.begin(), queue.end(),
                     [](const Pending& x, const Pending& y) { return x.due_us < y.due_us; });
    while (!queue.empty() && queue.front().due_us <= now) {
      a.SendTo(port_a, queue.front().bytes);
      if (queue.front().index == kOnset) onset_sent_us = core::MonotonicUs();
      queue.pop_front();
    }
    b.Drain();
    next.tv_nsec += 5'000'000;
    if (next.tv_nsec >= 1'000'000'000) {
      next.tv_nsec -= 1'000'000'000;
      ++next.tv_sec;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
  for (auto& late : queue) a.SendTo(port_a, late.bytes);  // what the jitter still held
  Pacer after;                                            // pacer_ is 5 s behind: it would not wait
  for (int i = 0; i < 15; ++i) {
    after.Wait();
    b.Drain();
  }
  ASSERT_GT(onset_sent_us, start);
  const uint64_t heard_us = b.FirstFrameWith(1000, 1000);
  ASSERT_GT(heard_us, 0u) << "the tone never reached B";
  const double latency_ms = static_cast<double>(heard_us - onset_sent_us) / 1000.0;
  RecordProperty("onset_latency_ms", static_cast<int>(latency_ms));
  EXPECT_LE(latency_ms, 200.0 + 20.0 + 5.0);  // the bound, one tick, one test step
  EXPECT_GT(Level(b.Tail(60), 1000, 8000), 2500.0);

  auto stats = Stats(LegId{1});
  ASSERT_TRUE(stats);
  RecordProperty("lost", static_cast<int>(stats->lost));
  RecordProperty("late", static_cast<int>(stats->late));
  RecordProperty("target_ms", static_cast<int>(stats->jitter_target_ms));
  EXPECT_EQ(stats->received, kFrames - dropped);
  // Every packet the phone dropped is lost (or, at a stream end, never due); a late packet is
  // both late and lost; concealment covers the losses and the buffer's stalls.
  EXPECT_GE(stats->lost + 2, dropped);
  EXPECT_LE(stats->lost, dropped + stats->late + stats->dropped + 12);
  EXPECT_GE(stats->concealed, stats->lost - std::min<uint64_t>(stats->lost, 12));
  if (imp.jitter_ms > 0) {
    EXPECT_GT(stats->jitter_us, 1000u);
  }
  EXPECT_LE(stats->jitter_target_ms, 200u);
}

INSTANTIATE_TEST_SUITE_P(LossAndJitter, ImpairedTest,
                         ::testing::Values(Impairment{0.05, 0}, Impairment{0.20, 0},
                                           Impairment{0.05, 60}, Impairment{0.20, 60}));

// --- latching ---------------------------------------------------------------------------------

TEST_F(MediaBridgeTest, OneSpoofedPacketDoesNotHijackTheLeg) {
  Phone a(Codec::kPcmu, 0xA3), b(Codec::kPcmu, 0xB3), attacker(Codec::kPcmu, 0xA3);
  const uint16_t port_a = AddLeg(LegId{1}, a);
  const uint16_t port_b = AddLeg(LegId{2}, b);
  size_t a_before = 0;
  for (uint32_t i = 0; i < 60; ++i) {
    if (i == 30) {
      // Right SSRC, the next sequence number and timestamp, from another port.
      auto spoof = attacker.Build(0, false, a.seq(), a.ts(), std::vector<uint8_t>(160, 0x00));
      attacker.SendTo(port_a, spoof);
      a_before = a.packets().size();
    }
    if (i < 30 || i >= 35) a.SendTo(port_a, a.NextAudio(SineFrame(1000, 8000, i).data()));
    b.SendTo(port_b, b.NextAudio(SineFrame(600, 8000, i).data()));
    pacer_.Wait();
    a.Drain();
    b.Drain();
    attacker.Drain();
  }
  EXPECT_TRUE(attacker.packets().empty()) << "the leg's audio went to the spoofing source";
  EXPECT_GE(a.packets().size(), a_before + 25);
  EXPECT_GT(Level(a.Tail(10), 600, 8000), 3000.0);
  EXPECT_GT(Level(b.Tail(10), 1000, 8000), 3000.0);
  EXPECT_EQ(service_->Counters().latches, 0u);
  EXPECT_GE(service_->Counters().rtp_foreign_source, 1u);
}

TEST_F(MediaBridgeTest, PeerMovingToAnotherPortIsLatchedAfterConsecutivePackets) {
  Phone a(Codec::kPcmu, 0xA4), moved(Codec::kPcmu, 0xA4), b(Codec::kPcmu, 0xB4);
  const uint16_t port_a = AddLeg(LegId{1}, a);
  const uint16_t port_b = AddLeg(LegId{2}, b);
  for (uint32_t i = 0; i < 80; ++i) {
    // At frame 30 the phone's NAT binding changes: same SSRC and sequence, new source port.
    Phone& from = i < 30 ? a : moved;
    if (i >= 30) {
      moved.seq() = a.seq();
      moved.ts() = a.ts();
    }
    auto bytes = from.NextAudio(SineFrame(1000, 8000, i).data());
    if (i >= 30) {
      a.seq() = moved.seq();
      a.ts() = moved.ts();
    }
    from.SendTo(port_a, bytes);
    b.SendTo(port_b, b.NextAudio(SineFrame(600, 8000, i).data()));
    pacer_.Wait();
    moved.Drain();
    b.Drain();
  }
  EXPECT_EQ(service_->Counters().latches, 1u);
  auto stats = Stats(LegId{1});
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->latched);
  ASSERT_FALSE(moved.packets().empty());
  EXPECT_GT(Level(moved.Tail(10), 600, 8000), 3000.0);
  EXPECT_GT(Level(b.Tail(10), 1000, 8000), 3000.0);
}

// --- RFC 4733 ---------------------------------------------------------------------------------

TEST_F(MediaBridgeTest, DtmfIsForwardedAsTelephoneEventAndReportedOnce) {
  Phone a(Codec::kPcmu, 0xA5), b(Codec::kPcmu, 0xB5);
  const uint16_t port_a = AddLeg(LegId{1}, a, kTePt);
  const uint16_t port_b = AddLeg(LegId{2}, b, kTePt);
  uint32_t event_ts = 0;
  for (uint32_t i = 0; i < 60; ++i) {
    if (i >= 20 && i < 30) {
      // Digit '5': 7 packets growing by 160, then the end packet three times.
      if (i == 20) event_ts = a.ts();
      const bool end = i >= 27;
      const uint16_t duration = static_cast<uint16_t>(160 * std::min<uint32_t>(i - 19, 8));
      const uint8_t payload[4] = {5, static_cast<uint8_t>((end ? 0x80 : 0) | 10),
                                  static_cast<uint8_t>(duration >> 8),
                                  static_cast<uint8_t>(duration)};
      a.SendTo(port_a, a.Build(kTePt, i == 20, a.seq()++, event_ts, payload));
      if (i == 29) a.ts() += 160 * 10;
    } else {
      a.SendTo(port_a, a.NextAudio(SineFrame(1000, 8000, i).data()));
    }
    b.SendTo(port_b, b.NextAudio(SineFrame(600, 8000, i).data()));
    pacer_.Wait();
    b.Drain();
  }
  std::vector<Packet> te;
  for (const auto& p : b.packets()) {
    if (p.pt == kTePt) te.push_back(p);
  }
  ASSERT_GE(te.size(), 4u) << "no telephone-event reached B";
  EXPECT_TRUE(te.front().marker);
  for (const auto& p : te) {
    EXPECT_EQ(p.payload.size(), 4u);
    EXPECT_EQ(p.payload[0], 5);
    EXPECT_EQ(p.ts, te.front().ts);
  }
  EXPECT_TRUE(te.back().payload[1] & 0x80) << "the forwarded event never ended";
  // Paced on the tick, not a burst.
  EXPECT_GE(te.back().at_us - te.front().at_us, 100'000u);
  // The stream toward B stays one sequence.
  const auto& all = b.packets();
  for (size_t i = 1; i < all.size(); ++i) {
    ASSERT_EQ(static_cast<uint16_t>(all[i - 1].seq + 1), all[i].seq);
  }
  uint64_t deadline = core::MonotonicUs() + 1'000'000;
  while (events_.dtmf().empty() && core::MonotonicUs() < deadline) pacer_.Wait();
  auto dtmf = events_.dtmf();
  ASSERT_EQ(dtmf.size(), 1u);
  EXPECT_EQ(dtmf[0].leg, LegId{1});
  EXPECT_EQ(dtmf[0].digit, '5');
  EXPECT_EQ(dtmf[0].duration_ms, 160u);
}

// --- TTY --------------------------------------------------------------------------------------

TEST_F(MediaBridgeTest, TtyFromTheCallerIsDecodedAndPassesThroughBitExact) {
  Phone a(Codec::kPcmu, 0xA6), b(Codec::kPcmu, 0xB6);
  const uint16_t port_a = AddLeg(LegId{1}, a);
  const uint16_t port_b = AddLeg(LegId{2}, b);
  const std::string kText = "HELP 911 FIRE";
  auto tty = testing::MakeTty(kText, testing::TtyRate::k45, 200, 600);
  const size_t frames = tty.size() / 160;
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < frames + 20; ++i) {
    std::vector<int16_t> pcm(160, 0);
    if (i < frames) std::copy_n(tty.begin() + i * 160, 160, pcm.begin());
    auto bytes = a.NextAudio(pcm.data());
    sent.emplace_back(bytes.begin() + 12, bytes.end());
    a.SendTo(port_a, bytes);
    b.SendTo(port_b, b.NextAudio(std::vector<int16_t>(160, 0).data()));
    pacer_.Wait();
    b.Drain();
  }
  uint64_t deadline = core::MonotonicUs() + 2'000'000;
  while (events_.tty(LegId{1}).size() < kText.size() && core::MonotonicUs() < deadline) {
    pacer_.Wait();
  }
  EXPECT_EQ(events_.tty(LegId{1}), kText);
  EXPECT_EQ(events_.tty(LegId{2}), "");
  // B got A's payloads unchanged (invariant 3): every TTY frame A sent reached B byte for byte,
  // and B's stream decodes to the same text. (Silence and steady mark-hold frames repeat, so
  // frames are matched as a set, not by position.)
  const std::vector<uint8_t> silence(160, 0xFF);
  std::set<std::vector<uint8_t>> sent_set(sent.begin(), sent.end()), heard_set;
  std::vector<int16_t> heard;
  for (const auto& p : b.packets()) {
    if (p.pt != 0) continue;
    if (sent_set.contains(p.payload) && p.payload != silence) heard_set.insert(p.payload);
    for (uint8_t byte : p.payload) heard.push_back(ulaw_to_linear(byte));
  }
  sent_set.erase(silence);
  EXPECT_GE(heard_set.size() + 2, sent_set.size());
  auto decoder = std::move(*tty::TtyDecoder::Create());
  decoder->Process(heard);
  decoder->Process(std::vector<int16_t>(8000, 0));
  char text[64];
  EXPECT_EQ(std::string(text, decoder->ReadChars(text)), kText);
}

}  // namespace
}  // namespace anchord::media
