// Tag listing and the repository catalog, with n/last pagination.
#include "server_fixture.h"
#include "support/registry_helpers.h"

#include <algorithm>

namespace onsen::e2e {
namespace {

class TagsTest : public RegistryTest {
 protected:
  // Pushes one manifest under every tag (in the given order).
  void push_tags(const std::string& name, const std::vector<std::string>& tags) {
    Image img = make_image(c(), name, 200);
    for (const auto& t : tags) {
      auto r = push_manifest(c(), name, t, mt::kOciManifest, img.manifest);
      ASSERT_EQ(r.status, 201u) << t << "\n" << r.describe();
    }
  }

  // Tags a..e, pushed in the order d a c b e, listed with `query` (n=2): the page must be `page`
  // with a Link to the page after `next_last`, or no Link when next_last is "" (the last page).
  void expect_page_of_five(const std::string& query, const std::vector<std::string>& page,
                           const std::string& next_last) {
    const std::string name = repo();
    push_tags(name, {"d", "a", "c", "b", "e"});
    HttpResponse r;
    json j = list(name, query, &r);
    EXPECT_EQ(j["tags"], json(page)) << r.body;
    if (next_last.empty()) {
      EXPECT_FALSE(r.has_header("Link")) << r.describe();
    } else {
      EXPECT_TRUE(HeaderIs(
          r, "Link", "</v2/" + name + "/tags/list?n=2&last=" + next_last + ">; rel=\"next\""));
    }
  }

  json list(const std::string& name, const std::string& query = "", HttpResponse* out = nullptr) {
    auto r = c().get("/v2/" + name + "/tags/list" + query);
    EXPECT_EQ(r.status, 200u) << r.describe();
    if (out != nullptr) *out = r;
    json j = parse_json(r.body);
    EXPECT_TRUE(j.is_object()) << r.describe();
    if (!j.is_object()) return json::object();
    EXPECT_EQ(j.value("name", ""), name) << r.body;
    EXPECT_TRUE(j.contains("tags") && j["tags"].is_array()) << r.body;
    return j;
  }
};

TEST_F(TagsTest, ListsTagsSorted) {
  const std::string name = repo();
  push_tags(name, {"zeta", "alpha", "mid", "beta10", "beta2", "1.0"});
  HttpResponse r;
  json j = list(name, "", &r);
  EXPECT_EQ(j["tags"], json::array({"1.0", "alpha", "beta10", "beta2", "mid", "zeta"})) << r.body;
  EXPECT_EQ(r.header_or_empty("Content-Type").rfind("application/json", 0), 0u) << r.describe();
  EXPECT_FALSE(r.has_header("Link")) << r.describe();
  EXPECT_TRUE(HasApiVersionHeader(r));
}

TEST_F(TagsTest, FirstPageHasLinkToNext) {
  expect_page_of_five("?n=2", {"a", "b"}, "b");
}

TEST_F(TagsTest, NextPageStartsAfterLast) {
  expect_page_of_five("?n=2&last=b", {"c", "d"}, "d");
}

TEST_F(TagsTest, LastPageHasNoLink) {
  expect_page_of_five("?n=2&last=d", {"e"}, "");
}

TEST_F(TagsTest, FollowingLinksVisitsEveryTagOnce) {
  const std::string name = repo();
  std::vector<std::string> tags;
  for (int i = 0; i < 11; ++i) tags.push_back("t" + std::to_string(100 + i));
  push_tags(name, tags);
  std::vector<std::string> seen;
  std::string target = "/v2/" + name + "/tags/list?n=3";
  for (int pages = 0; pages < 10 && !target.empty(); ++pages) {
    auto r = c().get(target);
    ASSERT_EQ(r.status, 200u) << r.describe();
    json j = parse_json(r.body);
    for (const auto& t : j["tags"]) seen.push_back(t.get<std::string>());
    target.clear();
    if (auto link = r.header("Link")) {
      auto lt = link->find('<');
      auto gt = link->find('>');
      ASSERT_TRUE(lt != std::string::npos && gt != std::string::npos && lt < gt) << *link;
      target = relative_target(link->substr(lt + 1, gt - lt - 1));
    }
  }
  EXPECT_EQ(seen, tags);
}

TEST_F(TagsTest, NumberLargerThanCountReturnsAllWithoutLink) {
  const std::string name = repo();
  push_tags(name, {"b", "a"});
  HttpResponse r;
  json j = list(name, "?n=100", &r);
  EXPECT_EQ(j["tags"], json::array({"a", "b"}));
  EXPECT_FALSE(r.has_header("Link")) << r.describe();
}

TEST_F(TagsTest, ExactlyNTagsHasNoFurtherPageContent) {
  const std::string name = repo();
  push_tags(name, {"b", "a"});
  HttpResponse r;
  json j = list(name, "?n=2", &r);
  EXPECT_EQ(j["tags"], json::array({"a", "b"}));
  if (auto link = r.header("Link")) {
    // A Link is tolerated here, but the page it points to must be empty.
    auto lt = link->find('<');
    auto gt = link->find('>');
    ASSERT_TRUE(lt != std::string::npos && gt != std::string::npos) << *link;
    auto next = c().get(relative_target(link->substr(lt + 1, gt - lt - 1)));
    ASSERT_EQ(next.status, 200u) << next.describe();
    EXPECT_TRUE(parse_json(next.body)["tags"].empty()) << next.body;
  }
}

TEST_F(TagsTest, ZeroNumberReturnsEmptyList) {
  const std::string name = repo();
  push_tags(name, {"a", "b"});
  json j = list(name, "?n=0");
  EXPECT_TRUE(j["tags"].is_array() && j["tags"].empty()) << j.dump();
}

TEST_F(TagsTest, LastWithoutNumber) {
  const std::string name = repo();
  push_tags(name, {"a", "b", "c"});
  json j = list(name, "?last=a");
  EXPECT_EQ(j["tags"], json::array({"b", "c"}));
}

TEST_F(TagsTest, LastBetweenTags) {
  const std::string name = repo();
  push_tags(name, {"a", "c", "e"});
  json j = list(name, "?n=1&last=b");
  EXPECT_EQ(j["tags"], json::array({"c"}));
}

TEST_F(TagsTest, ConformanceStylePaging) {
  // 03_discovery: n = numTags/2, then last = the last tag of that page.
  const std::string name = repo();
  push_tags(name, {"test0", "test1", "test2", "test3"});
  json first = list(name, "?n=2");
  ASSERT_EQ(first["tags"].size(), 2u);
  const std::string last = first["tags"][1];
  json second = list(name, "?n=2&last=" + last);
  EXPECT_LE(second["tags"].size(), 2u);
  EXPECT_EQ(std::count(second["tags"].begin(), second["tags"].end(), json(last)), 0);
  EXPECT_EQ(second["tags"], json::array({"test2", "test3"}));
}

TEST_F(TagsTest, LastAfterEveryTagGivesEmptyPage) {
  const std::string name = repo();
  push_tags(name, {"a", "b"});
  HttpResponse r;
  json j = list(name, "?n=5&last=zzz", &r);
  EXPECT_TRUE(j["tags"].is_array() && j["tags"].empty()) << r.body;
  EXPECT_FALSE(r.has_header("Link")) << r.describe();
}

TEST_F(TagsTest, InvalidNumberIsRejected) {
  const std::string name = repo();
  push_tags(name, {"a"});
  for (const std::string q : {"?n=abc", "?n=-1"}) {
    auto r = c().get("/v2/" + name + "/tags/list" + q);
    EXPECT_EQ(r.status, 400u) << q << "\n" << r.describe();
    EXPECT_TRUE(parse_json(r.body).is_object()) << r.describe();
  }
}

TEST_F(TagsTest, UnknownRepositoryIsNameUnknown) {
  EXPECT_TRUE(IsOciError(c().get("/v2/" + repo("never") + "/tags/list"), 404, "NAME_UNKNOWN"));
}

// A repository that holds only blobs or an upload has never had a manifest: registry:2 answers
// 404 NAME_UNKNOWN for its tags.
TEST_F(TagsTest, RepositoryWithoutManifestsIsNameUnknown) {
  const std::string blobs_only = repo("blobs");
  push_blob(c(), blobs_only, "only a blob");
  EXPECT_TRUE(IsOciError(c().get("/v2/" + blobs_only + "/tags/list"), 404, "NAME_UNKNOWN"));
  const std::string upload_only = repo("upload");
  ASSERT_EQ(c().post("/v2/" + upload_only + "/blobs/uploads/").status, 202u);
  EXPECT_TRUE(IsOciError(c().get("/v2/" + upload_only + "/tags/list"), 404, "NAME_UNKNOWN"));
}

TEST_F(TagsTest, DigestOnlyManifestsAreNotTags) {
  const std::string name = repo();
  push_tags(name, {"tagged"});
  push_image(c(), name, "", 201);  // by digest only
  json j = list(name);
  EXPECT_EQ(j["tags"], json::array({"tagged"}));
}

TEST_F(TagsTest, TagListReflectsDeletion) {
  const std::string name = repo();
  push_tags(name, {"tagtest0", "keep"});
  ASSERT_EQ(c().del(manifest_path(name, "tagtest0")).status, 202u);
  json j = list(name);
  EXPECT_EQ(j["tags"], json::array({"keep"}));
}

// Catalog tests run against a fresh server each, since the catalog lists the whole registry.
class CatalogTest : public FreshServerTest {
 protected:
  json catalog(const std::string& query = "", HttpResponse* out = nullptr) {
    auto r = c().get("/v2/_catalog" + query);
    EXPECT_EQ(r.status, 200u) << r.describe();
    if (out != nullptr) *out = r;
    json j = parse_json(r.body);
    EXPECT_TRUE(j.is_object() && j.contains("repositories") && j["repositories"].is_array())
        << r.describe();
    return j.is_object() ? j : json::object();
  }
  void create(const std::vector<std::string>& names) {
    uint32_t seed = 300;
    for (const auto& n : names) push_image(c(), n, "latest", ++seed);
  }
};

TEST_F(CatalogTest, EmptyRegistry) {
  HttpResponse r;
  json j = catalog("", &r);
  EXPECT_EQ(j["repositories"], json::array()) << r.body;
  EXPECT_TRUE(HasApiVersionHeader(r));
}

TEST_F(CatalogTest, ListsRepositoriesSorted) {
  create({"zoo", "alpha/beta", "alpha", "mid/x/y"});
  HttpResponse r;
  json j = catalog("", &r);
  EXPECT_EQ(j["repositories"], json::array({"alpha", "alpha/beta", "mid/x/y", "zoo"})) << r.body;
  EXPECT_FALSE(r.has_header("Link")) << r.describe();
  EXPECT_EQ(r.header_or_empty("Content-Type").rfind("application/json", 0), 0u);
}

TEST_F(CatalogTest, PaginationWithLinkHeader) {
  create({"r4", "r1", "r3", "r2", "r5"});
  HttpResponse r;
  json j = catalog("?n=2", &r);
  EXPECT_EQ(j["repositories"], json::array({"r1", "r2"}));
  EXPECT_TRUE(HeaderIs(r, "Link", "</v2/_catalog?n=2&last=r2>; rel=\"next\""));
  j = catalog("?n=2&last=r2", &r);
  EXPECT_EQ(j["repositories"], json::array({"r3", "r4"}));
  EXPECT_TRUE(HeaderIs(r, "Link", "</v2/_catalog?n=2&last=r4>; rel=\"next\""));
  j = catalog("?n=2&last=r4", &r);
  EXPECT_EQ(j["repositories"], json::array({"r5"}));
  EXPECT_FALSE(r.has_header("Link")) << r.describe();
}

TEST_F(CatalogTest, LastFiltersRepositories) {
  create({"a", "b", "c"});
  json j = catalog("?last=a");
  EXPECT_EQ(j["repositories"], json::array({"b", "c"}));
}

TEST_F(CatalogTest, NestedRepositoriesAreListedByFullName) {
  create({"org/team/app", "org/app"});
  json j = catalog();
  EXPECT_EQ(j["repositories"], json::array({"org/app", "org/team/app"}));
}

}  // namespace
}  // namespace onsen::e2e
