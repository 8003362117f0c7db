// Blob uploads: sessions, monolithic, chunked and streamed uploads, digests, cross-mounts.
#include "server_fixture.h"
#include "support/registry_helpers.h"

#include <tuple>

namespace onsen::e2e {
namespace {

class BlobUploadTest : public RegistryTest {
 protected:
  // POST a new upload; ASSERT-style helper returns the upload target ("" on failure).
  std::string begin(const std::string& name) {
    auto r = start_upload(c(), name);
    EXPECT_EQ(r.status, 202u) << r.describe();
    if (!r.has_header("Location")) {
      ADD_FAILURE() << "no Location:\n" << r.describe();
      return "";
    }
    return relative_target(*r.header("Location"));
  }

  HttpResponse patch_chunk(const std::string& target, const std::string& chunk, size_t start) {
    return c().patch(target, chunk,
                     {{"Content-Type", "application/octet-stream"},
                      {"Content-Range",
                       std::to_string(start) + "-" + std::to_string(start + chunk.size() - 1)}});
  }

  HttpResponse finish(const std::string& target, const std::string& digest,
                      const std::string& body = "") {
    return c().put(add_query(target, "digest", digest), body,
                   {{"Content-Type", "application/octet-stream"}});
  }

  void expect_blob(const std::string& name, const std::string& digest, const std::string& data) {
    auto r = c().get(blob_path(name, digest));
    ASSERT_EQ(r.status, 200u) << r.describe();
    EXPECT_TRUE(r.body == data) << "blob content differs (" << r.body.size() << " vs "
                                << data.size() << " bytes)";
    EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
  }

  // A blob to upload to a fresh repository: (repository, size pseudo-random bytes, digest).
  std::tuple<std::string, std::string, std::string> new_blob(size_t size, uint32_t seed) {
    std::string data = random_bytes(size, seed);
    std::string digest = sha256_digest(data);
    return {repo(), std::move(data), std::move(digest)};
  }

  // r is the 201 of a finished upload: it names the blob, which serves data.
  void expect_created(const HttpResponse& r, const std::string& name, const std::string& digest,
                      const std::string& data) {
    ASSERT_EQ(r.status, 201u) << r.describe();
    EXPECT_EQ(path_of(r.header_or_empty("Location")), blob_path(name, digest));
    EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
    expect_blob(name, digest, data);
  }

  // Upload id: the last path segment of an upload target.
  static std::string upload_id(const std::string& target) {
    std::string p = path_of(target);
    return p.substr(p.rfind('/') + 1);
  }
};

TEST_F(BlobUploadTest, PostStartsUploadSession) {
  const std::string name = repo();
  auto r = start_upload(c(), name);
  ASSERT_EQ(r.status, 202u) << r.describe();
  ASSERT_TRUE(r.has_header("Location")) << r.describe();
  const std::string path = path_of(*r.header("Location"));
  const std::string prefix = "/v2/" + name + "/blobs/uploads/";
  ASSERT_EQ(path.rfind(prefix, 0), 0u) << path;
  EXPECT_GT(path.size(), prefix.size()) << path;
  ASSERT_TRUE(r.has_header("Docker-Upload-UUID")) << r.describe();
  EXPECT_EQ(path.substr(prefix.size()), *r.header("Docker-Upload-UUID"));
  EXPECT_TRUE(HeaderIs(r, "Range", "0-0"));
  EXPECT_TRUE(HeaderIs(r, "Content-Length", "0"));
  EXPECT_TRUE(HasApiVersionHeader(r));
}

TEST_F(BlobUploadTest, EachPostGetsADistinctSession) {
  const std::string name = repo();
  auto a = start_upload(c(), name);
  auto b = start_upload(c(), name);
  ASSERT_EQ(a.status, 202u);
  ASSERT_EQ(b.status, 202u);
  EXPECT_NE(a.header_or_empty("Docker-Upload-UUID"), b.header_or_empty("Docker-Upload-UUID"));
  EXPECT_NE(path_of(a.header_or_empty("Location")), path_of(b.header_or_empty("Location")));
}

TEST_F(BlobUploadTest, PostOnInvalidRepositoryNameIs400NameInvalid) {
  EXPECT_TRUE(IsOciError(c().post("/v2/Bad-Name/blobs/uploads/"), 400, "NAME_INVALID"));
}

TEST_F(BlobUploadTest, MonolithicPostWithDigest) {
  const auto [name, data, digest] = new_blob(300, 21);
  auto r = c().post(add_query(uploads_path(name), "digest", digest), data,
                    {{"Content-Type", "application/octet-stream"}});
  expect_created(r, name, digest, data);
}

TEST_F(BlobUploadTest, MonolithicPostWithWrongDigestIs400) {
  const std::string name = repo();
  const std::string data = "monolithic but wrong";
  const std::string claimed = sha256_digest("something else");
  auto r = c().post(add_query(uploads_path(name), "digest", claimed), data,
                    {{"Content-Type", "application/octet-stream"}});
  EXPECT_TRUE(IsOciError(r, 400, "DIGEST_INVALID"));
  EXPECT_EQ(c().get(blob_path(name, claimed)).status, 404u);
  EXPECT_EQ(c().get(blob_path(name, sha256_digest(data))).status, 404u);
}

TEST_F(BlobUploadTest, MonolithicPutAfterPost) {
  const auto [name, data, digest] = new_blob(4096, 22);
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = finish(target, digest, data);
  expect_created(r, name, digest, data);
}

TEST_F(BlobUploadTest, DigestQueryParameterMayBePercentEncoded) {
  // Go clients (the conformance suite) send digest=sha256%3A...
  const auto [name, data, digest] = new_blob(64, 23);
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = c().put(add_query(target, "digest", url_encode(digest)), data,
                   {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
  expect_blob(name, digest, data);
}

TEST_F(BlobUploadTest, ChunkedUploadWithContentRange) {
  const auto [name, data, digest] = new_blob(25, 24);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  const std::string uuid = upload_id(target);

  auto p1 = patch_chunk(target, data.substr(0, 10), 0);
  ASSERT_EQ(p1.status, 202u) << p1.describe();
  EXPECT_TRUE(HeaderIs(p1, "Range", "0-9"));
  EXPECT_TRUE(HeaderIs(p1, "Docker-Upload-UUID", uuid));
  EXPECT_TRUE(HeaderIs(p1, "Content-Length", "0"));
  ASSERT_TRUE(p1.has_header("Location"));
  target = relative_target(*p1.header("Location"));

  auto p2 = patch_chunk(target, data.substr(10), 10);
  ASSERT_EQ(p2.status, 202u) << p2.describe();
  EXPECT_TRUE(HeaderIs(p2, "Range", "0-24"));
  ASSERT_TRUE(p2.has_header("Location"));
  target = relative_target(*p2.header("Location"));

  auto r = finish(target, digest);
  expect_created(r, name, digest, data);
}

TEST_F(BlobUploadTest, ChunkedUploadWithFinalChunkInPut) {
  const auto [name, data, digest] = new_blob(42, 25);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto p1 = patch_chunk(target, data.substr(0, 22), 0);
  ASSERT_EQ(p1.status, 202u) << p1.describe();
  EXPECT_TRUE(HeaderIs(p1, "Range", "0-21"));
  target = relative_target(p1.header_or_empty("Location"));
  auto r = c().put(add_query(target, "digest", digest), data.substr(22),
                   {{"Content-Type", "application/octet-stream"}, {"Content-Range", "22-41"}});
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
  expect_blob(name, digest, data);
}

TEST_F(BlobUploadTest, StreamedPatchWithoutContentRange) {
  const auto [name, data, digest] = new_blob(42, 26);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto p = c().patch(target, data, {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(p.status, 202u) << p.describe();
  EXPECT_TRUE(HeaderIs(p, "Range", "0-41"));
  ASSERT_TRUE(p.has_header("Location"));
  target = relative_target(*p.header("Location"));
  auto r = finish(target, digest);
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_blob(name, digest, data);
}

TEST_F(BlobUploadTest, StreamedPatchesAppend) {
  const auto [name, data, digest] = new_blob(3000, 27);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  for (size_t off = 0; off < data.size(); off += 1000) {
    auto p =
        c().patch(target, data.substr(off, 1000), {{"Content-Type", "application/octet-stream"}});
    ASSERT_EQ(p.status, 202u) << p.describe();
    EXPECT_TRUE(HeaderIs(p, "Range", "0-" + std::to_string(off + 999)));
    target = relative_target(p.header_or_empty("Location"));
  }
  auto r = finish(target, digest);
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_blob(name, digest, data);
}

TEST_F(BlobUploadTest, StreamedPatchWithChunkedTransferEncoding) {
  const auto [name, data, digest] = new_blob(10000, 28);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto p = c().send(chunked_request("PATCH", target, {{"Content-Type", "application/octet-stream"}},
                                    {data.substr(0, 1), data.substr(1, 4095), data.substr(4096)}));
  ASSERT_EQ(p.status, 202u) << p.describe();
  EXPECT_TRUE(HeaderIs(p, "Range", "0-9999"));
  target = relative_target(p.header_or_empty("Location"));
  auto r = finish(target, digest);
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_blob(name, digest, data);
}

TEST_F(BlobUploadTest, MonolithicPutWithChunkedTransferEncoding) {
  const auto [name, data, digest] = new_blob(5000, 29);
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = c().send(chunked_request("PUT", add_query(target, "digest", digest),
                                    {{"Content-Type", "application/octet-stream"}},
                                    {data.substr(0, 2500), data.substr(2500)}));
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_blob(name, digest, data);
}

// A Content-Range on a chunked body (no Content-Length): the body's length is known only at its
// end, and a body shorter or longer than the range must leave the upload as it was.
TEST_F(BlobUploadTest, ChunkedBodyDisagreeingWithContentRangeIs416AndCommitsNothing) {
  const std::string name = repo();
  const std::string data = random_bytes(30, 41);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  ASSERT_EQ(patch_chunk(target, data.substr(0, 10), 0).status, 202u);
  const HeaderList headers = {{"Content-Type", "application/octet-stream"},
                              {"Content-Range", "10-29"}};
  // Shorter (15 bytes for 20), then longer (25), each in several transfer chunks.
  for (const std::string& body : {data.substr(10, 15), data.substr(10) + "extra"}) {
    auto bad = c().send(chunked_request("PATCH", target, headers,
                                        {body.substr(0, 4), body.substr(4, 7), body.substr(11)}));
    EXPECT_TRUE(IsOciError(bad, 416, "BLOB_UPLOAD_INVALID"));
    EXPECT_TRUE(HeaderIs(bad, "Range", "0-9")) << bad.describe();
    c().disconnect();  // the refused body may be left unread
    auto status = c().get(target);
    ASSERT_EQ(status.status, 204u) << status.describe();
    EXPECT_TRUE(HeaderIs(status, "Range", "0-9")) << status.describe();
  }
  // The right length passes, and the blob holds exactly the chunks that were accepted.
  auto good =
      c().send(chunked_request("PATCH", target, headers, {data.substr(10, 3), data.substr(13)}));
  ASSERT_EQ(good.status, 202u) << good.describe();
  EXPECT_TRUE(HeaderIs(good, "Range", "0-29"));
  target = relative_target(good.header_or_empty("Location"));
  auto r = finish(target, sha256_digest(data));
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_blob(name, sha256_digest(data), data);
}

TEST_F(BlobUploadTest, FinalChunkedPutDisagreeingWithContentRangeIs416) {
  const std::string name = repo();
  const std::string data = random_bytes(20, 42);
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  ASSERT_EQ(patch_chunk(target, data.substr(0, 10), 0).status, 202u);
  auto bad = c().send(chunked_request("PUT", add_query(target, "digest", sha256_digest(data)),
                                      {{"Content-Range", "10-29"}}, {data.substr(10)}));
  EXPECT_EQ(bad.status, 416u) << bad.describe();
  EXPECT_TRUE(HeaderIs(bad, "Range", "0-9")) << bad.describe();
  EXPECT_EQ(c().get(blob_path(name, sha256_digest(data))).status, 404u);
  auto good = c().send(chunked_request("PUT", add_query(target, "digest", sha256_digest(data)),
                                       {{"Content-Range", "10-19"}}, {data.substr(10)}));
  ASSERT_EQ(good.status, 201u) << good.describe();
  expect_blob(name, sha256_digest(data), data);
}

TEST_F(BlobUploadTest, OutOfOrderChunkIs416AndSessionSurvives) {
  const auto [name, data, digest] = new_blob(42, 30);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  // Second chunk first: 416.
  auto bad = patch_chunk(target, data.substr(22), 22);
  EXPECT_EQ(bad.status, 416u) << bad.describe();
  // Status still at the beginning.
  auto st = c().get(target);
  ASSERT_EQ(st.status, 204u) << st.describe();
  EXPECT_TRUE(HeaderIs(st, "Range", "0-0"));
  // Then the right order works.
  auto p1 = patch_chunk(target, data.substr(0, 22), 0);
  ASSERT_EQ(p1.status, 202u) << p1.describe();
  target = relative_target(p1.header_or_empty("Location"));
  auto p2 = patch_chunk(target, data.substr(22), 22);
  ASSERT_EQ(p2.status, 202u) << p2.describe();
  EXPECT_TRUE(HeaderIs(p2, "Range", "0-41"));
  target = relative_target(p2.header_or_empty("Location"));
  ASSERT_EQ(finish(target, digest).status, 201u);
  expect_blob(name, digest, data);
}

TEST_F(BlobUploadTest, RetriedChunkIs416AndStatusKeepsRange) {
  // The conformance suite's "Retry previous blob chunk should return 416" and "Get on stale blob
  // upload should return 204 with a range and location".
  const auto [name, data, digest] = new_blob(42, 31);
  const std::string first = begin(name);
  ASSERT_FALSE(first.empty());
  auto p1 = patch_chunk(first, data.substr(0, 22), 0);
  ASSERT_EQ(p1.status, 202u) << p1.describe();
  EXPECT_TRUE(HeaderIs(p1, "Range", "0-21"));

  auto retry = patch_chunk(first, data.substr(0, 22), 0);
  EXPECT_EQ(retry.status, 416u) << retry.describe();

  auto st = c().get(first);
  ASSERT_EQ(st.status, 204u) << st.describe();
  EXPECT_TRUE(HeaderIs(st, "Range", "0-21"));
  ASSERT_TRUE(st.has_header("Location"));
  std::string target = relative_target(*st.header("Location"));

  auto p2 = patch_chunk(target, data.substr(22), 22);
  ASSERT_EQ(p2.status, 202u) << p2.describe();
  EXPECT_TRUE(HeaderIs(p2, "Range", "0-41"));
  target = relative_target(p2.header_or_empty("Location"));
  auto r = c().put(add_query(target, "digest", digest), "",
                   {{"Content-Type", "application/octet-stream"}, {"Content-Length", "0"}});
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_blob(name, digest, data);
}

TEST_F(BlobUploadTest, OverlappingChunkIs416) {
  const std::string name = repo();
  const std::string data = random_bytes(30, 32);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto p1 = patch_chunk(target, data.substr(0, 20), 0);
  ASSERT_EQ(p1.status, 202u) << p1.describe();
  target = relative_target(p1.header_or_empty("Location"));
  auto overlap = patch_chunk(target, data.substr(15), 15);
  EXPECT_EQ(overlap.status, 416u) << overlap.describe();
  auto st = c().get(target);
  ASSERT_EQ(st.status, 204u) << st.describe();
  EXPECT_TRUE(HeaderIs(st, "Range", "0-19"));
}

TEST_F(BlobUploadTest, MalformedContentRangeIsRejected) {
  const std::string name = repo();
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = c().patch(target, "abc",
                     {{"Content-Type", "application/octet-stream"}, {"Content-Range", "garbage"}});
  EXPECT_TRUE(r.status == 416 || r.status == 400) << r.describe();
}

TEST_F(BlobUploadTest, UploadStatusReports204WithRangeAndLocation) {
  const std::string name = repo();
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto fresh = c().get(target);
  ASSERT_EQ(fresh.status, 204u) << fresh.describe();
  EXPECT_TRUE(HeaderIs(fresh, "Range", "0-0"));
  EXPECT_TRUE(fresh.body.empty());
  auto p = patch_chunk(target, random_bytes(50, 33), 0);
  ASSERT_EQ(p.status, 202u);
  auto st = c().get(target);
  ASSERT_EQ(st.status, 204u) << st.describe();
  EXPECT_TRUE(HeaderIs(st, "Range", "0-49"));
  EXPECT_TRUE(HeaderIs(st, "Docker-Upload-UUID", upload_id(target)));
  // A 204 carries no body (and RFC 9110 forbids a Content-Length on it).
  EXPECT_TRUE(st.body.empty());
  if (auto cl = st.header("Content-Length")) {
    EXPECT_EQ(*cl, "0");
  }
  ASSERT_TRUE(st.has_header("Location"));
  EXPECT_EQ(path_of(*st.header("Location")), path_of(target));
  EXPECT_TRUE(HasApiVersionHeader(st));
}

TEST_F(BlobUploadTest, PutWithoutDigestIs400DigestInvalid) {
  const std::string name = repo();
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = c().put(target, "no digest", {{"Content-Type", "application/octet-stream"}});
  EXPECT_TRUE(IsOciError(r, 400, "DIGEST_INVALID"));
}

TEST_F(BlobUploadTest, PutWithWrongDigestIs400AndNothingIsStored) {
  const std::string name = repo();
  const std::string data = "the real content";
  const std::string claimed = sha256_digest("claimed content");
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = finish(target, claimed, data);
  EXPECT_TRUE(IsOciError(r, 400, "DIGEST_INVALID"));
  EXPECT_TRUE(IsOciError(c().get(blob_path(name, claimed)), 404, "BLOB_UNKNOWN"));
  EXPECT_TRUE(IsOciError(c().get(blob_path(name, sha256_digest(data))), 404, "BLOB_UNKNOWN"));
}

TEST_F(BlobUploadTest, PutWithMalformedDigestIs400) {
  const std::string name = repo();
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = finish(target, "sha256:nothex", "data");
  EXPECT_TRUE(IsOciError(r, 400, "DIGEST_INVALID"));
}

TEST_F(BlobUploadTest, CompletedUploadSessionIsGone) {
  const std::string name = repo();
  const std::string data = "complete me";
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  ASSERT_EQ(finish(target, sha256_digest(data), data).status, 201u);
  EXPECT_TRUE(IsOciError(c().get(target), 404, "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(patch_chunk(target, "more", 11), 404, "BLOB_UPLOAD_UNKNOWN"));
}

TEST_F(BlobUploadTest, CancelUploadThenStatusIs404) {
  const std::string name = repo();
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  ASSERT_EQ(patch_chunk(target, "partial", 0).status, 202u);
  auto d = c().del(target);
  EXPECT_EQ(d.status, 204u) << d.describe();
  EXPECT_TRUE(IsOciError(c().get(target), 404, "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(c().patch(target, "x", {{"Content-Type", "application/octet-stream"}}),
                         404, "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(finish(target, sha256_digest("partial")), 404, "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(c().del(target), 404, "BLOB_UPLOAD_UNKNOWN"));
}

TEST_F(BlobUploadTest, UnknownUploadIdIs404ForEveryMethod) {
  const std::string name = repo();
  push_blob(c(), name, "repository exists");
  const std::string target = uploads_path(name) + "0b5d6a43-1f0e-4c67-9d1c-7f1bd2f2a9e4";
  EXPECT_TRUE(IsOciError(c().get(target), 404, "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(c().patch(target, "x", {{"Content-Type", "application/octet-stream"}}),
                         404, "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(finish(target, sha256_digest("x"), "x"), 404, "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(c().del(target), 404, "BLOB_UPLOAD_UNKNOWN"));
}

TEST_F(BlobUploadTest, GarbageUploadIdIs404) {
  const std::string name = repo();
  push_blob(c(), name, "repository exists");
  for (const std::string id :
       {"not-a-uuid", "ZZZZ", "0b5d6a43-1f0e-4c67-9d1c-7f1bd2f2a9e4x", "0B5D6A43"}) {
    auto r = c().get(uploads_path(name) + id);
    EXPECT_TRUE(IsOciError(r, 404, "BLOB_UPLOAD_UNKNOWN")) << id;
    auto p =
        c().patch(uploads_path(name) + id, "x", {{"Content-Type", "application/octet-stream"}});
    EXPECT_TRUE(IsOciError(p, 404, "BLOB_UPLOAD_UNKNOWN")) << id;
  }
  // Ids that look like path tricks are client errors too, never a server error.
  for (const std::string id : {"%2e%2e", "%2e%2e%2f%2e%2e%2fx", "a%00b"}) {
    auto r = c().get(uploads_path(name) + id);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << id << "\n" << r.describe();
    EXPECT_TRUE(parse_json(r.body).is_object()) << id << "\n" << r.describe();
  }
}

TEST_F(BlobUploadTest, UploadIdIsScopedToItsRepository) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  push_blob(c(), b, "b exists");
  const std::string target = begin(a);
  ASSERT_FALSE(target.empty());
  const std::string other = uploads_path(b) + upload_id(target);
  EXPECT_TRUE(IsOciError(c().get(other), 404, "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(c().patch(other, "x", {{"Content-Type", "application/octet-stream"}}), 404,
                         "BLOB_UPLOAD_UNKNOWN"));
  EXPECT_TRUE(IsOciError(finish(other, sha256_digest("x"), "x"), 404, "BLOB_UPLOAD_UNKNOWN"));
  // The session in a is untouched.
  auto st = c().get(target);
  EXPECT_EQ(st.status, 204u) << st.describe();
}

TEST_F(BlobUploadTest, EmptyBlobPushAndPull) {
  const std::string name = repo();
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = finish(target, kEmptyDigest);
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", kEmptyDigest));
  expect_blob(name, kEmptyDigest, "");
}

TEST_F(BlobUploadTest, EmptyBlobMonolithicPost) {
  const std::string name = repo();
  auto r = c().post(add_query(uploads_path(name), "digest", kEmptyDigest), "",
                    {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_blob(name, kEmptyDigest, "");
}

TEST_F(BlobUploadTest, EmptyJsonBlobPushAndPull) {
  const std::string name = repo();
  EXPECT_EQ(push_blob(c(), name, "{}"), kEmptyJsonDigest);
  expect_blob(name, kEmptyJsonDigest, "{}");
}

TEST_F(BlobUploadTest, Sha512MonolithicUpload) {
  const std::string name = repo();
  const std::string data = random_bytes(2048, 34);
  const std::string digest = sha512_digest(data);
  auto r = c().post(add_query(uploads_path(name), "digest", digest), data,
                    {{"Content-Type", "application/octet-stream"}});
  expect_created(r, name, digest, data);
  auto h = c().head(blob_path(name, digest));
  EXPECT_EQ(h.status, 200u) << h.describe();
  EXPECT_TRUE(HeaderIs(h, "Content-Length", "2048"));
}

TEST_F(BlobUploadTest, Sha512PutAfterPost) {
  const std::string name = repo();
  const std::string data = random_bytes(100, 35);
  const std::string digest = sha512_digest(data);
  const std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  auto r = finish(target, digest, data);
  ASSERT_EQ(r.status, 201u) << r.describe();
  expect_blob(name, digest, data);
}

TEST_F(BlobUploadTest, CrossRepositoryMount) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string data = random_bytes(200, 36);
  const std::string digest = push_blob(c(), a, data);
  ASSERT_EQ(c().get(blob_path(b, digest)).status, 404u);
  auto r = c().post(add_query(add_query(uploads_path(b), "mount", digest), "from", a));
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_EQ(relative_target(r.header_or_empty("Location")), blob_path(b, digest));
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
  expect_blob(b, digest, data);
  // Still in a.
  expect_blob(a, digest, data);
}

TEST_F(BlobUploadTest, CrossRepositoryMountWithPercentEncodedParameters) {
  const std::string a = repo("a/nested");
  const std::string b = repo("b");
  const std::string data = random_bytes(200, 37);
  const std::string digest = push_blob(c(), a, data);
  auto r = c().post(
      add_query(add_query(uploads_path(b), "mount", url_encode(digest)), "from", url_encode(a)));
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_EQ(path_of(r.header_or_empty("Location")), blob_path(b, digest));
  expect_blob(b, digest, data);
}

TEST_F(BlobUploadTest, MountOfUnknownBlobFallsBackToUpload) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  push_blob(c(), a, "a exists");
  const std::string data = "not in a";
  const std::string digest = sha256_digest(data);
  auto r = c().post(add_query(add_query(uploads_path(b), "mount", digest), "from", a));
  ASSERT_EQ(r.status, 202u) << r.describe();
  const std::string target = relative_target(r.header_or_empty("Location"));
  EXPECT_EQ(path_of(target).rfind(uploads_path(b), 0), 0u) << target;
  EXPECT_TRUE(r.has_header("Docker-Upload-UUID"));
  auto put = finish(target, digest, data);
  ASSERT_EQ(put.status, 201u) << put.describe();
  expect_blob(b, digest, data);
}

TEST_F(BlobUploadTest, MountFromRepositoryLackingTheBlobFallsBackToUpload) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string c_repo = repo("c");
  push_blob(c(), a, "a has other things");
  const std::string data = "only in c";
  const std::string digest = push_blob(c(), c_repo, data);
  auto r = c().post(add_query(add_query(uploads_path(b), "mount", digest), "from", a));
  ASSERT_EQ(r.status, 202u) << r.describe();
  EXPECT_EQ(path_of(r.header_or_empty("Location")).rfind(uploads_path(b), 0), 0u) << r.describe();
  // Nothing leaked into b.
  EXPECT_EQ(c().get(blob_path(b, digest)).status, 404u);
}

TEST_F(BlobUploadTest, MountOfBlobDeletedFromSourceFallsBackToUpload) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string digest = push_blob(c(), a, "deleted before the mount");
  ASSERT_EQ(c().del(blob_path(a, digest)).status, 202u);
  auto r = c().post(add_query(add_query(uploads_path(b), "mount", digest), "from", a));
  EXPECT_EQ(r.status, 202u) << r.describe();
  EXPECT_EQ(c().get(blob_path(b, digest)).status, 404u);
}

TEST_F(BlobUploadTest, MountWithoutFromYieldsUploadSession) {
  // Conformance: "Cross-mounting of a blob without the from argument should yield session id".
  const std::string b = repo();
  auto r = c().post(add_query(uploads_path(b), "mount", sha256_digest("hello world")));
  ASSERT_EQ(r.status, 202u) << r.describe();
  EXPECT_FALSE(r.header_or_empty("Location").empty());
}

TEST_F(BlobUploadTest, MountWithoutFromIsAnUploadWhileAutomaticCrossMountIsOff) {
  // Off by default: a 201 would tell anyone that the blob exists in some repository.
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string digest = push_blob(c(), a, "mount without from");
  auto r = c().post(add_query(uploads_path(b), "mount", digest));
  ASSERT_EQ(r.status, 202u) << r.describe();
  EXPECT_EQ(path_of(r.header_or_empty("Location")).rfind(uploads_path(b), 0), 0u) << r.describe();
  EXPECT_EQ(c().get(blob_path(b, digest)).status, 404u);
}

TEST_F(BlobUploadTest, MountWithInvalidArgumentsFallsBackToUpload) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string digest = push_blob(c(), a, "invalid mount");
  auto bad_from = c().post(add_query(add_query(uploads_path(b), "mount", digest), "from", "UP"));
  EXPECT_EQ(bad_from.status, 202u) << bad_from.describe();
  auto bad_digest =
      c().post(add_query(add_query(uploads_path(b), "mount", "sha256:nothex"), "from", a));
  EXPECT_EQ(bad_digest.status, 202u) << bad_digest.describe();
}

TEST_F(BlobUploadTest, TwentyMebibyteBlobInFiveMebibyteChunks) {
  const std::string name = repo();
  constexpr size_t kChunk = 5 * 1024 * 1024;
  const std::string data = random_bytes(4 * kChunk, 38);
  const std::string digest = sha256_digest(data);
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  for (size_t off = 0; off < data.size(); off += kChunk) {
    auto p = patch_chunk(target, data.substr(off, kChunk), off);
    ASSERT_EQ(p.status, 202u) << p.describe();
    EXPECT_TRUE(HeaderIs(p, "Range", "0-" + std::to_string(off + kChunk - 1)));
    target = relative_target(p.header_or_empty("Location"));
  }
  auto r = finish(target, digest);
  ASSERT_EQ(r.status, 201u) << r.describe();
  auto h = c().head(blob_path(name, digest));
  EXPECT_TRUE(HeaderIs(h, "Content-Length", std::to_string(data.size())));
  expect_blob(name, digest, data);
  auto part = c().get(blob_path(name, digest), {{"Range", "bytes=10485755-10485764"}});
  ASSERT_EQ(part.status, 206u) << part.describe();
  EXPECT_EQ(part.body, data.substr(10485755, 10));
}

TEST_F(BlobUploadTest, UploadIdStaysTheSameAcrossChunks) {
  const std::string name = repo();
  std::string target = begin(name);
  ASSERT_FALSE(target.empty());
  const std::string uuid = upload_id(target);
  for (size_t i = 0; i < 3; ++i) {
    auto p = patch_chunk(target, "0123456789", i * 10);
    ASSERT_EQ(p.status, 202u) << p.describe();
    EXPECT_TRUE(HeaderIs(p, "Docker-Upload-UUID", uuid));
    target = relative_target(p.header_or_empty("Location"));
    EXPECT_EQ(upload_id(target), uuid);
  }
}

TEST_F(BlobUploadTest, PushingTheSameBlobTwiceIsFine) {
  const std::string name = repo();
  const std::string data = "twice";
  push_blob(c(), name, data);
  push_blob(c(), name, data);
  expect_blob(name, sha256_digest(data), data);
}

// http.automaticcrossmount on (set through its REGISTRY_* variable).
class AutomaticCrossMountTest : public BlobUploadTest {
 protected:
  static void SetUpTestSuite() {
    ServerOptions options;
    options.env.push_back("REGISTRY_HTTP_AUTOMATICCROSSMOUNT=true");
    start_shared(options);
  }
};

TEST_F(AutomaticCrossMountTest, MountWithoutFromFindsTheBlobInAnotherRepository) {
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string data = random_bytes(300, 43);
  const std::string digest = push_blob(c(), a, data);
  auto r = c().post(add_query(uploads_path(b), "mount", url_encode(digest)));
  ASSERT_EQ(r.status, 201u) << r.describe();
  EXPECT_EQ(relative_target(r.header_or_empty("Location")), blob_path(b, digest));
  EXPECT_TRUE(HeaderIs(r, "Docker-Content-Digest", digest));
  expect_blob(b, digest, data);
  // Already there: mounted again.
  EXPECT_EQ(c().post(add_query(uploads_path(b), "mount", digest)).status, 201u);
}

TEST_F(AutomaticCrossMountTest, UnknownOrMalformedDigestStartsAnUpload) {
  const std::string b = repo();
  for (const std::string& mount : {sha256_digest("never pushed"), std::string("sha256:nothex")}) {
    auto r = c().post(add_query(uploads_path(b), "mount", url_encode(mount)));
    ASSERT_EQ(r.status, 202u) << r.describe();
    EXPECT_EQ(path_of(r.header_or_empty("Location")).rfind(uploads_path(b), 0), 0u);
  }
}

TEST_F(AutomaticCrossMountTest, BlobNoRepositoryLinksIsNotMounted) {
  // Deleted from its only repository, the data stays in the blob store until garbage collection;
  // mounting it would bring back what its owner removed.
  const std::string a = repo("a");
  const std::string b = repo("b");
  const std::string digest = push_blob(c(), a, "unlinked everywhere");
  ASSERT_EQ(c().del(blob_path(a, digest)).status, 202u);
  auto r = c().post(add_query(uploads_path(b), "mount", digest));
  EXPECT_EQ(r.status, 202u) << r.describe();
  EXPECT_EQ(c().get(blob_path(b, digest)).status, 404u);
}

}  // namespace
}  // namespace onsen::e2e
