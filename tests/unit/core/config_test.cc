#include "core/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace anchord::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The errors of a text that must fail (an empty list if it unexpectedly parses).
ConfigErrors ErrorsOf(std::string_view text) {
  auto result = ParseConfig(text, "t.toml");
  if (result) return {};
  return result.error();
}

Config MustParse(std::string_view text) {
  auto result = ParseConfig(text, "t.toml");
  EXPECT_TRUE(result.has_value()) << (result ? "" : ::testing::PrintToString(result.error()));
  return result.value_or(Config{});
}

constexpr char kPos[] = "[[positions]]\nname = \"a\"\nuri = \"sip:a@10.0.0.1\"\n";

TEST(ConfigTest, DefaultParsesToExpectedValues) {
  auto result = ParseConfig(DefaultConfigText(), "<default>");
  ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(result.error());
  const Config& c = *result;
  ASSERT_EQ(c.sip.listen.size(), 2u);
  EXPECT_EQ(c.sip.listen[0].transport, Transport::kUdp);
  EXPECT_EQ(c.sip.listen[0].host, "127.0.0.1");
  EXPECT_EQ(c.sip.listen[0].port, 5060);
  EXPECT_EQ(c.sip.listen[1].transport, Transport::kTcp);
  EXPECT_EQ(c.sip.listen[1].host, "127.0.0.1");
  EXPECT_EQ(c.sip.listen[1].port, 5060);
  EXPECT_EQ(c.sip.ring_timeout_ms, 15000u);
  EXPECT_EQ(c.sip.t1_ms, 500u);
  EXPECT_EQ(c.media.address, "127.0.0.1");
  EXPECT_EQ(c.media.port_min, 30000);
  EXPECT_EQ(c.media.port_max, 39999);
  EXPECT_EQ(c.media.workers, 1u);
  EXPECT_EQ(c.media.mixer_isa, "auto");
  EXPECT_EQ(c.failover.heartbeat_ms, 100u);
  EXPECT_EQ(c.failover.misses, 3u);
  EXPECT_EQ(c.failover.rtp_timeout_ms, 300u);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.control.listen, "127.0.0.1:8089");
  EXPECT_EQ(c.queue.max_calls, 16u);
  EXPECT_EQ(c.queue.max_wait_s, 300u);
  EXPECT_EQ(c.queue.overflow_status, 486u);
  ASSERT_EQ(c.positions.size(), 2u);
  EXPECT_FALSE(c.positions[0].automaton);
  EXPECT_EQ(c.positions[0].name, "pos1");
  EXPECT_EQ(c.positions[0].uri, "sip:pos1@127.0.0.1:15010");
  EXPECT_EQ(c.positions[0].standby, "pos2");
  EXPECT_EQ(c.positions[0].location, LocationMode::kNone);
  EXPECT_EQ(c.positions[1].name, "pos2");
  EXPECT_EQ(c.positions[1].uri, "sip:pos2@127.0.0.1:15020");
  EXPECT_EQ(c.positions[1].standby, "pos1");
  EXPECT_EQ(c.positions[1].location, LocationMode::kNone);
}

TEST(ConfigTest, DefaultTextExplainsEveryKey) {
  // Each key of the schema appears as an assignment in the embedded default.
  for (const char* key :
       {"listen =", "ring_timeout_ms =", "t1_ms =", "address =", "port_min =", "port_max =",
        "workers =", "mixer_isa =", "heartbeat_ms =", "misses =", "rtp_timeout_ms =", "level =",
        "name =", "uri =", "standby =", "location ="}) {
    EXPECT_NE(DefaultConfigText().find(key), std::string_view::npos) << key;
  }
}

TEST(ConfigTest, MinimalFileTakesDefaults) {
  Config c = MustParse(kPos);
  Config defaults;
  ASSERT_EQ(c.sip.listen.size(), 2u);
  EXPECT_EQ(c.sip.listen[0].transport, Transport::kUdp);
  EXPECT_EQ(c.sip.listen[1].transport, Transport::kTcp);
  EXPECT_EQ(c.sip.listen[1].host, "127.0.0.1");
  EXPECT_EQ(c.sip.listen[1].port, 5060);
  EXPECT_EQ(c.sip.ring_timeout_ms, defaults.sip.ring_timeout_ms);
  EXPECT_EQ(c.media.port_min, 30000);
  EXPECT_EQ(c.media.port_max, 39999);
  EXPECT_EQ(c.failover.misses, 3u);
  EXPECT_EQ(c.log.level, "info");
  ASSERT_EQ(c.positions.size(), 1u);
  EXPECT_EQ(c.positions[0].name, "a");
  EXPECT_EQ(c.positions[0].uri, "sip:a@10.0.0.1:5060");  // port made explicit
  EXPECT_EQ(c.positions[0].standby, "");
  EXPECT_EQ(c.positions[0].location, LocationMode::kMultipart);
}

TEST(ConfigTest, EmptyFileHasNoPositions) {
  Config c = MustParse("");
  EXPECT_THAT(c.positions, IsEmpty());
  EXPECT_EQ(c.sip.listen.size(), 2u);
}

TEST(ConfigTest, ParsesExplicitValues) {
  Config c = MustParse(R"([sip]
listen = ["tcp:0.0.0.0:0", "udp:192.168.1.2:5070"]
t1_ms = 50
t2_ms = 100
[media]
address = "10.1.2.3"
port_min = 1024
port_max = 1025
workers = 64
mixer_isa = "avx2"
[log]
level = "debug"
[[positions]]
name = "Desk_1-a"
uri = "sip:desk1@10.0.0.9:5080"
location = "reference"
)");
  ASSERT_EQ(c.sip.listen.size(), 2u);
  EXPECT_EQ(c.sip.listen[0].transport, Transport::kTcp);
  EXPECT_EQ(c.sip.listen[0].host, "0.0.0.0");
  EXPECT_EQ(c.sip.listen[0].port, 0);
  EXPECT_EQ(c.sip.listen[1].host, "192.168.1.2");
  EXPECT_EQ(c.sip.listen[1].port, 5070);
  EXPECT_EQ(c.sip.t1_ms, 50u);
  EXPECT_EQ(c.sip.t2_ms, 100u);
  EXPECT_EQ(c.media.address, "10.1.2.3");
  EXPECT_EQ(c.media.port_min, 1024);
  EXPECT_EQ(c.media.port_max, 1025);
  EXPECT_EQ(c.media.workers, 64u);
  EXPECT_EQ(c.media.mixer_isa, "avx2");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.positions[0].uri, "sip:desk1@10.0.0.9:5080");
  EXPECT_EQ(c.positions[0].location, LocationMode::kReference);
}

TEST(ConfigTest, InlinePositionsAndMutualStandby) {
  Config c = MustParse(
      "positions = [\n"
      "  {name = \"a\", uri = \"sip:a@10.0.0.1:5062\", standby = \"b\", location = "
      "\"multipart\"},\n"
      "  {name = \"b\", uri = \"sip:b@10.0.0.2\", standby = \"a\"},\n"
      "]\n");
  ASSERT_EQ(c.positions.size(), 2u);
  EXPECT_EQ(c.positions[0].standby, "b");
  EXPECT_EQ(c.positions[0].location, LocationMode::kMultipart);
  EXPECT_EQ(c.positions[1].uri, "sip:b@10.0.0.2:5060");
  EXPECT_EQ(c.positions[1].standby, "a");
  EXPECT_THAT(ErrorsOf("positions = [{name = \"a\", uri = \"sip:a@10.0.0.1\", x = 1}, 3]\n"),
              ElementsAre("t.toml:1: positions[0].x: unknown key",
                          "t.toml:1: positions[1]: expected a table, got an integer"));
}

TEST(ConfigTest, UnknownTopLevelKeyAndTable) {
  EXPECT_THAT(ErrorsOf("colour = 1\n\n[extras]\nx = 1\n"),
              ElementsAre("t.toml:1: colour: unknown key", "t.toml:3: extras: unknown table"));
}

TEST(ConfigTest, UnknownKeyInTable) {
  EXPECT_THAT(ErrorsOf("[failover]\nmisses = 3\nheartbeat = 100\n"),
              ElementsAre("t.toml:3: failover.heartbeat: unknown key"));
}

TEST(ConfigTest, UnknownSubTable) {
  EXPECT_THAT(ErrorsOf("[sip.tls]\ncert = \"x\"\n"),
              ElementsAre("t.toml:1: sip.tls: unknown table"));
}

TEST(ConfigTest, UnknownKeyInPosition) {
  EXPECT_THAT(ErrorsOf(std::string(kPos) + "[[positions]]\n" +
                       "name = \"b\"\nuri = \"sip:b@10.0.0.2\"\ncolor = \"red\"\n"),
              ElementsAre("t.toml:7: positions[1].color: unknown key"));
}

TEST(ConfigTest, WrongTypes) {
  EXPECT_THAT(
      ErrorsOf(R"([sip]
t1_ms = "500"
listen = "udp:127.0.0.1:5060"
[media]
workers = 1.5
address = 10
)"),
      ElementsAre("t.toml:2: sip.t1_ms: expected an integer, got a string",
                  "t.toml:3: sip.listen: expected an array of strings, got a string",
                  "t.toml:5: media.workers: expected an integer, got a floating-point number",
                  "t.toml:6: media.address: expected a string, got an integer"));
}

TEST(ConfigTest, SectionOfWrongType) {
  EXPECT_THAT(
      ErrorsOf("log = \"debug\"\npositions = 3\n"),
      ElementsAre("t.toml:1: log: expected a table, got a string",
                  "t.toml:2: positions: expected an array of tables ([[positions]]), got an "
                  "integer"));
}

// T2 may be shortened down to T1 but not lengthened past osip2's compile-time 4 s.
TEST(ConfigTest, T2BetweenT1And4000) {
  EXPECT_EQ(MustParse("").sip.t2_ms, 4000u);
  EXPECT_THAT(ErrorsOf("[sip]\nt1_ms = 200\nt2_ms = 100\n"),
              ElementsAre("t.toml:3: sip.t2_ms: must not be below t1_ms (200), got 100"));
  EXPECT_THAT(ErrorsOf("[sip]\nt2_ms = 4001\n"),
              ElementsAre("t.toml:2: sip.t2_ms: must be between 50 and 4000, got 4001"));
}

TEST(ConfigTest, OutOfRange) {
  EXPECT_THAT(
      ErrorsOf(R"([sip]
ring_timeout_ms = 999
t1_ms = 5001
[media]
workers = 0
port_min = 1022
[failover]
heartbeat_ms = 19
misses = 101
rtp_timeout_ms = -5
)"),
      ElementsAre("t.toml:2: sip.ring_timeout_ms: must be between 1000 and 120000, got 999",
                  "t.toml:3: sip.t1_ms: must be between 50 and 5000, got 5001",
                  "t.toml:5: media.workers: must be between 1 and 64, got 0",
                  "t.toml:6: media.port_min: must be between 1024 and 65534, got 1022",
                  "t.toml:8: failover.heartbeat_ms: must be between 20 and 60000, got 19",
                  "t.toml:9: failover.misses: must be between 1 and 100, got 101",
                  "t.toml:10: failover.rtp_timeout_ms: must be between 60 and 60000, got -5"));
}

TEST(ConfigTest, BadListenEntries) {
  EXPECT_THAT(
      ErrorsOf(R"([sip]
listen = [
  "udp:127.0.0.1:5060",
  "sctp:127.0.0.1:5060",
  "udp:localhost:5060",
  "tcp:127.0.0.1",
  "udp:127.0.0.1:65536",
  7,
  "udp:127.0.0.1:5060",
]
)"),
      ElementsAre("t.toml:4: sip.listen[1]: expected \"udp:IPv4:PORT\" or \"tcp:IPv4:PORT\", got "
                  "\"sctp:127.0.0.1:5060\"",
                  "t.toml:5: sip.listen[2]: expected \"udp:IPv4:PORT\" or \"tcp:IPv4:PORT\", got "
                  "\"udp:localhost:5060\"",
                  "t.toml:6: sip.listen[3]: expected \"udp:IPv4:PORT\" or \"tcp:IPv4:PORT\", got "
                  "\"tcp:127.0.0.1\"",
                  "t.toml:7: sip.listen[4]: expected \"udp:IPv4:PORT\" or \"tcp:IPv4:PORT\", got "
                  "\"udp:127.0.0.1:65536\"",
                  "t.toml:8: sip.listen[5]: expected a string, got an integer",
                  "t.toml:9: sip.listen[6]: duplicate of sip.listen[0]"));
}

TEST(ConfigTest, EmptyListen) {
  EXPECT_THAT(ErrorsOf("[sip]\nlisten = []\n"),
              ElementsAre("t.toml:2: sip.listen: must hold at least one address"));
}

TEST(ConfigTest, BadUris) {
  auto with_uri = [](std::string_view uri) {
    return "[[positions]]\nname = \"a\"\nuri = \"" + std::string(uri) + "\"\n";
  };
  EXPECT_THAT(ErrorsOf(with_uri("sip:a@pos.example.net:5060")),
              ElementsAre("t.toml:3: positions[0].uri: expected \"sip:user@IPv4[:port]\", got "
                          "\"sip:a@pos.example.net:5060\" (host must be a numeric IPv4 address)"));
  EXPECT_THAT(ErrorsOf(with_uri("sips:a@10.0.0.1")),
              ElementsAre("t.toml:3: positions[0].uri: expected \"sip:user@IPv4[:port]\", got "
                          "\"sips:a@10.0.0.1\" (scheme must be sip:)"));
  EXPECT_THAT(ErrorsOf(with_uri("sip:10.0.0.1")),
              ElementsAre("t.toml:3: positions[0].uri: expected \"sip:user@IPv4[:port]\", got "
                          "\"sip:10.0.0.1\" (missing user part)"));
  EXPECT_THAT(ErrorsOf(with_uri("sip:a@10.0.0.1:0")),
              ElementsAre("t.toml:3: positions[0].uri: expected \"sip:user@IPv4[:port]\", got "
                          "\"sip:a@10.0.0.1:0\" (port must be 1..65535)"));
  EXPECT_THAT(ErrorsOf(with_uri("sip:a;x@10.0.0.1")),
              ElementsAre("t.toml:3: positions[0].uri: expected \"sip:user@IPv4[:port]\", got "
                          "\"sip:a;x@10.0.0.1\" (invalid character in user part)"));
}

TEST(ConfigTest, BadEnums) {
  EXPECT_THAT(
      ErrorsOf(std::string("[media]\nmixer_isa = \"avx9\"\n[log]\nlevel = \"verbose\"\n") + kPos +
               "location = \"by-value\"\n"),
      ElementsAre("t.toml:2: media.mixer_isa: must be one of auto, scalar, sse2, avx2, avx512, "
                  "got \"avx9\"",
                  "t.toml:4: log.level: must be one of error, warning, notice, info, debug, got "
                  "\"verbose\"",
                  "t.toml:8: positions[0].location: must be one of multipart, reference, none, "
                  "got \"by-value\""));
}

TEST(ConfigTest, BadMediaAddress) {
  EXPECT_THAT(ErrorsOf("[media]\naddress = \"::1\"\n"),
              ElementsAre("t.toml:2: media.address: expected a numeric IPv4 address, got \"::1\""));
  EXPECT_THAT(ErrorsOf("[media]\naddress = \"0.0.0.0\"\n"),
              ElementsAre("t.toml:2: media.address: must be an address peers can reach (SDP "
                          "advertises it), got \"0.0.0.0\""));
}

TEST(ConfigTest, UnknownStandby) {
  EXPECT_THAT(ErrorsOf(std::string(kPos) + "standby = \"b\"\n"),
              ElementsAre("t.toml:4: positions[0].standby: no position named \"b\""));
}

TEST(ConfigTest, SelfStandby) {
  EXPECT_THAT(ErrorsOf(std::string(kPos) + "standby = \"a\"\n"),
              ElementsAre("t.toml:4: positions[0].standby: a position cannot be its own standby"));
}

TEST(ConfigTest, DuplicateAndInvalidNames) {
  EXPECT_THAT(ErrorsOf(std::string(kPos) + kPos +
                       "[[positions]]\nname = \"bad name\"\nuri = \"sip:c@10.0.0.3\"\n"),
              ElementsAre("t.toml:5: positions[1].name: duplicate of positions[0].name \"a\"",
                          "t.toml:8: positions[2].name: must match [A-Za-z0-9_-]+, got \"bad "
                          "name\""));
}

TEST(ConfigTest, MissingRequiredKeys) {
  EXPECT_THAT(ErrorsOf("[[positions]]\nstandby = \"x\"\n"),
              ElementsAre("t.toml:1: positions[0].name: missing (required)",
                          "t.toml:1: positions[0].uri: missing (required)",
                          "t.toml:2: positions[0].standby: no position named \"x\""));
}

TEST(ConfigTest, OddPortMin) {
  EXPECT_THAT(ErrorsOf("[media]\nport_min = 30001\n"),
              ElementsAre("t.toml:2: media.port_min: must be even (RTP takes even ports), got "
                          "30001"));
}

TEST(ConfigTest, PortMinNotBelowPortMax) {
  EXPECT_THAT(ErrorsOf("[media]\nport_min = 40000\nport_max = 40000\n"),
              ElementsAre("t.toml:3: media.port_max: must be greater than media.port_min "
                          "(40000), got 40000"));
  // Against the default port_max, the message points at the key that was given.
  EXPECT_THAT(ErrorsOf("[media]\nport_min = 50000\n"),
              ElementsAre("t.toml:2: media.port_max: must be greater than media.port_min "
                          "(50000), got 39999"));
}

TEST(ConfigTest, SyntaxError) {
  EXPECT_THAT(ErrorsOf("[sip]\nt1_ms = 500\nring_timeout_ms = = 3\n"),
              ElementsAre("t.toml:3: syntax error: Error while parsing value: could not determine "
                          "value type"));
}

TEST(ConfigTest, DuplicateKeyIsSyntaxError) {
  auto errors = ErrorsOf("[log]\nlevel = \"info\"\nlevel = \"debug\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], ::testing::StartsWith("t.toml:3: syntax error: "));
}

TEST(ConfigTest, AllErrorsReportedInFileOrder) {
  EXPECT_THAT(ErrorsOf(R"(verbose = true
[sip]
t1_ms = 1
[media]
port_min = 3
[[positions]]
name = "x"
uri = "sip:x@1.2.3.4"
standby = "y"
)"),
              ElementsAre("t.toml:1: verbose: unknown key",
                          "t.toml:3: sip.t1_ms: must be between 50 and 5000, got 1",
                          "t.toml:5: media.port_min: must be between 1024 and 65534, got 3",
                          "t.toml:9: positions[0].standby: no position named \"y\""));
}

TEST(ConfigTest, LoadMissingFile) {
  auto result = LoadConfigFile("/nonexistent/anchord.toml");
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(),
              ElementsAre("/nonexistent/anchord.toml: cannot read: No such file or directory"));
}

TEST(ConfigTest, LoadDirectoryFails) {
  auto result = LoadConfigFile("/");
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(), ElementsAre("/: cannot read: Is a directory"));
}

TEST(ConfigTest, LoadFileNamesItInErrors) {
  char path[] = "/tmp/anchord_config_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "[log]\nlevel = \"loud\"\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto result = LoadConfigFile(path);
  unlink(path);
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error(),
              ElementsAre(std::string(path) +
                          ":2: log.level: must be one of error, warning, notice, info, debug, got "
                          "\"loud\""));
}

TEST(ConfigTest, ControlQueueAndAutomaton) {
  Config c = MustParse(
      "[control]\nlisten = \"\"\n"
      "[queue]\nmax_calls = 0\nmax_wait_s = 5\noverflow_status = 503\n"
      "[[positions]]\nname = \"ivr\"\nuri = \"sip:ivr@127.0.0.1:7000\"\nautomaton = true\n");
  EXPECT_EQ(c.control.listen, "");
  EXPECT_EQ(c.queue.max_calls, 0u);
  EXPECT_EQ(c.queue.max_wait_s, 5u);
  EXPECT_EQ(c.queue.overflow_status, 503u);
  ASSERT_EQ(c.positions.size(), 1u);
  EXPECT_TRUE(c.positions[0].automaton);
}

TEST(ConfigTest, BadControlQueueAndAutomaton) {
  EXPECT_EQ(ErrorsOf("[control]\nlisten = \"localhost:80\"\n"),
            (ConfigErrors{"t.toml:2: control.listen: expected \"IPv4:PORT\" or \"\" (no control "
                          "API), got \"localhost:80\""}));
  EXPECT_EQ(ErrorsOf("[queue]\noverflow_status = 480\nmax_wait_s = 0\n"),
            (ConfigErrors{"t.toml:2: queue.overflow_status: must be 486 or 503, got 480",
                          "t.toml:3: queue.max_wait_s: must be between 1 and 86400, got 0"}));
  EXPECT_EQ(ErrorsOf("[[positions]]\nname = \"a\"\nuri = \"sip:a@127.0.0.1\"\n"
                     "automaton = \"yes\"\n"),
            (ConfigErrors{"t.toml:4: positions[0].automaton: expected a boolean, got a string"}));
}

// --- Announcements (issue 4): WAV files read and checked with the configuration ---------

// A WAV file in the test's temporary directory, written from the given fields.
class WavFile {
 public:
  WavFile() {
    char dir[] = "/tmp/anchord_wav_XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/a.wav";
  }
  ~WavFile() {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

  void Write(uint16_t tag, uint16_t channels, uint32_t rate, uint16_t bits,
             const std::vector<uint8_t>& data, bool truncate_data = false) {
    std::vector<uint8_t> b;
    auto put = [&b](const char* four) { b.insert(b.end(), four, four + 4); };
    auto u32 = [&b](uint32_t v) {
      for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    auto u16 = [&b](uint16_t v) {
      b.push_back(static_cast<uint8_t>(v));
      b.push_back(static_cast<uint8_t>(v >> 8));
    };
    put("RIFF");
    u32(static_cast<uint32_t>(36 + data.size() + 10));
    put("WAVE");
    put("LIST");  // a chunk to skip, with odd size and its pad byte
    u32(1);
    b.push_back('x');
    b.push_back(0);
    put("fmt ");
    u32(16);
    u16(tag);
    u16(channels);
    u32(rate);
    u32(rate * channels * bits / 8);
    u16(static_cast<uint16_t>(channels * bits / 8));
    u16(bits);
    put("data");
    u32(static_cast<uint32_t>(data.size() + (truncate_data ? 100 : 0)));
    b.insert(b.end(), data.begin(), data.end());
    WriteBytes(b);
  }
  void WriteBytes(const std::vector<uint8_t>& bytes) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }

 private:
  std::string dir_;
  std::string path_;
};

std::vector<uint8_t> Pcm16(const std::vector<int16_t>& samples) {
  std::vector<uint8_t> out;
  for (int16_t v : samples) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(static_cast<uint16_t>(v) >> 8));
  }
  return out;
}

TEST(ConfigAnnouncementTest, Pcm16MonoIsLoadedSampleForSample) {
  WavFile wav;
  std::vector<int16_t> samples(8000);
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<int16_t>(i * 7 - 20000);
  wav.Write(1, 1, 8000, 16, Pcm16(samples));
  Config c = MustParse("[queue]\nannouncement = \"" + wav.path() + "\"\n[failover]\n" +
                       "announcement = \"\"\n");
  EXPECT_EQ(c.queue.announcement.path, wav.path());
  EXPECT_EQ(c.queue.announcement.rate_hz, 8000u);
  ASSERT_FALSE(c.queue.announcement.empty());
  EXPECT_EQ(*c.queue.announcement.samples, samples);
  EXPECT_TRUE(c.failover.announcement.empty());  // "" = hold tone only
}

TEST(ConfigAnnouncementTest, G711AndSixteenKilohertzAreAccepted) {
  WavFile wav;
  // 1 ms (8 samples) at least. mu-law 0xFF, 0x00, 0x80 are 0, -32124, +32124 (G.711).
  wav.Write(7, 1, 8000, 8, {0xFF, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  AudioClip clip;
  ASSERT_EQ(ReadWavClip(wav.path(), clip), "");
  EXPECT_EQ(*clip.samples, (std::vector<int16_t>{0, -32124, 32124, 0, 0, 0, 0, 0}));
  // A-law 0xD5, 0x55, 0xAA, 0x2A are 8, -8, 32256, -32256.
  wav.Write(6, 1, 8000, 8, {0xD5, 0x55, 0xAA, 0x2A, 0xD5, 0xD5, 0xD5, 0xD5});
  ASSERT_EQ(ReadWavClip(wav.path(), clip), "");
  EXPECT_EQ(*clip.samples, (std::vector<int16_t>{8, -8, 32256, -32256, 8, 8, 8, 8}));
  wav.Write(1, 1, 16000, 16, Pcm16(std::vector<int16_t>(320, 5)));
  ASSERT_EQ(ReadWavClip(wav.path(), clip), "");
  EXPECT_EQ(clip.rate_hz, 16000u);
  EXPECT_EQ(clip.samples->size(), 320u);
}

// Each problem is one "FILE:LINE: KEY: problem" line naming the WAV file and what is wrong.
TEST(ConfigAnnouncementTest, BadFilesAreReportedAtTheirKey) {
  WavFile wav;
  auto error = [&wav](const std::string& section) {
    auto e = ErrorsOf("[log]\nlevel = \"info\"\n[" + section + "]\nannouncement = \"" + wav.path() +
                      "\"\n");
    return e.size() == 1 ? e[0] : ::testing::PrintToString(e);
  };
  const std::string at = "t.toml:4: queue.announcement: \"" + wav.path() + "\"";
  EXPECT_EQ(error("queue"), "t.toml:4: queue.announcement: cannot open \"" + wav.path() +
                                "\": No such file or directory");
  wav.WriteBytes({'R', 'I', 'F', 'F', 0, 0, 0, 0, 'A', 'V', 'I', ' '});
  EXPECT_EQ(error("queue"), at + ": not a WAV file (no RIFF/WAVE header)");
  wav.Write(1, 2, 8000, 16, Pcm16(std::vector<int16_t>(320)));
  EXPECT_EQ(error("queue"), at + ": 2 channels: must be mono");
  wav.Write(1, 1, 44100, 16, Pcm16(std::vector<int16_t>(320)));
  EXPECT_THAT(error("queue"), ::testing::StartsWith(at + ": 44100 Hz: must be 8000 or 16000 Hz"));
  wav.Write(1, 1, 8000, 8, std::vector<uint8_t>(320));
  EXPECT_EQ(error("queue"), at + ": 8-bit samples: must be 16-bit PCM or 8-bit A-law/mu-law");
  wav.Write(3, 1, 8000, 32, std::vector<uint8_t>(320));
  EXPECT_EQ(error("queue"), at + ": format 3 is not PCM, A-law or mu-law");
  wav.Write(1, 1, 8000, 16, Pcm16(std::vector<int16_t>(320)), /*truncate_data=*/true);
  EXPECT_EQ(error("queue"), at + ": its data chunk runs past the end of the file (truncated?)");
  wav.Write(1, 1, 8000, 16, {});
  EXPECT_EQ(error("queue"), at + ": holds no audio (under 1 ms)");
  wav.Write(7, 1, 8000, 8, std::vector<uint8_t>(8000 * 61));
  EXPECT_EQ(error("failover"),
            "t.toml:4: failover.announcement: \"" + wav.path() + "\": lasts 61 s: at most 60 s");
  EXPECT_EQ(ErrorsOf("[queue]\nannouncement = \"a.wav\"\n"),
            ConfigErrors{"t.toml:2: queue.announcement: must be an absolute path, got \"a.wav\""});
  EXPECT_EQ(ErrorsOf("[queue]\nannouncement = 3\n"),
            ConfigErrors{"t.toml:2: queue.announcement: expected a string, got an integer"});
}

// Every byte string is bounds-checked: truncated headers and chunk sizes past the end fail
// cleanly (the fuzz corpus would find a read past the buffer under ASan).
TEST(ConfigAnnouncementTest, TruncatedFilesNeverReadPastTheEnd) {
  WavFile wav;
  wav.Write(1, 1, 8000, 16, Pcm16(std::vector<int16_t>(160, 1)));
  std::FILE* f = std::fopen(wav.path().c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::vector<uint8_t> whole(4096);
  whole.resize(std::fread(whole.data(), 1, whole.size(), f));
  std::fclose(f);
  for (size_t n = 0; n < whole.size(); ++n) {
    wav.WriteBytes({whole.begin(), whole.begin() + static_cast<ptrdiff_t>(n)});
    AudioClip clip;
    EXPECT_NE(ReadWavClip(wav.path(), clip), "") << n << " bytes";
  }
}

}  // namespace
}  // namespace anchord::core
