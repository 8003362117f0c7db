#include "cli/password_input.h"

#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace onsen::cli {
namespace {

// The terminal settings before echo was turned off, for the signal handler (set before the
// handlers are installed, read only by them).
termios g_saved_termios;
constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Puts the terminal back, then dies of the signal as if nothing had been caught: a shell must not
// be left without echo after Ctrl-C at the prompt. Only async-signal-safe calls.
extern "C" void restore_terminal_and_reraise(int signo) {
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  (void)!write(STDERR_FILENO, "\n", 1);
  signal(signo, SIG_DFL);
  raise(signo);
}

void write_stderr(const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    ssize_t n = write(STDERR_FILENO, text, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Reads up to and excluding '\n'; nullopt when input ends (or fails) before any byte.
std::optional<std::string> read_line(int fd) {
  std::string line;
  bool any = false;
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    any = true;
    if (c == '\n') break;
    line.push_back(c);
  }
  if (!any) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::optional<std::string> read_password_line() {
  return read_line(STDIN_FILENO);
}

std::optional<std::string> prompt_password(const char* prompt) {
  if (tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return std::nullopt;
  std::array<struct sigaction, kSignals.size()> previous{};
  struct sigaction restore {};
  restore.sa_handler = restore_terminal_and_reraise;
  sigemptyset(&restore.sa_mask);
  for (std::size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &restore, &previous[i]);

  termios quiet = g_saved_termios;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;  // the Enter key still moves to the next line
  // Echo goes off (dropping what was typed ahead, as getpass does) before the prompt shows, so
  // nothing typed after the prompt is echoed or dropped.
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  write_stderr(prompt);
  auto line = read_line(STDIN_FILENO);
  tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
  if (!line) write_stderr("\n");  // Ctrl-D: ECHONL printed nothing

  for (std::size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &previous[i], nullptr);
  return line;
}

}  // namespace onsen::cli
