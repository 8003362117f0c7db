#include "cli/htpasswd.h"

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "auth/basic_credentials.h"
#include "auth/htpasswd.h"
#include "cli/password_input.h"

namespace onsen::cli {
namespace {

constexpr std::size_t kMaxUser = 255;  // Apache htpasswd's limit

// A failure with its exit status and the message for stderr.
struct Failure {
  int status;
  std::string message;
};

// Why `user` cannot be written as the first field of an htpasswd line, or "" when it can. The
// server splits at the first ':', trims blanks around the line and skips lines starting with '#'.
std::string user_problem(std::string_view user) {
  if (user.empty()) return "empty user name";
  if (user.find(':') != std::string_view::npos) return "username contains illegal character ':'";
  for (unsigned char c : user) {
    if (c < 0x20 || c == 0x7f) return "username contains a control character";
  }
  if (user.front() == '#') return "username starts with '#' (the line would be a comment)";
  if (user.front() == ' ') return "username starts with a blank (it would be trimmed)";
  return "";
}

std::string obtain_password(const HtpasswdOptions& options) {
  if (options.batch) {
    if (!options.password_given) throw Failure{2, "-b needs the password as the last argument"};
    return options.password;
  }
  if (options.password_given) {
    // As Apache's htpasswd: a password argument is visible to other users in the process list.
    throw Failure{2,
                  "a PASSWORD argument needs -b; without it the password is read from "
                  "standard input or prompted for"};
  }
  if (!isatty(STDIN_FILENO)) {
    auto line = read_password_line();
    if (!line) {
      throw Failure{2,
                    "no password on standard input (give it with -b, pipe it in, or run "
                    "`docker run -i`)"};
    }
    return std::move(*line);
  }
  auto first = prompt_password("New password: ");
  if (!first) throw Failure{4, "password input ended"};
  auto second = prompt_password("Re-type new password: ");
  if (!second) {
    auth::secure_wipe(*first);
    throw Failure{4, "password input ended"};
  }
  bool same = *first == *second;
  auth::secure_wipe(*second);
  if (!same) {
    auth::secure_wipe(*first);
    throw Failure{3, "password verification error"};
  }
  return std::move(*first);
}

}  // namespace

int htpasswd(const HtpasswdOptions& options) {
  std::string password;
  try {
    if (options.user.size() > kMaxUser) {
      throw Failure{5, fmt::format("username longer than {} bytes", kMaxUser)};
    }
    if (auto problem = user_problem(options.user); !problem.empty()) throw Failure{6, problem};
    password = obtain_password(options);
    if (password.empty()) throw Failure{2, "empty password"};
    if (password.size() > auth::kBcryptMaxPassword) {
      throw Failure{5, fmt::format("password longer than {} bytes (bcrypt ignores the rest)",
                                   auth::kBcryptMaxPassword)};
    }
    std::string hash = auth::bcrypt_hash(password, options.cost);
    auth::secure_wipe(password);
    fmt::print("{}:{}\n", options.user, hash);
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw Failure{1, "cannot write stdout"};
    return 0;
  } catch (const Failure& f) {
    auth::secure_wipe(password);
    fmt::print(stderr, "onsen htpasswd: {}\n", f.message);
    return f.status;
  } catch (const std::exception& e) {
    // invalid_argument from bcrypt_hash: a cost out of range, a NUL in the password (usage, 2);
    // anything else: libcrypt or stdout failed (1).
    auth::secure_wipe(password);
    fmt::print(stderr, "onsen htpasswd: {}\n", e.what());
    return dynamic_cast<const std::invalid_argument*>(&e) ? 2 : 1;
  }
}

}  // namespace onsen::cli
