// GET /v2/<name>/tags/list and GET /v2/_catalog: sorted names, paginated with `n` and `last`,
// and a `Link: <...>; rel="next"` header when more remain.
#include "api/handlers.h"
#include "api/responses.h"
#include "registry/error.h"

#include <fmt/format.h>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace onsen::api {

namespace {

struct Page {
  std::vector<std::string> items;
  bool more = false;
};

std::optional<size_t> page_size(const Query& query) {
  auto text = query.get("n");
  if (!text) return std::nullopt;
  size_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size()) {
    throw registry::Error(registry::ErrorCode::kPaginationNumberInvalid,
                          "n must be a non-negative integer");
  }
  return n;
}

// `sorted` must be sorted; returns the entries after `last`, at most n of them.
Page paginate(std::vector<std::string> sorted, const std::optional<std::string>& last,
              std::optional<size_t> n) {
  auto begin = sorted.begin();
  if (last) begin = std::upper_bound(sorted.begin(), sorted.end(), *last);
  size_t available = static_cast<size_t>(sorted.end() - begin);
  size_t take = n ? std::min(*n, available) : available;
  Page page;
  page.items.assign(std::make_move_iterator(begin), std::make_move_iterator(begin + take));
  page.more = take < available && take > 0;
  return page;
}

void add_next_link(http::Response& res, const std::string& path, size_t n,
                   const std::string& last) {
  auto encoded = boost::urls::encode(last, boost::urls::unreserved_chars);
  res.headers.set("Link", fmt::format("<{}?n={}&last={}>; rel=\"next\"", path, n, encoded));
}

}  // namespace

Reply list_tags(Context& ctx) {
  auto n = page_size(ctx.query);
  auto page = paginate(ctx.registry.tags(ctx.route.name), ctx.query.get("last"), n);
  nlohmann::json body = {{"name", ctx.route.name}, {"tags", page.items}};
  auto res = json_response(200, body.dump());
  if (page.more)
    add_next_link(res, ctx.url(fmt::format("/v2/{}/tags/list", ctx.route.name)), *n,
                  page.items.back());
  co_return res;
}

Reply list_catalog(Context& ctx) {
  // Distribution's defaults: 100 entries a page unless asked, never more than 1000.
  constexpr size_t kDefaultEntries = 100;
  constexpr size_t kMaxEntries = 1000;
  size_t n = std::min(page_size(ctx.query).value_or(kDefaultEntries), kMaxEntries);
  auto page = paginate(ctx.registry.repositories(), ctx.query.get("last"), n);
  nlohmann::json body = {{"repositories", page.items}};
  auto res = json_response(200, body.dump());
  if (page.more) add_next_link(res, ctx.url("/v2/_catalog"), n, page.items.back());
  co_return res;
}

}  // namespace onsen::api
