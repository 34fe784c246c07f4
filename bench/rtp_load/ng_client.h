// NgClient: rtpengine's ng control protocol over UDP, just offer/answer/delete/ping.
// A request is "<cookie> <bencoded dict>"; the reply is "<cookie> <bencoded dict>" with
// "result" ("ok", "error" + "error-reason") and, for offer/answer, the rewritten "sdp".
// Calls block (poll with a 2 s deadline, 3 tries): it is used only while setting calls up.
#pragma once

#include <netinet/in.h>

#include <map>
#include <string>

namespace anchord::bench {

class NgClient {
 public:
  ~NgClient();
  bool Open(const sockaddr_in& server);

  // Each returns false (and sets error()) when rtpengine does not answer "ok".
  bool Ping();
  // `sdp` in, rewritten SDP out (in `sdp_out`).
  bool Offer(const std::string& call_id, const std::string& from_tag, const std::string& sdp,
             std::string* sdp_out);
  bool Answer(const std::string& call_id, const std::string& from_tag, const std::string& to_tag,
              const std::string& sdp, std::string* sdp_out);
  bool Delete(const std::string& call_id, const std::string& from_tag);
  const std::string& error() const { return error_; }

 private:
  // Sends the dict (string values only) and returns the reply's top-level string values.
  bool Request(const std::map<std::string, std::string>& dict,
               std::map<std::string, std::string>* reply);

  int fd_ = -1;
  sockaddr_in server_{};
  unsigned cookie_ = 0;
  std::string error_;
};

}  // namespace anchord::bench
