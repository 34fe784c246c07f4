// Runs the real anchorctl binary (next to this test in bin/) against a ControlApi over a
// FakeControlHandler and checks its exit status, stdout and stderr.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/app/control_api_fixture.h"

namespace anchord::app {
namespace {

using nlohmann::json;

struct CtlRun {
  int exit_code = -1;
  std::string out, err;
};

std::string AnchorctlPath() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "anchorctl").string();
}

// fork + exec with both pipes drained; killed (and failed) after 10 s.
CtlRun RunAnchorctl(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return {};
  std::string path = AnchorctlPath();
  std::vector<char*> argv{path.data()};
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  CtlRun run;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&run.out, &run.err};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int open_fds = 2;
  while (open_fds > 0 && std::chrono::steady_clock::now() < deadline) {
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, n);
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (open_fds > 0) {
    ADD_FAILURE() << "anchorctl did not finish within 10 s";
    kill(pid, SIGKILL);
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

class AnchorctlTest : public ControlApiTest {
 protected:
  void SetUp() override {
    ControlApiTest::SetUp();
    fake_.Locked([&] { fake_.calls = {SampleCall(5)}; });
    fake_.Locked([&] {
      fake_.positions = {{"pos1", "sip:pos1@127.0.0.1:15010", "pos2", "up", "busy", 5},
                         {"pos2", "sip:pos2@127.0.0.1:15020", "pos1", "down", "idle", 0}};
    });
  }
  CtlRun Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--api", "127.0.0.1:" + std::to_string(api_->port())});
    return RunAnchorctl(args);
  }
};

TEST(AnchorctlUsageTest, BadCommandLinesExit2WithUsage) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"calls", "extra"},
      {"call"},
      {"call", "abc"},
      {"hangup", "-1"},
      {"dial", "sip:a@x"},
      {"dial", "sip:a@x", "sip:b@y", "--flow", "7"},
      {"dial", "sip:a@x", "sip:b@y", "--media", "relay"},
      {"dial", "sip:a@x", "sip:b@y", "--flow"},
      {"calls", "--callback"},
      {"--bogus", "calls"},
      {"add-party", "x1", "sip:c@z"},
  };
  for (const auto& args : bad) {
    CtlRun run = RunAnchorctl(args);
    std::string line;
    for (const auto& a : args) line += a + " ";
    EXPECT_EQ(run.exit_code, 2) << line;
    EXPECT_NE(run.err.find("usage: anchorctl"), std::string::npos) << line;
    EXPECT_TRUE(run.out.empty()) << line;
  }
  CtlRun help = RunAnchorctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: anchorctl"), std::string::npos);
}

TEST(AnchorctlUsageTest, NoServerExits3) {
  // A port that was just free: bind, read it, close.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  CtlRun run =
      RunAnchorctl({"--api", "127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), "calls"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_NE(run.err.find("cannot reach"), std::string::npos) << run.err;
}

TEST_F(AnchorctlTest, CallsTable) {
  CtlRun run = Ctl({"calls"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::istringstream lines(run.out);
  std::string header, row, more;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_FALSE(std::getline(lines, more));
  EXPECT_TRUE(header.starts_with("ID  STATE     CALLER")) << header;
  EXPECT_NE(header.find("POSITION"), std::string::npos);
  EXPECT_TRUE(row.starts_with("5   answered  sip:+15555550100@esinet.example")) << row;
  EXPECT_NE(row.find("pos1"), std::string::npos);
}

TEST_F(AnchorctlTest, JsonIsTheApisJson) {
  CtlRun run = Ctl({"--json", "calls"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json body = json::parse(run.out);
  EXPECT_EQ(body, json::parse(client_->Get("/v1/calls")->body));
  EXPECT_EQ(body["calls"][0]["id"], 5);
}

TEST_F(AnchorctlTest, PositionsTable) {
  CtlRun run = Ctl({"positions"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("NAME  HEALTH  ACTIVITY  CALL  STANDBY  URI"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("pos1  up      busy      5     pos2     sip:pos1@127.0.0.1:15010"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("pos2  down    idle      -     pos1"), std::string::npos) << run.out;
}

TEST_F(AnchorctlTest, OneCallWithParties) {
  CtlRun run = Ctl({"call", "5"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("ng911_call_id: urn:emergency:uid:callid:1:bcf.example"),
            std::string::npos);
  EXPECT_NE(run.out.find("12   position  connected  pos1"), std::string::npos) << run.out;
}

TEST_F(AnchorctlTest, ApiErrorsExit1WithTheMessage) {
  CtlRun run = Ctl({"call", "999"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "anchorctl: 404: unknown call 999\n");
  EXPECT_TRUE(run.out.empty());
  CtlRun tel = Ctl({"dial", "tel:911", "sip:b@y"});
  EXPECT_EQ(tel.exit_code, 1);
  EXPECT_EQ(tel.err, "anchorctl: 400: a: expected a sip: URI\n");
}

TEST_F(AnchorctlTest, HangupDialAndAddParty) {
  CtlRun hangup = Ctl({"hangup", "5"});
  EXPECT_EQ(hangup.exit_code, 0) << hangup.err;
  EXPECT_EQ(hangup.out, "call 5 hung up\n");
  CtlRun dial = Ctl({"dial", "sip:pos1@127.0.0.1:15010", "sip:+15555550100@x.example", "--flow=2",
                     "--media", "anchored", "--callback"});
  EXPECT_EQ(dial.exit_code, 0) << dial.err;
  EXPECT_EQ(dial.out, "call 42\n");
  CtlRun add = Ctl({"add-party", "5", "sip:supervisor@127.0.0.1:15030"});
  EXPECT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(add.out, "leg 7\n");
  std::lock_guard lock(fake_.mu);
  EXPECT_EQ(fake_.hangups, std::vector<uint64_t>{5});
  ASSERT_EQ(fake_.created.size(), 1u);
  EXPECT_EQ(fake_.created[0].b, "sip:+15555550100@x.example");
  EXPECT_EQ(fake_.created[0].flow, 2);
  EXPECT_TRUE(fake_.created[0].anchored);
  EXPECT_TRUE(fake_.created[0].callback);
  ASSERT_EQ(fake_.parties_added.size(), 1u);
  EXPECT_EQ(fake_.parties_added[0].second, "sip:supervisor@127.0.0.1:15030");
}

}  // namespace
}  // namespace anchord::app
