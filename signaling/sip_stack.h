// SipStack: libosip2's four transaction state machines (ICT, IST, NICT, NIST) driven from the
// signaling thread's sd-event loop, with transactions found through our own index by branch
// (osip's own lookup is a linear walk over every live transaction; libraries.md §1).
//
// Threading: signaling thread only. Handlers are called from inside the pump that follows a
// received message or a timer, never from inside SendRequest()/Respond(); they may send
// requests and responses (those are queued and go out in the same or the next pump).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <osip2/osip.h>

#include "core/event_loop.h"
#include "signaling/sip_message.h"
#include "signaling/transport.h"

namespace anchord::signaling {

// Names a live transaction; stale ids are simply not found.
using TxId = int;

class SipStackHandler {
 public:
  virtual ~SipStackHandler() = default;
  // A request that opened a server transaction: INVITE (initial or re-INVITE), BYE, CANCEL,
  // OPTIONS, ... `tx` answers it through SipStack::Respond.
  virtual void OnRequest(TxId tx, const osip_message_t* request, const PeerAddress& source) = 0;
  // An ACK outside any transaction (the ACK to a 2xx, R3261-13.2.2.4).
  virtual void OnAck(const osip_message_t* ack) = 0;
  // A response to a request we sent through SendRequest.
  virtual void OnResponse(TxId tx, const osip_message_t* response) = 0;
  // A response that matches no transaction (a 2xx retransmitted after the ICT ended).
  virtual void OnStrayResponse(const osip_message_t* response) = 0;
  // A client transaction ended without a final response: 408 (timeout) or 503 (transport).
  virtual void OnClientFailure(TxId tx, int status_code) = 0;
};

struct SipCounters {
  uint64_t retransmissions_answered = 0;  // requests answered from the completed cache
  uint64_t malformed = 0;                 // unparsable or missing mandatory headers
  uint64_t bad_request_sent = 0;          // 400 answers to malformed requests
  uint64_t requests = 0;
  uint64_t responses = 0;
  uint64_t stray = 0;
};

class SipStack {
 public:
  static Result<std::unique_ptr<SipStack>> Create(core::EventLoop& loop, SipTransport& transport,
                                                  SipStackHandler& handler);
  ~SipStack();
  SipStack(const SipStack&) = delete;
  SipStack& operator=(const SipStack&) = delete;

  // RFC 3261 T1 for every transaction created from now on (osip's is a compile-time 500 ms):
  // timers A/E/G start at T1, B/F/H/J last 64*T1. T4 (5 s) stays osip's.
  void SetT1(uint32_t t1_ms) { t1_ms_ = t1_ms; }
  // RFC 3261 T2, at most osip's compile-time 4000 ms: the cap of timers E and G, applied
  // after each pump (a walk over the live transactions, so only when shortened: tests).
  void SetT2(uint32_t t2_ms) { t2_ms_ = std::min<uint32_t>(t2_ms, 4000); }

  // The transport lost a TCP peer: its client transactions fail at once with 503 instead of
  // waiting for timer B/F (the controller may then retry over UDP).
  void OnTransportFailure(const PeerAddress& peer);

  // One message from the transport.
  void Receive(const InboundMessage& message);

  // Sends a request in a new client transaction (INVITE: ICT; others: NICT). `timeout_ms` > 0
  // shortens timer B/F (heartbeats: an application timeout, never 32 s). Returns 0 on failure.
  TxId SendRequest(MessagePtr request, const PeerAddress& destination, uint32_t timeout_ms = 0);
  // Answers a server transaction. False if it is gone.
  bool Respond(TxId tx, MessagePtr response);
  // Sends a message outside any transaction (ACK to a 2xx, 2xx retransmissions).
  Status SendStateless(const osip_message_t* message, const PeerAddress& destination);

  // The request that opened a live server transaction, or nullptr.
  const osip_message_t* RequestOf(TxId tx) const;
  // The server transaction of an INVITE with this branch (for CANCEL), or 0.
  TxId FindInviteServerTx(const osip_message_t* cancel) const;

  // A Via header value for a new request over `transport` with a new branch.
  std::string NewVia(core::Transport transport, std::string* branch) const;
  // Whether anchord listens on (and so can send over) `transport`.
  bool CanSend(core::Transport transport) const {
    return transport_.LocalAddress(transport) != nullptr;
  }
  // sip:anchord@host:port;transport=... for Contact.
  std::string ContactUri(core::Transport transport) const;
  // Adds a Contact header with ContactUri(transport).
  void AddContact(osip_message_t* message, core::Transport transport) const;

  const SipCounters& counters() const { return counters_; }
  size_t live_transactions() const { return transactions_.size(); }
  size_t completed_transactions() const { return completed_.size(); }

 private:
  struct TxInfo {
    osip_transaction_t* tr = nullptr;
    std::string key;
    PeerAddress peer;  // where responses (server) or requests (client) go
  };
  // A non-INVITE server transaction after its final response (RFC 3261 §17.2.2 Completed):
  // kept here, not in osip, so osip's lists hold only transactions still at work.
  struct Completed {
    std::string response;  // the final response, re-sent to every retransmitted request
    PeerAddress peer;
    uint64_t expires_us = 0;  // timer J: 64*T1 over UDP, 0 over TCP
  };

  SipStack(core::EventLoop& loop, SipTransport& transport, SipStackHandler& handler);
  void Pump();
  void ArmTimer();
  void SchedulePump();
  void HandleRequest(osip_event_t* event, const InboundMessage& message);
  void HandleResponse(osip_event_t* event);
  void RejectMalformed(const InboundMessage& message, const osip_message_t* parsed,
                       const std::string& why);
  TxId Track(osip_transaction_t* tr, std::string key, const PeerAddress& peer);
  void ApplyT1(osip_transaction_t* tr) const;
  void ApplyT2() const;
  void Retire(osip_transaction_t* tr);
  void RetireFinished();
  bool AnswerFromCompleted(const std::string& key, const osip_message_t* request);

  static int SendCallback(osip_transaction_t* tr, osip_message_t* m, char* host, int port, int);
  static void KillCallback(int type, osip_transaction_t* tr);
  static void MessageCallback(int type, osip_transaction_t* tr, osip_message_t* m);
  static void TransportErrorCallback(int type, osip_transaction_t* tr, int error);
  static SipStack* From(osip_transaction_t* tr);

  SipTransport& transport_;
  SipStackHandler& handler_;
  osip_t* osip_ = nullptr;
  core::Timer timer_;
  bool pumping_ = false;
  bool repump_ = false;                          // events were queued during the pump
  std::unordered_map<std::string, TxId> index_;  // key -> transaction
  std::unordered_map<TxId, TxInfo> transactions_;
  std::vector<osip_transaction_t*> garbage_;  // killed, freed after the pump
  std::vector<TxId> finished_;                // NIST after their final response, NICT after theirs
  std::unordered_map<std::string, Completed> completed_;
  std::deque<std::pair<uint64_t, std::string>> completed_expiry_;  // (expires_us, key), FIFO
  SipCounters counters_;
  uint32_t t1_ms_ = 500;
  uint32_t t2_ms_ = 4000;
};

}  // namespace anchord::signaling
