#include "storage/s3/timed_socket.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace onsen::storage::s3 {

bool TimedSocket::wait(Direction direction, std::chrono::steady_clock::time_point deadline,
                       boost::system::error_code& ec) {
  pollfd pfd{socket_.native_handle(), static_cast<short>(direction == POLL_IN ? POLLIN : POLLOUT),
             0};
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), INT32_MAX)));
    // Readiness or an error or hang-up on the socket: the next read or write says which.
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) {
      ec = boost::system::error_code(errno, boost::system::system_category());
      return false;
    }
  }
  ec = boost::asio::error::timed_out;
  return false;
}

}  // namespace onsen::storage::s3
