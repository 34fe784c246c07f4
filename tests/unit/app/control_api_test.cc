#include "app/control_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/app/control_api_fixture.h"

namespace anchord::app {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(ParseListenAddressTest, AcceptsNumericAddressesOnly) {
  auto v4 = ParseListenAddress("127.0.0.1:8089");
  ASSERT_TRUE(v4.has_value()) << v4.error().message;
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8089);
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.has_value()) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad : {"localhost:8089", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                          "127.0.0.1:80x", "::1:8089", ":8089", "", "[::1]", "1.2.3:80"}) {
    EXPECT_FALSE(ParseListenAddress(bad).has_value()) << bad;
  }
}

TEST_F(ControlApiTest, HealthRoundTripsThroughTheLoop) {
  Reply r = Get("/v1/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, json({{"status", "ok"}}));
}

TEST_F(ControlApiTest, ListsCallsWithEveryField) {
  fake_.Locked([&] { fake_.calls = {SampleCall(5), SampleCall(6)}; });
  Reply r = Get("/v1/calls");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["calls"].size(), 2u);
  const json& c = r.body["calls"][0];
  EXPECT_EQ(c["id"], 5);
  EXPECT_EQ(c["state"], "answered");
  EXPECT_EQ(c["caller"], "sip:+15555550100@esinet.example");
  EXPECT_EQ(c["ng911_call_id"], "urn:emergency:uid:callid:1:bcf.example");
  EXPECT_EQ(c["incident_id"], "urn:emergency:uid:incidentid:2:esrp.example");
  EXPECT_EQ(c["location"], "<cid:loc@bcf.example>");
  EXPECT_EQ(c["media"], "anchored");
  EXPECT_EQ(c["flow"], 0);
  EXPECT_EQ(c["answered_unix_ms"], 1'795'000'002'000u);
  ASSERT_EQ(c["parties"].size(), 2u);
  EXPECT_EQ(c["parties"][1]["leg"], 12);
  EXPECT_EQ(c["parties"][1]["position"], "pos1");
  EXPECT_EQ(r.headers.find("Content-Type")->second, "application/json");
}

TEST_F(ControlApiTest, EmptyListsAreEmptyArrays) {
  EXPECT_EQ(Get("/v1/calls").body, json::parse(R"({"calls":[]})"));
  EXPECT_EQ(Get("/v1/positions").body, json::parse(R"({"positions":[]})"));
  EXPECT_EQ(Get("/v1/abandoned").body, json::parse(R"({"abandoned":[]})"));
}

TEST_F(ControlApiTest, GetsOneCallOr404) {
  fake_.Locked([&] { fake_.calls = {SampleCall(5)}; });
  Reply r = Get("/v1/calls/5");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["id"], 5);
  Reply missing = Get("/v1/calls/6");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"], "unknown call 6");
}

TEST_F(ControlApiTest, ListsPositionsAndAbandonedCalls) {
  fake_.Locked([&] {
    fake_.positions = {{"pos1", "sip:pos1@127.0.0.1:15010", "pos2", "up", "busy", 5},
                       {"pos2", "sip:pos2@127.0.0.1:15020", "pos1", "down", "idle", 0}};
  });
  signaling::AbandonedCall a;
  a.id = 9;
  a.caller = "sip:caller@esinet.example";
  a.stage = "ringing";
  a.ended_unix_ms = 1234;
  fake_.Locked([&] { fake_.abandoned = {a}; });
  Reply p = Get("/v1/positions");
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(p.body["positions"][0], json({{"name", "pos1"},
                                          {"uri", "sip:pos1@127.0.0.1:15010"},
                                          {"standby", "pos2"},
                                          {"health", "up"},
                                          {"activity", "busy"},
                                          {"call", 5}}));
  EXPECT_EQ(p.body["positions"][1]["health"], "down");
  Reply ab = Get("/v1/abandoned");
  ASSERT_EQ(ab.status, 200);
  EXPECT_EQ(ab.body["abandoned"][0]["id"], 9);
  EXPECT_EQ(ab.body["abandoned"][0]["stage"], "ringing");
  EXPECT_EQ(ab.body["abandoned"][0]["ended_unix_ms"], 1234);
}

TEST_F(ControlApiTest, DeleteHangsUpKnownCallsOnly) {
  fake_.Locked([&] { fake_.calls = {SampleCall(5)}; });
  Reply r = Delete("/v1/calls/5");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.raw.empty());
  EXPECT_EQ(Delete("/v1/calls/77").status, 404);
  std::lock_guard lock(fake_.mu);
  EXPECT_EQ(fake_.hangups, std::vector<uint64_t>{5});  // never asked to hang up 77
}

TEST_F(ControlApiTest, HandlerErrorsBecome409Or404WithTheirMessage) {
  fake_.Locked([&] { fake_.calls = {SampleCall(5)}; });
  fake_.Locked([&] { fake_.hangup_error = "call 5 is already ending"; });
  Reply r = Delete("/v1/calls/5");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error"], "call 5 is already ending");
  fake_.Locked([&] { fake_.create_error = "no RTP port free"; });
  Reply c = Post("/v1/calls", R"({"a":"sip:a@x","b":"sip:b@y"})");
  EXPECT_EQ(c.status, 409);
  EXPECT_EQ(c.body["error"], "no RTP port free");
  fake_.Locked([&] { fake_.add_party_error = "unknown call 5 (ended)"; });
  Reply p = Post("/v1/calls/5/parties", R"({"uri":"sip:c@z"})");
  EXPECT_EQ(p.status, 404);
  EXPECT_EQ(p.body["error"], "unknown call 5 (ended)");
}

TEST_F(ControlApiTest, CreatesCallsWithEveryOption) {
  Reply r = Post("/v1/calls", R"({"a":"sip:pos1@127.0.0.1:15010","b":"SIP:+15555550100@x.example",
                                  "flow":3,"media":"anchored","callback":true})");
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body, json({{"id", 42}}));
  EXPECT_EQ(r.headers.find("Location")->second, "/v1/calls/42");
  Reply defaults = Post("/v1/calls", R"({"a":"sip:a@x","b":"sip:b@y"})");
  EXPECT_EQ(defaults.status, 201);
  Reply autoflow = Post("/v1/calls", R"({"a":"sip:a@x","b":"sip:b@y","flow":"auto",
                                         "media":"direct","callback":false})");
  EXPECT_EQ(autoflow.status, 201);
  std::lock_guard lock(fake_.mu);
  ASSERT_EQ(fake_.created.size(), 3u);
  EXPECT_EQ(fake_.created[0].a, "sip:pos1@127.0.0.1:15010");
  EXPECT_EQ(fake_.created[0].b, "SIP:+15555550100@x.example");
  EXPECT_EQ(fake_.created[0].flow, 3);
  EXPECT_TRUE(fake_.created[0].anchored);
  EXPECT_TRUE(fake_.created[0].callback);
  for (size_t i : {1, 2}) {
    EXPECT_EQ(fake_.created[i].flow, 0);
    EXPECT_FALSE(fake_.created[i].anchored);
    EXPECT_FALSE(fake_.created[i].callback);
  }
}

TEST_F(ControlApiTest, RejectsBadCallBodiesNamingTheField) {
  struct Case {
    const char* body;
    const char* error_prefix;
  };
  const Case cases[] = {
      {"{", "body: not valid JSON"},
      {"", "body: not valid JSON"},
      {"[1,2]", "body: expected a JSON object"},
      {R"({"b":"sip:b@y"})", "a: missing"},
      {R"({"a":"sip:a@x"})", "b: missing"},
      {R"({"a":5,"b":"sip:b@y"})", "a: expected a string"},
      {R"({"a":"tel:911","b":"sip:b@y"})", "a: expected a sip: URI"},
      {R"({"a":"sip:","b":"sip:b@y"})", "a: expected a sip: URI"},
      {R"({"a":"sip:a@x\r\nVia: evil","b":"sip:b@y"})", "a: expected a sip: URI"},
      {R"({"a":"sip:a@x","b":"sip:<b@y>"})", "b: expected a sip: URI"},
      {R"({"a":"sip:a@x","b":"sip:b@y","flow":5})", "flow:"},
      {R"({"a":"sip:a@x","b":"sip:b@y","flow":"2"})", "flow:"},
      {R"({"a":"sip:a@x","b":"sip:b@y","flow":2.0})", "flow:"},
      {R"({"a":"sip:a@x","b":"sip:b@y","media":"relay"})", "media:"},
      {R"({"a":"sip:a@x","b":"sip:b@y","media":true})", "media:"},
      {R"({"a":"sip:a@x","b":"sip:b@y","callback":"yes"})", "callback:"},
      {R"({"a":"sip:a@x","b":"sip:b@y","extra":1})", "extra: unknown field"},
  };
  for (const Case& c : cases) {
    Reply r = Post("/v1/calls", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    ASSERT_TRUE(r.body.is_object()) << c.body << " -> " << r.raw;
    EXPECT_TRUE(r.body["error"].get<std::string>().starts_with(c.error_prefix))
        << c.body << " -> " << r.body["error"];
  }
  EXPECT_EQ(fake_.CallCount("CreateCall"), 0u);
  EXPECT_EQ(CountersAfter(std::size(cases)).bad_request, std::size(cases));
}

TEST_F(ControlApiTest, AddsPartiesToKnownCalls) {
  fake_.Locked([&] { fake_.calls = {SampleCall(5)}; });
  Reply r = Post("/v1/calls/5/parties", R"({"uri":"sip:supervisor@127.0.0.1:15030"})");
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body, json({{"leg", 7}}));
  EXPECT_EQ(Post("/v1/calls/6/parties", R"({"uri":"sip:s@x"})").status, 404);
  Reply bad = Post("/v1/calls/5/parties", R"({"uri":"mailto:s@x"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"], "uri: expected a sip: URI");
  EXPECT_EQ(Post("/v1/calls/5/parties", R"({})").body["error"], "uri: missing");
  std::lock_guard lock(fake_.mu);
  ASSERT_EQ(fake_.parties_added.size(), 1u);
  EXPECT_EQ(fake_.parties_added[0].first, 5u);
  EXPECT_EQ(fake_.parties_added[0].second, "sip:supervisor@127.0.0.1:15030");
}

TEST_F(ControlApiTest, BodyOverTheLimitIs413) {
  std::string big = R"({"a":"sip:a@x","b":"sip:b@y","pad":")" + std::string(16 * 1024, 'x') + "\"}";
  Reply r = Post("/v1/calls", big);
  EXPECT_EQ(r.status, 413);
  ASSERT_TRUE(r.body.is_object()) << r.raw;
  EXPECT_EQ(r.body["error"], "body: larger than 16384 bytes");
  EXPECT_EQ(fake_.CallCount("CreateCall"), 0u);
  EXPECT_EQ(CountersAfter(1).too_large, 1u);
  EXPECT_EQ(Get("/v1/health").status, 200);  // still serving
}

TEST_F(ControlApiTest, UnknownPathsAre404) {
  for (const char* path : {"/", "/v1", "/v1/", "/v1/call", "/v1/calls/", "/v1/calls/5/",
                           "/v1/calls/5/x", "/v2/calls", "/v1/positions/pos1", "/v1/health/"}) {
    Reply r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_TRUE(r.body.contains("error")) << path;
  }
}

TEST_F(ControlApiTest, WrongMethodsAre405WithAllow) {
  auto put = ToReply(client_->Put("/v1/calls", "{}", "application/json"));
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.headers.find("Allow")->second, "GET, HEAD, POST");
  EXPECT_TRUE(put.body.contains("error"));
  EXPECT_EQ(Post("/v1/positions", "{}").status, 405);
  EXPECT_EQ(Delete("/v1/calls").status, 405);
  EXPECT_EQ(Get("/v1/calls/5/parties").status, 405);
  EXPECT_EQ(Post("/v1/calls/5", "{}").status, 405);
  EXPECT_EQ(ToReply(client_->Patch("/v1/health", "{}", "application/json")).status, 405);
  EXPECT_EQ(ToReply(client_->Options("/v1/calls")).status, 405);
  EXPECT_EQ(CountersAfter(7).method_not_allowed, 7u);
  EXPECT_EQ(fake_.CallCount("CreateCall"), 0u);
}

TEST_F(ControlApiTest, IdsMustBeDecimalUint64) {
  for (const char* id :
       {"abc", "-1", "+1", "1.0", "0x10", "18446744073709551616", "123456789012345678901", "%20"}) {
    Reply r = Get(std::string("/v1/calls/") + id);
    EXPECT_EQ(r.status, 400) << id;
    EXPECT_EQ(r.body["error"], "id: expected a decimal call id (uint64)") << id;
    EXPECT_EQ(Delete(std::string("/v1/calls/") + id).status, 400) << id;
    EXPECT_EQ(Post(std::string("/v1/calls/") + id + "/parties", R"({"uri":"sip:a@b"})").status, 400)
        << id;
  }
  EXPECT_EQ(Get("/v1/calls/18446744073709551615").status, 404);  // max uint64 parses
  EXPECT_EQ(fake_.CallCount("Hangup") + fake_.CallCount("AddParty"), 0u);
}

TEST_F(ControlApiTest, HandlerRunsOnlyOnTheSignalingThread) {
  fake_.Locked([&] { fake_.calls = {SampleCall(5)}; });
  Get("/v1/calls");
  Get("/v1/calls/5");
  Get("/v1/positions");
  Get("/v1/abandoned");
  Post("/v1/calls", R"({"a":"sip:a@x","b":"sip:b@y"})");
  Post("/v1/calls/5/parties", R"({"uri":"sip:c@z"})");
  Delete("/v1/calls/5");
  for (const char* m : {"ListCalls", "GetCall", "ListPositions", "ListAbandoned", "CreateCall",
                        "AddParty", "Hangup"}) {
    EXPECT_GE(fake_.CallCount(m), 1u) << m;
  }
  EXPECT_EQ(fake_.Threads(), std::set<std::thread::id>{loop_thread_.get_id()});
}

TEST_F(ControlApiTest, InvalidUtf8FromSipIsReplacedNotFatal) {
  signaling::CallSummary c = SampleCall(5);
  c.caller = "sip:\xff\xfe@x";
  fake_.Locked([&] { fake_.calls = {c}; });
  Reply r = Get("/v1/calls");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.is_object()) << r.raw;
}

TEST_F(ControlApiTest, GarbageOnTheSocketGets400AndServingContinues) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(api_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char garbage[] = "\x01\x02 NOT HTTP AT ALL\r\n\r\n";
  ASSERT_GT(write(fd, garbage, sizeof(garbage) - 1), 0);
  std::string reply;
  char buf[512];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) reply.append(buf, n);
  close(fd);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
  EXPECT_EQ(Get("/v1/health").status, 200);
}

TEST_F(ControlApiTest, CountersClassifyEveryRequest) {
  fake_.Locked([&] { fake_.calls = {SampleCall(5)}; });
  Get("/v1/calls");           // 200
  Get("/v1/nope");            // 404
  Get("/v1/calls/9");         // 404
  Post("/v1/calls", "{bad");  // 400
  Delete("/v1/positions");    // 405
  fake_.Locked([&] { fake_.hangup_error = "busy"; });
  Delete("/v1/calls/5");  // 409
  ControlCounters c = CountersAfter(6);
  EXPECT_EQ(c.requests, 6u);
  EXPECT_EQ(c.not_found, 2u);
  EXPECT_EQ(c.bad_request, 1u);
  EXPECT_EQ(c.method_not_allowed, 1u);
  EXPECT_EQ(c.handler_errors, 1u);
  EXPECT_EQ(c.too_large + c.busy + c.other_errors, 0u);
}

TEST(ControlApiStartTest, RefusesBadOrBusyAddresses) {
  auto loop = core::EventLoop::Create();
  ASSERT_TRUE(loop.has_value());
  FakeControlHandler fake;
  EXPECT_FALSE(ControlApi::Start("localhost:0", **loop, fake).has_value());
  auto first = ControlApi::Start("127.0.0.1:0", **loop, fake);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = ControlApi::Start(taken, **loop, fake);  // no SO_REUSEPORT sharing
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("cannot bind"), std::string::npos);
}

class SlowLoopTest : public ControlApiTest {
 protected:
  static constexpr milliseconds kDeadline{300};
  void SetUp() override {
    ControlApiOptions options;
    options.loop_deadline = kDeadline;
    StartApi(options);
  }
};

TEST_F(SlowLoopTest, BusyLoopGives503WithinTheDeadlineAndDropsTheRequest) {
  fake_.Hold();  // the next handler call blocks the loop thread until Release()
  auto blocked = std::async(std::launch::async, [this] {
    httplib::Client other("127.0.0.1", api_->port());
    other.set_read_timeout(10, 0);
    return ToReply(other.Get("/v1/positions"));
  });
  WaitForCall("ListPositions");  // the loop thread is now held inside the handler
  auto start = steady_clock::now();
  Reply create = Post("/v1/calls", R"({"a":"sip:a@x","b":"sip:b@y"})");
  auto took = steady_clock::now() - start;
  EXPECT_EQ(create.status, 503);
  EXPECT_EQ(create.body["error"], "signaling loop busy");
  EXPECT_GE(took, kDeadline);
  EXPECT_LT(took, kDeadline + milliseconds(700));
  EXPECT_EQ(blocked.get().status, 503);  // held inside the handler past its own deadline
  fake_.Release();
  // The loop is free again; the abandoned POST was never executed.
  EXPECT_EQ(Get("/v1/health").status, 200);
  EXPECT_EQ(fake_.CallCount("CreateCall"), 0u);
  EXPECT_EQ(CountersAfter(3).busy, 2u);
}

// With the default 2 s deadline: Stop() must not wait for it.
TEST_F(ControlApiTest, StopReleasesWaitingRequestsAtOnce) {
  fake_.Hold();
  auto waiting = std::async(std::launch::async, [this] {
    httplib::Client other("127.0.0.1", api_->port());
    return other.Get("/v1/calls");
  });
  WaitForCall("ListCalls");
  auto start = steady_clock::now();
  api_->Stop();
  auto result = waiting.get();
  EXPECT_LT(steady_clock::now() - start, milliseconds(1500));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 503);
}

}  // namespace
}  // namespace anchord::app
