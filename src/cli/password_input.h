// Reading a password for `onsen htpasswd` as Apache's htpasswd does: a prompt without echo on a
// terminal, one line from standard input otherwise (scripts, `docker run -i`, pipes).
#pragma once

#include <optional>
#include <string>

namespace onsen::cli {

// One line from standard input without its line ending ("\n" or "\r\n"); nullopt when standard
// input ends before any byte (e.g. `docker run` without -i gives /dev/null). Reads byte by byte,
// so nothing after the line is consumed.
std::optional<std::string> read_password_line();

// Writes `prompt` to standard error, reads one line from the terminal on standard input with echo
// off, then restores the terminal (also when SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the process
// meanwhile). nullopt at end of input (Ctrl-D) or on a read error.
std::optional<std::string> prompt_password(const char* prompt);

}  // namespace onsen::cli
