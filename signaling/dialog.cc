#include "signaling/dialog.h"

#include <algorithm>

#include "signaling/sip_stack.h"

namespace anchord::signaling {

std::string DialogKey(const std::string& call_id, const std::string& local_tag) {
  return call_id + "|" + local_tag;
}

MessagePtr MakeInDialogRequest(const SipStack& stack, Dialog& dialog, const char* method,
                               uint32_t cseq, int max_forwards) {
  osip_message_t* m = nullptr;
  osip_message_init(&m);
  MessagePtr request(m);
  osip_message_set_method(m, osip_strdup(method));
  osip_message_set_version(m, osip_strdup("SIP/2.0"));
  osip_uri_t* uri = nullptr;
  osip_uri_init(&uri);
  if (osip_uri_parse(uri, dialog.remote_target.c_str()) != 0) {
    osip_uri_free(uri);
    return nullptr;
  }
  osip_message_set_uri(m, uri);
  std::string branch;
  osip_message_set_via(m, stack.NewVia(dialog.peer.transport, &branch).c_str());
  osip_message_set_from(m, dialog.local_party.c_str());
  osip_message_set_to(m, dialog.remote_party.c_str());
  osip_message_set_call_id(m, dialog.call_id.c_str());
  uint32_t number = cseq ? cseq : ++dialog.local_cseq;
  osip_message_set_cseq(m, (std::to_string(number) + " " + method).c_str());
  for (const std::string& route : dialog.route_set) osip_message_set_route(m, route.c_str());
  osip_message_set_max_forwards(m, std::to_string(max_forwards).c_str());
  stack.AddContact(m, dialog.peer.transport);
  return request;
}

void LearnRoute(Dialog& dialog, const osip_message_t* message, bool as_uac,
                core::Transport transport) {
  dialog.route_set.clear();
  osip_record_route_t* rr = nullptr;
  for (int i = 0;
       (rr = static_cast<osip_record_route_t*>(osip_list_get(&message->record_routes, i))); ++i) {
    char* text = nullptr;
    if (osip_record_route_to_str(rr, &text) == 0 && text) {
      dialog.route_set.emplace_back(text);
      OsipFree(text);
    }
  }
  if (as_uac) std::reverse(dialog.route_set.begin(), dialog.route_set.end());
  auto* contact = static_cast<osip_contact_t*>(osip_list_get(&message->contacts, 0));
  if (contact && contact->url) dialog.remote_target = UriText(contact->url);
  std::optional<PeerAddress> peer;
  if (!dialog.route_set.empty() && dialog.route_set.front().find(";lr") != std::string::npos) {
    std::string route = dialog.route_set.front();
    size_t lt = route.find('<'), gt = route.find('>');
    if (lt != std::string::npos && gt != std::string::npos) {
      peer = PeerOfUriText(route.substr(lt + 1, gt - lt - 1), transport);
    }
  }
  if (!peer) peer = PeerOfUriText(dialog.remote_target, transport);
  if (peer) dialog.peer = *peer;
}

}  // namespace anchord::signaling
