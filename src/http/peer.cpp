// Peer (message.h): the text form logs use.
#include "http/message.h"

namespace onsen::http {

std::string Peer::to_string() const {
  if (unix_socket()) return "unix";
  std::string port_text = std::to_string(port);
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + port_text;
  return address + ":" + port_text;
}

}  // namespace onsen::http
