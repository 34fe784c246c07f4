#include "signaling/sip_stack.h"

#include <osip2/osip_time.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

#include "core/clock.h"
#include "core/log.h"

namespace anchord::signaling {
namespace {

using core::Level;
using core::Log;
using core::Subsys;

std::string SentBy(const osip_message_t* m) {
  auto* via = static_cast<osip_via_t*>(osip_list_get(&m->vias, 0));
  if (!via || !via->host) return {};
  return std::string(via->host) + ":" + (via->port ? via->port : "5060");
}

// RFC 3261 §17.2.3: a server transaction is the top Via's branch and sent-by plus the method,
// where ACK (to a non-2xx) belongs to its INVITE. Without an RFC 3261 branch, fall back to
// Call-ID, CSeq and From tag (RFC 2543 peers).
std::string ServerKey(const osip_message_t* m) {
  std::string method = CseqMethod(m);
  if (method == "ACK") method = "INVITE";
  std::string branch = TopBranch(m);
  if (branch.rfind("z9hG4bK", 0) == 0) return "S|" + method + "|" + branch + "|" + SentBy(m);
  return "S|" + method + "|" + CallIdOf(m) + "|" + std::to_string(CseqNumber(m)) + "|" + FromTag(m);
}

// RFC 3261 §17.1.3: a response matches the client transaction of its top Via's branch and CSeq
// method (our own branches are unique).
std::string ClientKey(const osip_message_t* m) { return "C|" + CseqMethod(m) + "|" + TopBranch(m); }

void ShortenTimer(int* length, timeval* start, uint32_t timeout_ms) {
  *length = static_cast<int>(timeout_ms);
  osip_gettimeofday(start, nullptr);
  start->tv_sec += timeout_ms / 1000;
  start->tv_usec += (timeout_ms % 1000) * 1000;
  if (start->tv_usec >= 1'000'000) {
    start->tv_sec += 1;
    start->tv_usec -= 1'000'000;
  }
}

// The header lines a response must copy (RFC 3261 §8.2.6.2), in long and compact form.
bool IsEchoedHeader(std::string_view name) {
  static constexpr std::string_view kNames[] = {"via", "v",       "from", "f",   "to",
                                                "t",   "call-id", "i",    "cseq"};
  for (std::string_view n : kNames) {
    if (name.size() == n.size() &&
        std::equal(name.begin(), name.end(), n.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

// A 400 for a request osip could not parse at all (a huge Content-Length, a broken header):
// built from the raw header lines when the request line looks like a request and a Via is
// there. Returns an empty string when no response is possible.
std::string RawBadRequest(std::string_view text) {
  size_t line_end = text.find("\r\n");
  if (line_end == std::string_view::npos || text.substr(0, 4) == "SIP/" ||
      text.substr(0, 4) == "ACK " ||
      text.substr(0, line_end).find(" SIP/2.0") == std::string::npos) {
    return {};
  }
  std::string echoed;
  bool has_via = false;
  for (size_t pos = line_end + 2; pos < text.size();) {
    size_t end = text.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) break;  // end of headers
    std::string_view line = text.substr(pos, end - pos);
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon == std::string_view::npos ? 0 : colon);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (colon != std::string_view::npos && IsEchoedHeader(name) && line.size() < 1024) {
      has_via |= std::tolower(static_cast<unsigned char>(name[0])) == 'v';
      echoed.append(line).append("\r\n");
    }
    pos = end + 2;
  }
  if (!has_via) return {};
  return "SIP/2.0 400 Bad Request (unparsable message)\r\n" + echoed +
         "Server: anchord\r\nContent-Length: 0\r\n\r\n";
}

bool IsFinalSentCallback(int type) {
  return type >= OSIP_NIST_STATUS_2XX_SENT && type <= OSIP_NIST_STATUS_6XX_SENT &&
         type != OSIP_NIST_STATUS_2XX_SENT_AGAIN;
}

bool IsRequestCallback(int type) {
  return type == OSIP_IST_INVITE_RECEIVED ||
         (type >= OSIP_NIST_REGISTER_RECEIVED && type <= OSIP_NIST_UNKNOWN_REQUEST_RECEIVED);
}

bool IsResponseCallback(int type) {
  return (type >= OSIP_ICT_STATUS_1XX_RECEIVED && type <= OSIP_ICT_STATUS_6XX_RECEIVED) ||
         (type >= OSIP_NICT_STATUS_1XX_RECEIVED && type <= OSIP_NICT_STATUS_6XX_RECEIVED);
}

}  // namespace

SipStack::SipStack(core::EventLoop& loop, SipTransport& transport, SipStackHandler& handler)
    : transport_(transport), handler_(handler), timer_(loop, [this] { Pump(); }) {}

Result<std::unique_ptr<SipStack>> SipStack::Create(core::EventLoop& loop, SipTransport& transport,
                                                   SipStackHandler& handler) {
  std::unique_ptr<SipStack> stack(new SipStack(loop, transport, handler));
  if (osip_init(&stack->osip_) != 0) return Fail("osip_init failed");
  osip_t* o = stack->osip_;
  osip_set_application_context(o, stack.get());
  osip_set_cb_send_message(o, &SipStack::SendCallback);
  for (int type : {OSIP_ICT_KILL_TRANSACTION, OSIP_IST_KILL_TRANSACTION, OSIP_NICT_KILL_TRANSACTION,
                   OSIP_NIST_KILL_TRANSACTION}) {
    osip_set_kill_transaction_callback(o, type, &SipStack::KillCallback);
  }
  for (int type = 0; type < OSIP_MESSAGE_CALLBACK_COUNT; ++type) {
    if (IsRequestCallback(type) || IsResponseCallback(type) || IsFinalSentCallback(type) ||
        type == OSIP_ICT_STATUS_TIMEOUT || type == OSIP_NICT_STATUS_TIMEOUT) {
      osip_set_message_callback(o, type, &SipStack::MessageCallback);
    }
  }
  for (int type : {OSIP_ICT_TRANSPORT_ERROR, OSIP_NICT_TRANSPORT_ERROR, OSIP_IST_TRANSPORT_ERROR,
                   OSIP_NIST_TRANSPORT_ERROR}) {
    osip_set_transport_error_callback(o, type, &SipStack::TransportErrorCallback);
  }
  return stack;
}

SipStack::~SipStack() {
  if (!osip_) return;
  for (auto& [id, info] : transactions_) {
    osip_remove_transaction(osip_, info.tr);
    osip_transaction_free2(info.tr);
  }
  for (auto* tr : garbage_) osip_transaction_free2(tr);
  osip_release(osip_);
}

SipStack* SipStack::From(osip_transaction_t* tr) {
  return static_cast<SipStack*>(osip_get_application_context(static_cast<osip_t*>(tr->config)));
}

void SipStack::Receive(const InboundMessage& message) {
  osip_event_t* event = osip_parse(message.data.data(), message.data.size());
  if (!event || !event->sip) {
    if (event) osip_event_free(event);
    RejectMalformed(message, nullptr, "unparsable message");
    return;
  }
  std::string why;
  if (!HasMandatoryHeaders(event->sip, &why)) {
    RejectMalformed(message, event->sip, why);
    osip_event_free(event);
    return;
  }
  if (MSG_IS_REQUEST(event->sip)) {
    HandleRequest(event, message);
  } else {
    HandleResponse(event);
  }
  // One pump per loop wakeup, however many datagrams the transport read in it.
  SchedulePump();
}

void SipStack::HandleRequest(osip_event_t* event, const InboundMessage& message) {
  ++counters_.requests;
  osip_message_t* sip = event->sip;
  osip_message_fix_last_via_header(sip, message.source.host.c_str(), message.source.port);
  std::string key = ServerKey(sip);
  if (AnswerFromCompleted(key, sip)) {
    osip_event_free(event);
    return;
  }
  if (auto it = index_.find(key); it != index_.end() && MSG_IS_ACK(sip) == 0) {
    osip_transaction_add_event(transactions_.at(it->second).tr, event);  // retransmission
    return;
  }
  if (MSG_IS_ACK(sip)) {
    if (auto it = index_.find(key); it != index_.end()) {
      osip_transaction_add_event(transactions_.at(it->second).tr, event);  // ACK to a non-2xx
    } else {
      handler_.OnAck(sip);
      osip_event_free(event);
    }
    return;
  }
  osip_transaction_t* tr = osip_create_transaction(osip_, event);
  if (!tr) {
    ++counters_.malformed;
    osip_event_free(event);
    return;
  }
  ApplyT1(tr);
  Track(tr, key, message.source);
  osip_transaction_add_event(tr, event);
}

void SipStack::HandleResponse(osip_event_t* event) {
  ++counters_.responses;
  auto it = index_.find(ClientKey(event->sip));
  if (it == index_.end()) {
    ++counters_.stray;
    handler_.OnStrayResponse(event->sip);
    osip_event_free(event);
    return;
  }
  osip_transaction_add_event(transactions_.at(it->second).tr, event);
}

// A response is possible when a Via tells where it goes; build it from whatever headers the
// request has (RFC 3261 §8.2: 400 for a request we cannot make sense of). Responses and ACKs
// never get one.
void SipStack::RejectMalformed(const InboundMessage& message, const osip_message_t* parsed,
                               const std::string& why) {
  ++counters_.malformed;
  if (counters_.malformed == 1 || counters_.malformed % 1000 == 0) {
    Log(Level::kWarning, Subsys::kSip, "malformed SIP dropped (counted; logged every 1000th)",
        {{"PEER", message.source.host},
         {"REASON", why},
         {"COUNT", std::to_string(counters_.malformed)}});
  }
  if (!parsed) {
    std::string response = RawBadRequest(message.data);
    if (!response.empty() && transport_.Send(message.source, response)) {
      ++counters_.bad_request_sent;
    }
    return;
  }
  if (!MSG_IS_REQUEST(parsed) || MSG_IS_ACK(parsed) || osip_list_size(&parsed->vias) == 0) {
    return;
  }
  osip_message_t* r = nullptr;
  osip_message_init(&r);
  MessagePtr response(r);
  osip_message_set_version(r, osip_strdup("SIP/2.0"));
  osip_message_set_status_code(r, 400);
  osip_message_set_reason_phrase(r, osip_strdup(("Bad Request (" + why + ")").c_str()));
  osip_list_clone(&parsed->vias, &r->vias, [](void* v, void** out) {
    return osip_via_clone(static_cast<osip_via_t*>(v), reinterpret_cast<osip_via_t**>(out));
  });
  if (parsed->from) osip_from_clone(parsed->from, &r->from);
  if (parsed->to) osip_to_clone(parsed->to, &r->to);
  if (parsed->call_id) osip_call_id_clone(parsed->call_id, &r->call_id);
  if (parsed->cseq) osip_cseq_clone(parsed->cseq, &r->cseq);
  if (SendStateless(r, message.source)) ++counters_.bad_request_sent;
}

// osip computes its timers from compile-time T1 = 500 ms when a transaction is created; this
// sets them from the configured T1 (timers already started get a new deadline). Lengths of
// -1 or 0 mean "not used on this transport" and stay so.
void SipStack::ApplyT1(osip_transaction_t* tr) const {
  if (t1_ms_ == 500) return;
  const uint32_t t1 = t1_ms_, t64 = 64 * t1_ms_;
  auto restart = [](int* length, timeval* start, uint32_t ms) {
    if (*length > 0) ShortenTimer(length, start, ms);
  };
  if (tr->ict_context) {
    restart(&tr->ict_context->timer_a_length, &tr->ict_context->timer_a_start, t1);
    restart(&tr->ict_context->timer_b_length, &tr->ict_context->timer_b_start, t64);
  } else if (tr->nict_context) {
    restart(&tr->nict_context->timer_e_length, &tr->nict_context->timer_e_start, t1);
    restart(&tr->nict_context->timer_f_length, &tr->nict_context->timer_f_start, t64);
  } else if (tr->ist_context) {  // G and H start with the final response: set lengths only
    if (tr->ist_context->timer_g_length > 0) tr->ist_context->timer_g_length = static_cast<int>(t1);
    if (tr->ist_context->timer_h_length > 0)
      tr->ist_context->timer_h_length = static_cast<int>(t64);
  } else if (tr->nist_context && tr->nist_context->timer_j_length > 0) {
    tr->nist_context->timer_j_length = static_cast<int>(t64);
  }
}

// osip doubles timers E and G up to its compile-time T2 (4 s); a shorter configured T2 caps
// them here, after osip has set the next interval.
void SipStack::ApplyT2() const {
  if (t2_ms_ >= 4000) return;
  // A stopped timer has start.tv_sec == -1 (its length may still be large): leave it stopped.
  auto cap = [t2 = t2_ms_](int* length, timeval* start) {
    if (start->tv_sec != -1 && *length > static_cast<int>(t2)) ShortenTimer(length, start, t2);
  };
  for (const auto& [id, info] : transactions_) {
    osip_transaction_t* tr = info.tr;
    if (tr->nict_context) cap(&tr->nict_context->timer_e_length, &tr->nict_context->timer_e_start);
    if (tr->ist_context) cap(&tr->ist_context->timer_g_length, &tr->ist_context->timer_g_start);
  }
}

// A NIST's final response went out: remember it for retransmitted requests (timer J) and let
// the osip transaction go after this pump.
void SipStack::Retire(osip_transaction_t* tr) {
  auto it = transactions_.find(tr->transactionid);
  if (it == transactions_.end() || !tr->last_response) return;
  const bool reliable = it->second.peer.transport != core::Transport::kUdp;
  const uint64_t expires = reliable ? 0 : core::MonotonicUs() + 64ull * t1_ms_ * 1000;
  if (expires) {
    completed_[it->second.key] = Completed{ToText(tr->last_response), it->second.peer, expires};
    completed_expiry_.emplace_back(expires, it->second.key);
  }
  finished_.push_back(tr->transactionid);
}

void SipStack::RetireFinished() {
  for (TxId id : finished_) {
    auto it = transactions_.find(id);
    if (it == transactions_.end()) continue;
    osip_transaction_t* tr = it->second.tr;
    if (auto idx = index_.find(it->second.key); idx != index_.end() && idx->second == id) {
      index_.erase(idx);
    }
    transactions_.erase(it);
    osip_remove_transaction(osip_, tr);
    garbage_.push_back(tr);
  }
  finished_.clear();
  const uint64_t now = core::MonotonicUs();
  while (!completed_expiry_.empty() && completed_expiry_.front().first <= now) {
    auto c = completed_.find(completed_expiry_.front().second);
    if (c != completed_.end() && c->second.expires_us <= now) completed_.erase(c);
    completed_expiry_.pop_front();
  }
}

bool SipStack::AnswerFromCompleted(const std::string& key, const osip_message_t* request) {
  if (MSG_IS_ACK(request)) return false;
  auto it = completed_.find(key);
  if (it == completed_.end() || it->second.expires_us <= core::MonotonicUs()) return false;
  ++counters_.retransmissions_answered;
  (void)transport_.Send(it->second.peer, it->second.response);
  return true;
}

TxId SipStack::Track(osip_transaction_t* tr, std::string key, const PeerAddress& peer) {
  TxId id = tr->transactionid;
  index_[key] = id;
  transactions_[id] = TxInfo{tr, std::move(key), peer};
  return id;
}

TxId SipStack::SendRequest(MessagePtr request, const PeerAddress& destination,
                           uint32_t timeout_ms) {
  bool invite = MSG_IS_INVITE(request.get());
  osip_transaction_t* tr = nullptr;
  if (osip_transaction_init(&tr, invite ? ICT : NICT, osip_, request.get()) != 0) return 0;
  ApplyT1(tr);
  if (invite) {
    osip_ict_set_destination(tr->ict_context, osip_strdup(destination.host.c_str()),
                             destination.port);
    if (timeout_ms) {
      ShortenTimer(&tr->ict_context->timer_b_length, &tr->ict_context->timer_b_start, timeout_ms);
    }
  } else {
    osip_nict_set_destination(tr->nict_context, osip_strdup(destination.host.c_str()),
                              destination.port);
    if (timeout_ms) {
      ShortenTimer(&tr->nict_context->timer_f_length, &tr->nict_context->timer_f_start, timeout_ms);
    }
  }
  TxId id = Track(tr, ClientKey(request.get()), destination);
  osip_event_t* event = osip_new_outgoing_sipmessage(request.release());
  event->transactionid = tr->transactionid;
  osip_transaction_add_event(tr, event);
  SchedulePump();
  return id;
}

bool SipStack::Respond(TxId tx, MessagePtr response) {
  auto it = transactions_.find(tx);
  if (it == transactions_.end() || !response) return false;
  osip_event_t* event = osip_new_outgoing_sipmessage(response.release());
  event->transactionid = it->second.tr->transactionid;
  osip_transaction_add_event(it->second.tr, event);
  SchedulePump();
  return true;
}

Status SipStack::SendStateless(const osip_message_t* message, const PeerAddress& destination) {
  std::string text = ToText(message);
  if (text.empty()) return Fail("cannot serialize message");
  return transport_.Send(destination, text);
}

const osip_message_t* SipStack::RequestOf(TxId tx) const {
  auto it = transactions_.find(tx);
  return it == transactions_.end() ? nullptr : it->second.tr->orig_request;
}

TxId SipStack::FindInviteServerTx(const osip_message_t* cancel) const {
  std::string key = ServerKey(cancel);
  key.replace(0, 2 + std::strlen("CANCEL"), "S|INVITE");
  auto it = index_.find(key);
  return it == index_.end() ? 0 : it->second;
}

std::string SipStack::NewVia(core::Transport transport, std::string* branch) const {
  const core::ListenAddress* local = transport_.LocalAddress(transport);
  *branch = NewBranch();
  std::string host = local ? local->host : "127.0.0.1";
  uint16_t port = local ? local->port : 5060;
  return std::string("SIP/2.0/") + TransportName(transport) + " " + host + ":" +
         std::to_string(port) + ";branch=" + *branch + ";rport";
}

std::string SipStack::ContactUri(core::Transport transport) const {
  const core::ListenAddress* local = transport_.LocalAddress(transport);
  std::string uri = "sip:anchord@" + (local ? local->host : std::string("127.0.0.1")) + ":" +
                    std::to_string(local ? local->port : 5060);
  if (transport == core::Transport::kTcp) uri += ";transport=tcp";
  return uri;
}

void SipStack::OnTransportFailure(const PeerAddress& peer) {
  std::vector<TxId> failed;
  for (const auto& [id, info] : transactions_) {
    const bool client = info.tr->ict_context || info.tr->nict_context;
    if (client && info.peer.transport == core::Transport::kTcp && info.peer.host == peer.host &&
        info.peer.port == peer.port) {
      failed.push_back(id);
    }
  }
  for (TxId id : failed) {
    finished_.push_back(id);  // leaves osip after the next pump
    handler_.OnClientFailure(id, 503);
  }
  if (!failed.empty()) SchedulePump();
}

void SipStack::AddContact(osip_message_t* message, core::Transport transport) const {
  osip_message_set_contact(message, ("<" + ContactUri(transport) + ">").c_str());
}

void SipStack::Pump() {
  pumping_ = true;
  // Handlers may queue new events while we run; a few rounds deliver those in the same wakeup.
  for (int round = 0; round < 4; ++round) {
    osip_timers_ict_execute(osip_);
    osip_timers_ist_execute(osip_);
    osip_timers_nict_execute(osip_);
    osip_timers_nist_execute(osip_);
    osip_ict_execute(osip_);
    osip_ist_execute(osip_);
    osip_nict_execute(osip_);
    osip_nist_execute(osip_);
    ApplyT2();
    timeval next{};
    osip_timers_gettimeout(osip_, &next);
    if (next.tv_sec != 0 || next.tv_usec != 0) break;
  }
  RetireFinished();
  for (auto* tr : garbage_) osip_transaction_free2(tr);
  garbage_.clear();
  pumping_ = false;
  // osip_timers_gettimeout() does not see events queued by handlers during this pump (a BYE
  // sent from the BYE handler, a 487 from the CANCEL handler): pump again at once for those,
  // instead of waiting for the next transaction timer (32 s for a completed NIST).
  if (repump_) {
    repump_ = false;
    timer_.ArmIn(0);
  } else {
    ArmTimer();
  }
}

// Sends and responses never pump synchronously: handlers then never run inside the call that
// queued the event (a send failure reported before SendRequest returned its id, say).
void SipStack::SchedulePump() {
  if (pumping_) {
    repump_ = true;
  } else {
    timer_.ArmIn(0);
  }
}

void SipStack::ArmTimer() {
  timeval next{};
  osip_timers_gettimeout(osip_, &next);
  uint64_t at_us = core::MonotonicUs() + static_cast<uint64_t>(next.tv_sec) * 1'000'000u +
                   static_cast<uint64_t>(next.tv_usec);
  // Completed transactions expire on our own clock (timer J), also when no traffic comes.
  if (!completed_expiry_.empty()) at_us = std::min(at_us, completed_expiry_.front().first);
  timer_.ArmAt(at_us);
}

int SipStack::SendCallback(osip_transaction_t* tr, osip_message_t* m, char*, int, int) {
  if (!tr) return -1;  // ixt retransmissions are not used
  SipStack* self = From(tr);
  auto it = self->transactions_.find(tr->transactionid);
  if (it == self->transactions_.end()) return -1;
  Status sent = self->SendStateless(m, it->second.peer);
  return sent ? 0 : -1;
}

void SipStack::KillCallback(int, osip_transaction_t* tr) {
  SipStack* self = From(tr);
  if (auto it = self->transactions_.find(tr->transactionid); it != self->transactions_.end()) {
    if (auto idx = self->index_.find(it->second.key);
        idx != self->index_.end() && idx->second == it->first) {
      self->index_.erase(idx);
    }
    self->transactions_.erase(it);
  }
  osip_remove_transaction(static_cast<osip_t*>(tr->config), tr);
  self->garbage_.push_back(tr);  // freed after the pump: freeing here is a use-after-free
}

void SipStack::MessageCallback(int type, osip_transaction_t* tr, osip_message_t* m) {
  SipStack* self = From(tr);
  auto it = self->transactions_.find(tr->transactionid);
  if (it == self->transactions_.end()) return;
  if (IsRequestCallback(type)) {
    self->handler_.OnRequest(tr->transactionid, m, it->second.peer);
  } else if (IsResponseCallback(type)) {
    // A NICT's final response ends its work: timer K only absorbs retransmitted responses,
    // which OnStrayResponse ignores just as well.
    if (tr->nict_context && m->status_code >= 200) self->finished_.push_back(tr->transactionid);
    self->handler_.OnResponse(tr->transactionid, m);
  } else if (IsFinalSentCallback(type)) {
    self->Retire(tr);
  } else {
    self->handler_.OnClientFailure(tr->transactionid, 408);
  }
}

void SipStack::TransportErrorCallback(int type, osip_transaction_t* tr, int) {
  if (type == OSIP_ICT_TRANSPORT_ERROR || type == OSIP_NICT_TRANSPORT_ERROR) {
    From(tr)->handler_.OnClientFailure(tr->transactionid, 503);
  }
}

}  // namespace anchord::signaling
