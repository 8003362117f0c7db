// `onsen htpasswd [-b] [-C cost] USER [PASSWORD]`: prints one `USER:$2y$...` bcrypt line for an
// htpasswd file, as `htpasswd -Bbn` does, for images that have no shell and no apache2-utils
// (`docker run --rm onsen:latest htpasswd -Bbn alice secret >> auth/htpasswd`).
#pragma once

#include <string>

namespace onsen::cli {

struct HtpasswdOptions {
  std::string user;
  std::string password;
  bool password_given = false;  // PASSWORD was on the command line
  bool batch = false;           // -b: the password is the PASSWORD argument
  int cost = 10;                // -C: bcrypt cost, 4..31 (Go's x/crypto/bcrypt default)
};

// Without -b the password is one line of standard input when it is not a terminal, else it is
// prompted for twice without echo ("New password: ", "Re-type new password: "). Writes the line
// (and nothing else) on stdout; errors are one line on stderr. Returns the exit status, Apache
// htpasswd's codes: 0 done; 1 the hash could not be made or written; 2 usage (-b without
// PASSWORD, PASSWORD without -b, cost out of range, empty password, nothing on standard input);
// 3 the two typed passwords differ; 4 input ended at the prompt; 5 too long (password over
// bcrypt's 72 bytes, user name over 255); 6 user name not usable (empty, ':', a control
// character, a leading '#' or blank: the server would read the line differently).
int htpasswd(const HtpasswdOptions& options);

}  // namespace onsen::cli
