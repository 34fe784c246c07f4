// Transfer (NENA-4.7, RFC 3515, RFC 3891, RFC 3892): a position's REFER brings its target into
// the call's bridge without dropping the caller.
//
// Blind: Refer-To names the target; the server answers 202, INVITEs the target with its own SDP
// (Referred-By copied, or the position's URI when the REFER has none) and reports progress to the
// position in NOTIFYs with message/sipfrag bodies. When the target answers it joins the bridge; the
// position then hangs up (its BYE ends only its own leg, the caller stays with the target).
// Attended: Refer-To carries ?Replaces=... (the position's consultation dialog with the target);
// the server's INVITE carries that Replaces header so the target swaps the consultation call for
// the bridge.
#include <strings.h>

#include <cctype>

#include "core/log.h"
#include "signaling/controller.h"
#include "signaling/internal/controller_state.h"

namespace anchord::signaling {

using core::Level;
using core::Log;
using core::Subsys;

namespace {

// RFC 3986 percent-decoding of a URI header value (Replaces=abc%40host%3Bto-tag%3D1 ...).
std::string PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(text[i + 1]) &&
        std::isxdigit(text[i + 2])) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

struct ReferTarget {
  std::string uri;       // without URI headers
  std::string replaces;  // decoded Replaces header value, empty for a blind transfer
};

// Refer-To: <sip:target@host;params?Replaces=...> (name-addr; the URI may carry headers).
std::optional<ReferTarget> ParseReferTo(const std::string& value) {
  size_t lt = value.find('<'), gt = value.rfind('>');
  std::string uri = lt != std::string::npos && gt != std::string::npos && gt > lt
                        ? value.substr(lt + 1, gt - lt - 1)
                        : value;
  ReferTarget target;
  size_t q = uri.find('?');
  target.uri = uri.substr(0, q);
  if (q != std::string::npos) {
    std::string headers = uri.substr(q + 1);
    for (size_t start = 0; start < headers.size();) {
      size_t end = headers.find('&', start);
      std::string h = headers.substr(start, end == std::string::npos ? end : end - start);
      if (h.size() > 9 && strncasecmp(h.c_str(), "Replaces=", 9) == 0) {
        target.replaces = PercentDecode(h.substr(9));
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  if (target.uri.rfind("sip:", 0) != 0) return std::nullopt;
  return target;
}

}  // namespace

// The configured URI of a transferring position; a party's URI as we called it; else the
// dialog's remote target.
std::string Controller::TransferorUri(const Leg& transferor) {
  if (transferor.kind == LegKind::kPosition) {
    if (const failover::Position* p = positions_.Find(transferor.position)) return p->uri;
  }
  if (!transferor.uri.empty()) return transferor.uri;
  return transferor.dialog.remote_target;
}

void Controller::HandleRefer(TxId tx, Leg& transferor, const osip_message_t* refer) {
  Call* call = FindCall(transferor.call);
  std::optional<ReferTarget> target = ParseReferTo(HeaderValue(refer, "refer-to"));
  if (!call || !call->answered || transferor.kind == LegKind::kCaller) {
    Respond(tx, refer, 403);
    return;
  }
  if (!target) {
    Respond(tx, refer, 400);
    return;
  }
  std::vector<std::pair<std::string, std::string>> headers;
  // NENA-4.7.1-b: the target learns who transferred the call. A REFER without Referred-By
  // (baresip 1.0.0 sends none) gets the transferor's own URI (RFC 3892 §3 name-addr).
  std::string by = HeaderValue(refer, "referred-by");
  if (by.empty()) by = "<" + TransferorUri(transferor) + ">";
  headers.emplace_back("Referred-By", by);
  if (!target->replaces.empty()) headers.emplace_back("Replaces", target->replaces);
  Result<LegId> leg = InviteParty(*call, target->uri, headers);
  if (!leg) {
    Log(Level::kWarning, Subsys::kSip, "transfer refused: " + leg.error().message,
        {{"CALL_ID", call->sip_call_id}});
    Respond(tx, refer, 488);
    return;
  }
  Respond(tx, refer, 202);
  Leg* invited = FindLeg(*leg);
  invited->transferor = transferor.id;
  Log(Level::kNotice, Subsys::kSip,
      target->replaces.empty() ? "blind transfer" : "attended transfer",
      {{"CALL_ID", call->sip_call_id},
       {"PEER", target->uri},
       {"LEG", std::to_string(transferor.id.value)}});
  NotifyTransferor(*invited, 100);
}

// RFC 3515 §2.4.4: NOTIFY with the target's status line as message/sipfrag; a final status
// ends the implicit subscription.
void Controller::NotifyTransferor(Leg& target, int status_code) {
  Leg* transferor = FindLeg(target.transferor);
  if (!transferor) return;
  MessagePtr notify = MakeInDialogRequest(*stack_, transferor->dialog, "NOTIFY");
  if (!notify) return;
  const char* reason = osip_message_get_reason(status_code);
  std::string body =
      "SIP/2.0 " + std::to_string(status_code) + " " + (reason ? reason : "") + "\r\n";
  osip_message_set_header(notify.get(), "Event", "refer");
  osip_message_set_header(
      notify.get(), "Subscription-State",
      status_code >= 200 ? "terminated;reason=noresource" : "active;expires=60");
  osip_message_set_content_type(notify.get(), "message/sipfrag;version=2.0");
  osip_message_set_body(notify.get(), body.data(), body.size());
  stack_->SendRequest(std::move(notify), transferor->dialog.peer);
  if (status_code >= 200) target.transferor = LegId{};
}

}  // namespace anchord::signaling
