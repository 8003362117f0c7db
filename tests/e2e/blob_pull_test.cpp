// Pulling, ranging and deleting blobs.
#include "server_fixture.h"
#include "support/registry_helpers.h"

#include <cctype>

namespace onsen::e2e {
namespace {

class BlobPullTest : public RegistryTest {};

TEST_F(BlobPullTest, GetBlobReturnsBytesAndHeaders) {
  const std::string name = repo();
  const std::string data = random_bytes(1000, 11);
  const std::string digest = push_blob(c(), name, data);
  auto r = c().get(blob_path(name, digest));
  ASSERT_EQ(r.status, 200u) << r.describe();
  EXPECT_EQ(r.body, data);
  EXPECT_TRUE(HeaderIs(r, "Content-Length", "1000"));
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
  EXPECT_TRUE(HeaderIs(r, "Content-Type", "application/octet-stream"));
  EXPECT_TRUE(HeaderIs(r, "Accept-Ranges", "bytes"));
  EXPECT_TRUE(HasApiVersionHeader(r));
}

TEST_F(BlobPullTest, HeadBlobHasLengthAndDigestButNoBody) {
  const std::string name = repo();
  const std::string data = random_bytes(777, 12);
  const std::string digest = push_blob(c(), name, data);
  auto r = c().head(blob_path(name, digest));
  ASSERT_EQ(r.status, 200u) << r.describe();
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(HeaderIs(r, "Content-Length", "777"));
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
  EXPECT_TRUE(HeaderIs(r, "Content-Type", "application/octet-stream"));
  // The connection is still usable after a HEAD (no stray body bytes).
  auto again = c().get(blob_path(name, digest));
  ASSERT_EQ(again.status, 200u) << again.describe();
  EXPECT_EQ(again.body, data);
}

TEST_F(BlobPullTest, GetUnknownBlobIs404BlobUnknown) {
  const std::string name = repo();
  push_blob(c(), name, "something else");
  auto r = c().get(blob_path(name, sha256_digest("hello world")));
  EXPECT_TRUE(IsOciError(r, 404, "BLOB_UNKNOWN"));
}

TEST_F(BlobPullTest, HeadUnknownBlobIs404WithoutBody) {
  const std::string name = repo();
  push_blob(c(), name, "something");
  auto r = c().head(blob_path(name, sha256_digest("hello world")));
  EXPECT_EQ(r.status, 404u) << r.describe();
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(HasApiVersionHeader(r));
}

TEST_F(BlobPullTest, GetBlobInUnknownRepositoryIs404) {
  auto r = c().get(blob_path(repo("never-pushed"), sha256_digest("x")));
  ASSERT_EQ(r.status, 404u) << r.describe();
  const auto code = error_code(r);
  EXPECT_TRUE(code == "BLOB_UNKNOWN" || code == "NAME_UNKNOWN") << r.describe();
}

TEST_F(BlobPullTest, BlobIsScopedToItsRepository) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string data = "only in repository a";
  const std::string digest = push_blob(c(), a, data);
  push_blob(c(), b, "b has something else");
  EXPECT_EQ(c().get(blob_path(a, digest)).status, 200u);
  EXPECT_TRUE(IsOciError(c().get(blob_path(b, digest)), 404, "BLOB_UNKNOWN"));
  EXPECT_EQ(c().head(blob_path(b, digest)).status, 404u);
}

TEST_F(BlobPullTest, RangeFirstBytes) {
  const std::string name = repo();
  const std::string data = random_bytes(100, 13);
  const std::string digest = push_blob(c(), name, data);
  auto r = c().get(blob_path(name, digest), {{"Range", "bytes=0-9"}});
  ASSERT_EQ(r.status, 206u) << r.describe();
  EXPECT_EQ(r.body, data.substr(0, 10));
  EXPECT_TRUE(HeaderIs(r, "Content-Range", "bytes 0-9/100"));
  EXPECT_TRUE(HeaderIs(r, "Content-Length", "10"));
}

TEST_F(BlobPullTest, RangeOpenEnded) {
  const std::string name = repo();
  const std::string data = random_bytes(100, 14);
  const std::string digest = push_blob(c(), name, data);
  auto r = c().get(blob_path(name, digest), {{"Range", "bytes=10-"}});
  ASSERT_EQ(r.status, 206u) << r.describe();
  EXPECT_EQ(r.body, data.substr(10));
  EXPECT_TRUE(HeaderIs(r, "Content-Range", "bytes 10-99/100"));
}

TEST_F(BlobPullTest, RangeSuffix) {
  const std::string name = repo();
  const std::string data = random_bytes(100, 15);
  const std::string digest = push_blob(c(), name, data);
  auto r = c().get(blob_path(name, digest), {{"Range", "bytes=-5"}});
  ASSERT_EQ(r.status, 206u) << r.describe();
  EXPECT_EQ(r.body, data.substr(95));
  EXPECT_TRUE(HeaderIs(r, "Content-Range", "bytes 95-99/100"));
}

TEST_F(BlobPullTest, RangeEndPastSizeIsClamped) {
  const std::string name = repo();
  const std::string data = random_bytes(100, 16);
  const std::string digest = push_blob(c(), name, data);
  auto r = c().get(blob_path(name, digest), {{"Range", "bytes=90-1000"}});
  ASSERT_EQ(r.status, 206u) << r.describe();
  EXPECT_EQ(r.body, data.substr(90));
  EXPECT_TRUE(HeaderIs(r, "Content-Range", "bytes 90-99/100"));
}

TEST_F(BlobPullTest, UnsatisfiableRangeIs416) {
  const std::string name = repo();
  const std::string data = random_bytes(100, 17);
  const std::string digest = push_blob(c(), name, data);
  auto r = c().get(blob_path(name, digest), {{"Range", "bytes=100-200"}});
  ASSERT_EQ(r.status, 416u) << r.describe();
  EXPECT_TRUE(HeaderIs(r, "Content-Range", "bytes */100"));
  // The connection survives and the blob is intact.
  auto full = c().get(blob_path(name, digest));
  ASSERT_EQ(full.status, 200u) << full.describe();
  EXPECT_EQ(full.body, data);
}

TEST_F(BlobPullTest, DeleteBlobThenGetAndHeadAre404) {
  const std::string name = repo();
  const std::string digest = push_blob(c(), name, "delete me");
  auto d = c().del(blob_path(name, digest));
  EXPECT_EQ(d.status, 202u) << d.describe();
  EXPECT_TRUE(HasApiVersionHeader(d));
  EXPECT_TRUE(IsOciError(c().get(blob_path(name, digest)), 404, "BLOB_UNKNOWN"));
  EXPECT_EQ(c().head(blob_path(name, digest)).status, 404u);
}

TEST_F(BlobPullTest, DeleteUnknownBlobIs404) {
  const std::string name = repo();
  push_blob(c(), name, "keep the repository alive");
  EXPECT_TRUE(
      IsOciError(c().del(blob_path(name, sha256_digest("never there"))), 404, "BLOB_UNKNOWN"));
}

TEST_F(BlobPullTest, DeleteBlobInOneRepositoryKeepsItInAnother) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string data = "shared between a and b";
  const std::string digest = push_blob(c(), a, data);
  push_blob(c(), b, data);
  ASSERT_EQ(c().del(blob_path(a, digest)).status, 202u);
  EXPECT_EQ(c().get(blob_path(a, digest)).status, 404u);
  auto r = c().get(blob_path(b, digest));
  ASSERT_EQ(r.status, 200u) << r.describe();
  EXPECT_EQ(r.body, data);
}

TEST_F(BlobPullTest, DeletedBlobCanBePushedAgain) {
  const std::string name = repo();
  const std::string data = "phoenix";
  const std::string digest = push_blob(c(), name, data);
  ASSERT_EQ(c().del(blob_path(name, digest)).status, 202u);
  push_blob(c(), name, data);
  auto r = c().get(blob_path(name, digest));
  ASSERT_EQ(r.status, 200u) << r.describe();
  EXPECT_EQ(r.body, data);
}

// An invalid digest in the path is a client error with a JSON body (400 DIGEST_INVALID, or a
// 404), never a server error.
void ExpectInvalidDigestRejected(HttpClient& c, const std::string& name, const std::string& bad) {
  for (const char* method : {"GET", "HEAD", "DELETE"}) {
    auto r = c.send(make_request(method, blob_path(name, bad)));
    EXPECT_TRUE(r.status == 400 || r.status == 404) << method << " " << bad << "\n" << r.describe();
    if (std::string(method) != "HEAD") {
      EXPECT_TRUE(IsOciClientError(r)) << method << " " << bad;
      if (r.status == 400) {
        EXPECT_EQ(error_code(r), "DIGEST_INVALID") << r.describe();
      }
    }
  }
}

TEST_F(BlobPullTest, MalformedSha256DigestIsRejected) {
  const std::string name = repo();
  push_blob(c(), name, "x");
  ExpectInvalidDigestRejected(c(), name, "sha256:totallywrong");
}

TEST_F(BlobPullTest, UnsupportedAlgorithmDigestIsRejected) {
  const std::string name = repo();
  push_blob(c(), name, "x");
  ExpectInvalidDigestRejected(c(), name, "md5:5d41402abc4b2a76b9719d911017c592");
}

TEST_F(BlobPullTest, UppercaseHexDigestIsRejected) {
  const std::string name = repo();
  const std::string digest = push_blob(c(), name, "x");
  std::string upper = digest;
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  ExpectInvalidDigestRejected(c(), name, upper);
}

TEST_F(BlobPullTest, TruncatedDigestIsRejected) {
  const std::string name = repo();
  const std::string digest = push_blob(c(), name, "x");
  ExpectInvalidDigestRejected(c(), name, digest.substr(0, digest.size() - 1));
}

TEST_F(BlobPullTest, EmptyBlobCanBePulled) {
  const std::string name = repo();
  const std::string digest = push_blob(c(), name, "");
  EXPECT_EQ(digest, kEmptyDigest);
  auto r = c().get(blob_path(name, digest));
  ASSERT_EQ(r.status, 200u) << r.describe();
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(HeaderIs(r, "Content-Length", "0"));
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
  auto h = c().head(blob_path(name, digest));
  EXPECT_EQ(h.status, 200u) << h.describe();
  EXPECT_TRUE(HeaderIs(h, "Content-Length", "0"));
}

}  // namespace
}  // namespace onsen::e2e
