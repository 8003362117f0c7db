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

// The range [begin, end) of a sorted list that a request gets.
struct Page {
  size_t begin = 0;
  size_t end = 0;
  bool more = false;  // entries remain after this page
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

// The entries after `last`, at most n of them.
Page paginate(const registry::NameListing& names, const std::optional<std::string>& last,
              std::optional<size_t> n) {
  Page page;
  page.begin = last ? names.after(*last) : 0;
  size_t available = names.size() - page.begin;
  size_t take = n ? std::min(*n, available) : available;
  page.end = page.begin + take;
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
  auto names = co_await ctx.reading([&] { return ctx.registry.tag_list(ctx.route.name); });
  auto page = paginate(*names, ctx.query.get("last"), n);
  // {"name":...,"tags":[...]}, as nlohmann::json would write it, from the cached JSON.
  std::string body = R"({"name":)" + nlohmann::json(ctx.route.name).dump() + R"(,"tags":)";
  names->append_json(body, page.begin, page.end);
  body += '}';
  auto res = json_response(200, std::move(body));
  if (page.more)
    add_next_link(res, ctx.url(fmt::format("/v2/{}/tags/list", ctx.route.name)), *n,
                  names->names()[page.end - 1]);
  co_return res;
}

Reply list_catalog(Context& ctx) {
  // Distribution's defaults: 100 entries a page unless asked, never more than 1000.
  constexpr size_t kDefaultEntries = 100;
  constexpr size_t kMaxEntries = 1000;
  size_t n = std::min(page_size(ctx.query).value_or(kDefaultEntries), kMaxEntries);
  auto names = co_await ctx.reading([&] { return ctx.registry.repository_list(); });
  auto page = paginate(*names, ctx.query.get("last"), n);
  std::string body = R"({"repositories":)";
  names->append_json(body, page.begin, page.end);
  body += '}';
  auto res = json_response(200, std::move(body));
  if (page.more) add_next_link(res, ctx.url("/v2/_catalog"), n, names->names()[page.end - 1]);
  co_return res;
}

}  // namespace onsen::api
