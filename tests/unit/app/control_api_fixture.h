// Test fixture for the control API: a FakeControlHandler behind a real ControlApi whose
// signaling loop runs on its own thread, and a cpp-httplib client.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "app/control_api.h"
#include "core/event_loop.h"
#include "signaling/control.h"

namespace anchord::app {

// Answers from fixed data and records every call and the thread it ran on. Thread-safe for
// the test thread to read. `gate`, when set, blocks every method until released (a "slow"
// controller that the test releases deterministically).
class FakeControlHandler : public signaling::ControlHandler {
 public:
  std::vector<signaling::CallSummary> ListCalls() override {
    Enter("ListCalls");
    std::lock_guard lock(mu);
    return calls;
  }
  std::optional<signaling::CallSummary> GetCall(uint64_t id) override {
    Enter("GetCall");
    std::lock_guard lock(mu);
    for (const auto& c : calls) {
      if (c.id == id) return c;
    }
    return std::nullopt;
  }
  std::vector<signaling::PositionSummary> ListPositions() override {
    Enter("ListPositions");
    std::lock_guard lock(mu);
    return positions;
  }
  std::vector<signaling::AbandonedCall> ListAbandoned() override {
    Enter("ListAbandoned");
    std::lock_guard lock(mu);
    return abandoned;
  }
  Status Hangup(uint64_t id) override {
    Enter("Hangup");
    std::lock_guard lock(mu);
    hangups.push_back(id);
    if (!hangup_error.empty()) return Fail(hangup_error);
    return {};
  }
  Result<uint64_t> CreateCall(const signaling::NewCallRequest& request) override {
    Enter("CreateCall");
    std::lock_guard lock(mu);
    created.push_back(request);
    if (!create_error.empty()) return Fail(create_error);
    return uint64_t{42};
  }
  Result<uint64_t> AddParty(uint64_t call, const std::string& uri) override {
    Enter("AddParty");
    std::lock_guard lock(mu);
    parties_added.emplace_back(call, uri);
    if (!add_party_error.empty()) return Fail(add_party_error);
    return uint64_t{7};
  }

  // The test thread changes the fake's data only through this (the loop thread reads it).
  template <class F>
  void Locked(F f) {
    std::lock_guard lock(mu);
    f();
  }

  // Blocks the loop thread inside the next handler call until Release().
  void Hold() {
    std::lock_guard lock(mu);
    gate = std::make_shared<std::promise<void>>();
    held = gate->get_future().share();
  }
  void Release() {
    std::lock_guard lock(mu);
    if (gate) gate->set_value();
    gate.reset();
  }
  size_t CallCount(const std::string& method) {
    std::lock_guard lock(mu);
    return methods.count(method);
  }
  std::set<std::thread::id> Threads() {
    std::lock_guard lock(mu);
    return threads;
  }

  std::mutex mu;
  std::vector<signaling::CallSummary> calls;
  std::vector<signaling::PositionSummary> positions;
  std::vector<signaling::AbandonedCall> abandoned;
  std::vector<uint64_t> hangups;
  std::vector<signaling::NewCallRequest> created;
  std::vector<std::pair<uint64_t, std::string>> parties_added;
  std::string hangup_error, create_error, add_party_error;

 private:
  void Enter(const std::string& method) {
    std::shared_future<void> wait;
    {
      std::lock_guard lock(mu);
      methods.insert(method);
      threads.insert(std::this_thread::get_id());
      wait = held;
    }
    if (wait.valid()) wait.wait();
  }
  std::multiset<std::string> methods;
  std::set<std::thread::id> threads;
  std::shared_ptr<std::promise<void>> gate;
  std::shared_future<void> held;
};

inline signaling::CallSummary SampleCall(uint64_t id) {
  signaling::CallSummary c;
  c.id = id;
  c.state = "answered";
  c.sip_call_id = "abc@10.0.0.1";
  c.ng911_call_id = "urn:emergency:uid:callid:1:bcf.example";
  c.incident_id = "urn:emergency:uid:incidentid:2:esrp.example";
  c.caller = "sip:+15555550100@esinet.example";
  c.position = "pos1";
  c.location = "<cid:loc@bcf.example>";
  c.media = "anchored";
  c.started_unix_ms = 1'795'000'000'000;
  c.answered_unix_ms = 1'795'000'002'000;
  c.parties.push_back({11, "caller", c.caller, "connected", ""});
  c.parties.push_back({12, "position", "sip:pos1@127.0.0.1:15010", "connected", "pos1"});
  return c;
}

class ControlApiTest : public ::testing::Test {
 protected:
  void SetUp() override { StartApi({}); }

  void StartApi(ControlApiOptions options) {
    auto loop = core::EventLoop::Create();
    ASSERT_TRUE(loop.has_value()) << loop.error().message;
    loop_ = std::move(*loop);
    loop_thread_ = std::thread([this] { loop_->Run(); });
    auto api = ControlApi::Start("127.0.0.1:0", *loop_, fake_, options);
    ASSERT_TRUE(api.has_value()) << api.error().message;
    api_ = std::move(*api);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_->port());
    client_->set_read_timeout(10, 0);
  }

  void TearDown() override {
    fake_.Release();
    if (api_) api_->Stop();
    loop_->Exit(0);
    if (loop_thread_.joinable()) loop_thread_.join();
  }

  // Status and parsed body (null when the body is empty or not JSON).
  struct Reply {
    int status = 0;
    nlohmann::json body;
    std::string raw;
    httplib::Headers headers;
  };
  static Reply ToReply(const httplib::Result& r) {
    Reply reply;
    if (!r) {
      ADD_FAILURE() << "no HTTP reply: " << httplib::to_string(r.error());
      return reply;
    }
    reply.status = r->status;
    reply.raw = r->body;
    reply.headers = r->headers;
    reply.body = nlohmann::json::parse(r->body, nullptr, false);
    if (reply.body.is_discarded()) reply.body = nullptr;
    return reply;
  }
  Reply Get(const std::string& path) { return ToReply(client_->Get(path)); }
  Reply Delete(const std::string& path) { return ToReply(client_->Delete(path)); }
  Reply Post(const std::string& path, const std::string& body) {
    return ToReply(client_->Post(path, body, "application/json"));
  }

  // Polls until the fake has entered `method` (it may then be held there).
  void WaitForCall(const std::string& method) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (fake_.CallCount(method) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE(fake_.CallCount(method), 1u) << method;
  }

  // The counters are updated right after the response is written: poll.
  ControlCounters CountersAfter(uint64_t requests) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (api_->counters().requests < requests && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return api_->counters();
  }

  FakeControlHandler fake_;
  std::unique_ptr<core::EventLoop> loop_;
  std::thread loop_thread_;
  std::unique_ptr<ControlApi> api_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace anchord::app
