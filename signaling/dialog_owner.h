// DialogOwner: a SIP user of the stack besides the Controller (the RFC 3725 direct-media
// third-party controller). The Controller is the stack's only handler and hands a message to a
// DialogOwner when that owner claims its transaction or dialog.
//
// Threading: signaling thread only.
#pragma once

#include <string>

#include "signaling/sip_stack.h"

namespace anchord::signaling {

class DialogOwner : public SipStackHandler {
 public:
  // A client transaction this owner started (its responses and failures go to it).
  virtual bool OwnsTransaction(TxId tx) const = 0;
  // A dialog this owner holds, named by Call-ID and the server's own tag.
  virtual bool OwnsDialog(const std::string& call_id, const std::string& local_tag) const = 0;
};

}  // namespace anchord::signaling
