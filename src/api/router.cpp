#include "api/router.h"

#include <vector>

namespace onsen::api {

namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

std::string join(const std::vector<std::string_view>& segments, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) {
    if (i > from) out += '/';
    out += segments[i];
  }
  return out;
}

}  // namespace

Route parse_route(std::string_view path) {
  using Kind = Route::Kind;
  if (path == "/v2" || path == "/v2/") return {Kind::kBase, "", ""};
  if (path.substr(0, 4) != "/v2/" || path.find('%') != std::string_view::npos) return {};
  if (path == "/v2/_catalog") return {Kind::kCatalog, "", ""};

  // segments after "/v2/"; a trailing '/' yields a last empty segment.
  auto seg = split(path.substr(4));
  size_t n = seg.size();
  auto name_until = [&](size_t end) { return join(seg, 0, end); };
  auto at = [&](size_t from_end) { return seg[n - from_end]; };

  if (n >= 3 && at(2) == "blobs" && at(1) == "uploads")
    return {Kind::kUploads, name_until(n - 2), ""};
  if (n >= 4 && at(3) == "blobs" && at(2) == "uploads" && at(1).empty()) {
    return {Kind::kUploads, name_until(n - 3), ""};
  }
  if (n >= 4 && at(3) == "blobs" && at(2) == "uploads") {
    return {Kind::kUpload, name_until(n - 3), std::string(at(1))};
  }
  if (n >= 3 && at(2) == "tags" && at(1) == "list") return {Kind::kTags, name_until(n - 2), ""};
  if (n >= 3 && at(2) == "manifests")
    return {Kind::kManifest, name_until(n - 2), std::string(at(1))};
  if (n >= 3 && at(2) == "blobs") return {Kind::kBlob, name_until(n - 2), std::string(at(1))};
  if (n >= 3 && at(2) == "referrers")
    return {Kind::kReferrers, name_until(n - 2), std::string(at(1))};
  return {};
}

}  // namespace onsen::api
