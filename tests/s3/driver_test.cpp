// What the s3 driver must do beyond the shared suite: Distribution's key scheme, multipart
// uploads resumed by another replica, moves above the multipart copy threshold, readers that
// never see a partial or mixed object, ranged readers, presigned URLs, and errors (not hangs) when
// the endpoint is gone.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway.h"
#include "storage/s3/driver.h"
#include "storage/s3/parameters.h"
#include "storage/s3/writer.h"
#include "support/fault_proxy.h"

namespace onsen::storage::s3 {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string pattern(size_t size, int seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + i / 4096) % 251);
  return s;
}

// Waits (up to 30 s) until the pending multipart upload of key has `count` parts.
bool wait_for_parts(S3Driver& d, const std::string& key, size_t count) {
  const std::string k = d.object_key(key);
  for (int i = 0; i < 300; ++i) {
    auto ids = d.client().multipart_uploads(k);
    if (!ids.empty() && d.client().list_parts(k, ids.back()).size() >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

class S3DriverTest : public ::testing::Test {
 protected:
  // A driver ("replica") on the test's rootdirectory, with the smallest parts S3 allows so a
  // few MiB exercise multipart uploads and copies.
  std::shared_ptr<S3Driver> replica(Parameters extra = {}) {
    return replica([](DriverConfig&) {}, std::move(extra));
  }
  // A replica with what no configuration key sets.
  std::shared_ptr<S3Driver> replica(const std::function<void(DriverConfig&)>& adjust,
                                    Parameters extra = {}) {
    Parameters p = test::s3_parameters(test::kS3TestBucket, root_);
    p["chunksize"] = std::to_string(5 * kMiB);
    p["multipartcopychunksize"] = std::to_string(5 * kMiB);
    p["multipartcopythresholdsize"] = std::to_string(6 * kMiB);
    for (auto& [k, v] : extra) p[k] = v;
    DriverConfig c = parse_parameters(p);
    adjust(c);
    return std::make_shared<S3Driver>(std::move(c));
  }
  void TearDown() override {
    try {
      replica()->remove("/");
    } catch (...) {
    }
  }

  std::string root_ = test::unique_s3_root();
};

TEST_F(S3DriverTest, ObjectKeysAreRootDirectoryPlusKeyAsInDistribution) {
  auto d = replica();
  d->put_content("/docker/registry/v2/repositories/a/_layers/x/link", "sha256:00");
  EXPECT_EQ(d->object_key("/docker/registry/v2/x"), root_.substr(1) + "/docker/registry/v2/x");
  auto page = d->client().list(root_.substr(1) + "/", "", std::nullopt);
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key,
            root_.substr(1) + "/docker/registry/v2/repositories/a/_layers/x/link");

  Parameters p = test::s3_parameters(test::kS3TestBucket, "");
  EXPECT_EQ(S3Driver(parse_parameters(p)).object_key("/docker/registry/v2/x"),
            "docker/registry/v2/x");
  p["rootdirectory"] = "/";
  EXPECT_EQ(S3Driver(parse_parameters(p)).object_key("/a"), "a");
  p["rootdirectory"] = "registry/";
  EXPECT_EQ(S3Driver(parse_parameters(p)).object_key("/a"), "registry/a");
}

// A chunked upload whose requests land on different replicas: each opens the object where the
// last left it: a small plain object is read back, a pending multipart upload is continued with
// its tail read back.
TEST_F(S3DriverTest, MultipartUploadResumesOnAnotherReplica) {
  auto a = replica(), b = replica(), c = replica();
  const std::string key = "/repo/_uploads/u1/data";
  const std::string p1 = pattern(100, 1), p2 = pattern(7 * kMiB, 2), p3 = pattern(11 * kMiB + 3, 3),
                    p4 = pattern(1, 4);
  a->writer(key, false)->close();  // as the upload store starts an upload
  {
    auto w = b->writer(key, true);
    EXPECT_EQ(w->size(), 0u);
    w->write(p1.data(), p1.size());
    w->close();
  }
  EXPECT_EQ(c->stat(key)->size, p1.size());
  {
    auto w = c->writer(key, true);  // a small tail: read back
    EXPECT_EQ(w->size(), p1.size());
    w->write(p2.data(), p2.size());
    w->close();
  }
  EXPECT_EQ(a->stat(key)->size, p1.size() + p2.size());
  {
    auto w = a->writer(key, true);  // above 5 MiB: the first part is a server-side copy
    EXPECT_EQ(w->size(), p1.size() + p2.size());
    w->write(p3.data(), p3.size());
    w->close();
  }
  {
    auto w = b->writer(key, true);
    w->write(p4.data(), p4.size());
    EXPECT_EQ(w->size(), p1.size() + p2.size() + p3.size() + 1);
    w->commit();
  }
  auto whole = c->get_content(key);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->size(), p1.size() + p2.size() + p3.size() + p4.size());
  EXPECT_TRUE(*whole == p1 + p2 + p3 + p4);  // (not EXPECT_EQ: 18 MiB in a failure message)
  // Nothing left pending: every multipart upload was completed.
  EXPECT_TRUE(a->client().multipart_uploads(a->object_key(key)).empty());
}

// Each resumed append sends (and has S3 copy) its own chunk plus at most the tail below 5 MiB
// the last append left, however much the upload already holds: the multipart upload stays open
// between appends, nothing stored is copied again. Counted by the clients of the replicas.
TEST_F(S3DriverTest, ResumedAppendCostsItsChunkNotTheUploadSoFar) {
  std::shared_ptr<S3Driver> replicas[] = {replica(), replica(), replica()};
  const std::string key = "/repo/_uploads/u2/data";
  replicas[0]->writer(key, false)->close();
  const size_t chunks[] = {kMiB,     6 * kMiB, 2 * kMiB, 7 * kMiB + 3, 100,
                           9 * kMiB, 4 * kMiB, 6 * kMiB, 3 * kMiB,     kMiB};
  std::string expected;
  int i = 0;
  for (size_t size : chunks) {
    S3Driver& d = *replicas[i % 3];
    const std::string chunk = pattern(size, ++i);
    const uint64_t before = d.client().bytes_sent() + d.client().bytes_copied();
    {
      auto w = d.writer(key, true);
      ASSERT_EQ(w->size(), expected.size());
      w->write(chunk.data(), chunk.size());
    }
    expected += chunk;
    const uint64_t cost = d.client().bytes_sent() + d.client().bytes_copied() - before;
    EXPECT_LE(cost, size + 5 * kMiB + 64 * 1024)
        << "append " << i << " of " << size << " bytes to " << expected.size() - size;
    EXPECT_EQ(replicas[(i + 1) % 3]->stat(key)->size, expected.size());
  }
  EXPECT_GT(expected.size(), 35 * kMiB);  // the stored part outgrew every chunk several times
  // Pending all along: no object at the key until the commit.
  EXPECT_FALSE(replicas[0]->client().head(replicas[0]->object_key(key)));
  {
    auto w = replicas[1]->writer(key, true);
    w->commit();
  }
  auto whole = replicas[2]->get_content(key);
  ASSERT_TRUE(whole);
  EXPECT_TRUE(*whole == expected);
  EXPECT_TRUE(replicas[0]->client().multipart_uploads(replicas[0]->object_key(key)).empty());
  EXPECT_FALSE(replicas[0]->client().head(tail_key(replicas[0]->object_key(key))));
}

// The registry's order: open the upload's Writer, then read the data (rehash) before writing.
// S3 reads no pending upload, so the reader completes it; the Writer notices and continues the
// completed object.
TEST_F(S3DriverTest, ReaderOfAPendingUploadCompletesItAndAnOpenWriterContinues) {
  auto a = replica(), b = replica();
  const std::string key = "/repo/_uploads/u3/data";
  const std::string p1 = pattern(7 * kMiB + 100, 1), p2 = pattern(3 * kMiB, 2);
  {
    auto w = a->writer(key, false);
    w->write(p1.data(), p1.size());
    w->close();  // one 5 MiB part and a tail, pending
  }
  EXPECT_EQ(b->stat(key)->size, p1.size());
  auto w = a->writer(key, true);
  auto reader = b->reader(key, 0);
  ASSERT_TRUE(reader);
  std::string read;
  std::string buf(kMiB, '\0');
  while (size_t n = reader->read(buf.data(), buf.size())) read.append(buf.data(), n);
  EXPECT_TRUE(read == p1);
  w->write(p2.data(), p2.size());
  w->close();
  EXPECT_EQ(b->stat(key)->size, p1.size() + p2.size());
  b->writer(key, true)->commit();
  EXPECT_TRUE(a->get_content(key) == p1 + p2);
}

// Writes of 1 MiB, as the registry hands over a request body.
void write_in_pieces(Writer& w, const std::string& data) {
  for (size_t at = 0; at < data.size(); at += kMiB) {
    w.write(data.data() + at, std::min<size_t>(kMiB, data.size() - at));
  }
}

// Promised bytes (a body of known length) go to S3 while they arrive: the part's request starts
// with its first byte, so the multipart upload exists before a chunk is there. A signed body
// needs all of its bytes first. Either way the object is the bytes written.
TEST_F(S3DriverTest, PromisedBytesAreSentWhileTheyArrive) {
  auto streaming = replica();
  auto signing = replica([](DriverConfig& c) { c.client.sign_payload = true; });
  const std::string key = "/repo/_uploads/u8/data";
  const std::string data = pattern(17 * kMiB + 3, 13);
  for (auto& d : {streaming, signing}) {
    const std::string k = d->object_key(key);
    auto w = d->writer(key, false);
    w->expect(data.size());
    w->write(data.data(), kMiB);
    EXPECT_EQ(d->client().multipart_uploads(k).size(), d == streaming ? 1u : 0u);
    write_in_pieces(*w, data.substr(kMiB));
    EXPECT_EQ(w->size(), data.size());
    w->commit();
    EXPECT_TRUE(d->get_content(key) == data);
    EXPECT_TRUE(d->client().multipart_uploads(k).empty());
  }
}

// A promised body's last bytes, too few for a part after a whole chunk, are made a part of S3's
// smallest size by cutting that chunk short: every byte streams, none waits for the body's end
// in a tail (chunks of 10 MiB here: a 24 MiB body is 10 + 9 + 5 MiB, not 10 + 10 + a 4 MiB tail).
TEST_F(S3DriverTest, APromisedBodyEndsInAPartNotATail) {
  auto d = replica({{"chunksize", std::to_string(10 * kMiB)}});
  const std::string key = "/repo/_uploads/u10/data";
  const std::string data = pattern(24 * kMiB, 16);
  {
    auto w = d->writer(key, false);
    w->expect(data.size());
    write_in_pieces(*w, data);
    w->close();
  }
  auto pending = find_pending(d->client(), d->object_key(key), true);
  ASSERT_TRUE(pending);
  std::vector<uint64_t> sizes;
  for (const auto& part : pending->parts) sizes.push_back(part.size);
  EXPECT_EQ(sizes, (std::vector<uint64_t>{10 * kMiB, 9 * kMiB, 5 * kMiB}));
  EXPECT_EQ(pending->tail_size, 0u);
  EXPECT_TRUE(d->get_content(key) == data);
}

// A body that breaks before its promised end (a client gone mid-PATCH): the part being streamed
// is dropped and its bytes are kept as the writer keeps any, so the upload holds every byte that
// came and resumes from there on another replica.
TEST_F(S3DriverTest, ABrokenPromiseKeepsEveryByteWritten) {
  auto a = replica(), b = replica();
  const std::string key = "/repo/_uploads/u9/data";
  const std::string got = pattern(7 * kMiB + 11, 14), rest = pattern(2 * kMiB, 15);
  {
    auto w = a->writer(key, false);
    w->expect(12 * kMiB);
    write_in_pieces(*w, got);  // a 5 MiB part, then 2 MiB of the next streamed
    EXPECT_EQ(w->size(), got.size());
    w->close();
  }
  EXPECT_EQ(b->stat(key)->size, got.size());
  {
    auto w = b->writer(key, true);
    EXPECT_EQ(w->size(), got.size());
    w->write(rest.data(), rest.size());
    w->commit();
  }
  EXPECT_TRUE(a->get_content(key) == got + rest);
}

// A writer that dies after sending a part that took the tail in (a replica killed mid-PATCH)
// leaves the tail stale: the object is the parts, a prefix of what was sent, never the tail twice.
TEST_F(S3DriverTest, ATailOutlivedByItsPartsIsIgnored) {
  auto a = replica(), b = replica();
  const std::string key = "/repo/_uploads/u4/data";
  const std::string p1 = pattern(6 * kMiB, 1), p2 = pattern(5 * kMiB, 2);
  {
    auto w = a->writer(key, false);
    w->write(p1.data(), p1.size());
    w->close();  // a 5 MiB part and a 1 MiB tail
  }
  auto w = b->writer(key, true);
  w->write(p2.data(), p2.size());  // a part of tail + 4 MiB sent; the 1 MiB left is not stored
  (void)w.release();               // dies: no close, no destructor
  // The part goes out on the writer's own thread: the writer dies once S3 has it.
  ASSERT_TRUE(wait_for_parts(*a, key, 2));
  EXPECT_EQ(a->stat(key)->size, 10 * kMiB);
  a->writer(key, true)->commit();
  EXPECT_TRUE(a->get_content(key) == (p1 + p2).substr(0, 10 * kMiB));
}

// Parts go out concurrently, so a writer that fails or dies may leave a part beyond one that never
// landed: only the gapless run from part 1 (and the tail that follows it) is the object. Ceph RGW
// completes an upload only with every part it holds, so the next writer, or a reader, completes it
// with the stray too and copies the run out of it: the stray is never part of the object, and the
// upload can still be completed.
TEST_F(S3DriverTest, APartBeyondAGapIsIgnored) {
  auto a = replica(), b = replica();
  const std::string p1 = pattern(6 * kMiB, 1), p2 = pattern(2 * kMiB, 2);
  // Part 1 (5 MiB) and a 1 MiB tail, then part 3 without a part 2: what a writer whose part 2
  // failed (or that died) leaves.
  auto leave_a_stray = [&](const std::string& key) {
    auto w = a->writer(key, false);
    w->write(p1.data(), p1.size());
    w->close();
    const std::string k = a->object_key(key);
    auto ids = a->client().multipart_uploads(k);
    ASSERT_EQ(ids.size(), 1u);
    a->client().upload_part(k, ids[0], 3, pattern(5 * kMiB, 9));
    EXPECT_EQ(b->stat(key)->size, 6 * kMiB);
  };

  const std::string resumed = "/repo/_uploads/u6/data";
  leave_a_stray(resumed);
  {
    auto w = b->writer(resumed, true);
    ASSERT_EQ(w->size(), 6 * kMiB);
    w->write(p2.data(), p2.size());
    w->close();  // pending again: the run copied into a new upload, the tail after it
  }
  EXPECT_EQ(a->stat(resumed)->size, 8 * kMiB);
  a->writer(resumed, true)->commit();
  EXPECT_TRUE(b->get_content(resumed) == p1 + p2);

  const std::string read = "/repo/_uploads/u7/data";  // read before any writer resumes it
  leave_a_stray(read);
  EXPECT_TRUE(b->get_content(read) == p1);
  EXPECT_TRUE(a->client().multipart_uploads(a->object_key(read)).empty());
}

// Cancelling an upload removes its directory: the pending multipart upload is aborted and its
// tail goes, nothing is left in the bucket.
TEST_F(S3DriverTest, RemovingAnUploadDirectoryAbortsItsPendingUpload) {
  auto d = replica();
  const std::string dir = "/repo/_uploads/u5";
  d->put_content(dir + "/startedat", "2026-12-03T00:00:00Z");
  {
    auto w = d->writer(dir + "/data", false);
    const std::string big = pattern(6 * kMiB, 9);
    w->write(big.data(), big.size());
    w->close();
  }
  ASSERT_EQ(d->stat(dir + "/data")->size, 6 * kMiB);
  EXPECT_TRUE(d->remove(dir));
  EXPECT_EQ(d->stat(dir + "/data"), std::nullopt);
  EXPECT_EQ(d->stat(dir), std::nullopt);
  const std::string root = root_.substr(1) + "/";
  EXPECT_TRUE(d->client().multipart_uploads_under(root).empty());
  EXPECT_TRUE(d->client().list(root, "", std::nullopt).objects.empty());
}

TEST_F(S3DriverTest, UnfinishedMultipartUploadIsNeverVisible) {
  auto d = replica();
  const std::string key = "/up/data";
  d->put_content(key, "old");
  auto w = d->writer(key, false);
  const std::string big = pattern(12 * kMiB, 5);
  w->write(big.data(), big.size());    // two parts sent, not completed
  EXPECT_EQ(d->get_content(key), "");  // the empty object of the open, not a part of the new one
  w->commit();
  EXPECT_TRUE(d->get_content(key) == big);
}

TEST_F(S3DriverTest, CancelAbortsThePendingMultipartUpload) {
  auto d = replica();
  const std::string key = "/repo/_uploads/u6/data";
  auto w = d->writer(key, false);
  const std::string big = pattern(11 * kMiB, 6);
  w->write(big.data(), big.size());
  w->cancel();
  EXPECT_EQ(d->stat(key), std::nullopt);
  EXPECT_TRUE(d->client().multipart_uploads(d->object_key(key)).empty());
}

// Only an upload's files can be pending: a missing blob or link is one HEAD and one LIST (is it
// a directory?) for stat, one GET for get_content and reader, no ListMultipartUploads. A missing
// upload file still looks for its pending upload. Counted at a proxy in front of the gateway.
TEST_F(S3DriverTest, AMissingKeyOutsideAnUploadCostsNoMultipartListing) {
  test::FaultProxy proxy(test::s3_gateway().endpoint, 0, 503, "SlowDown");
  auto d = replica({{"regionendpoint", proxy.endpoint()}});
  const std::string blob = "/docker/registry/v2/blobs/sha256/ab/abcd/data";
  const std::string link = "/docker/registry/v2/repositories/r/_manifests/tags/t/current/link";
  auto requests = [&](auto&& call) {
    const int before = proxy.forwarded();
    call();
    return proxy.forwarded() - before;
  };
  EXPECT_EQ(requests([&] { EXPECT_EQ(d->stat(blob), std::nullopt); }), 2);
  EXPECT_EQ(requests([&] { EXPECT_EQ(d->get_content(link), std::nullopt); }), 1);
  EXPECT_EQ(requests([&] { EXPECT_EQ(d->reader(blob, 0), nullptr); }), 1);
  EXPECT_EQ(requests([&] { EXPECT_EQ(d->stat("/repo/_uploads/u7/data"), std::nullopt); }), 3);
}

// Distribution's rule, as on a store that copies data (AWS, or RGW with encryption).
TEST_F(S3DriverTest, MoveAboveTheThresholdIsAMultipartCopy) {
  auto d = replica([](DriverConfig& c) { c.copy_by_reference = false; });
  const std::string big = pattern(13 * kMiB + 17, 7), small = pattern(kMiB, 8);
  d->put_content("/uploads/big", big);
  d->put_content("/uploads/small", small);
  d->move("/uploads/big", "/blobs/big/data");
  d->move("/uploads/small", "/blobs/small/data");
  EXPECT_TRUE(d->get_content("/blobs/big/data") == big);
  EXPECT_TRUE(d->get_content("/blobs/small/data") == small);
  EXPECT_EQ(d->stat("/uploads/big"), std::nullopt);
  EXPECT_EQ(d->stat("/uploads/small"), std::nullopt);
  // A multipart object's ETag ends in "-<parts>": 13 MiB in 5 MiB parts is 3.
  auto big_info = d->client().head(d->object_key("/blobs/big/data"));
  ASSERT_TRUE(big_info);
  EXPECT_NE(big_info->etag.find("-3"), std::string::npos) << big_info->etag;
  auto small_info = d->client().head(d->object_key("/blobs/small/data"));
  ASSERT_TRUE(small_info);
  EXPECT_EQ(small_info->etag.find('-'), std::string::npos) << small_info->etag;
}

// On a Ceph RGW (the test gateway) an object up to 5 GiB moves with one CopyObject, above the
// threshold too: RGW shares its data rather than writing it again (driver.cpp, copy_object).
TEST_F(S3DriverTest, MoveOnRgwIsOneCopyObjectAboveTheThresholdToo) {
  auto d = replica();
  const std::string big = pattern(13 * kMiB + 17, 11);
  {
    auto w = d->writer("/uploads/big", false);  // a multipart object, as an upload's data is
    w->write(big.data(), big.size());
    w->commit();
  }
  auto source = d->client().head(d->object_key("/uploads/big"));
  ASSERT_TRUE(source);
  EXPECT_TRUE(source->rgw);
  d->move("/uploads/big", "/blobs/big/data");
  EXPECT_TRUE(d->get_content("/blobs/big/data") == big);
  EXPECT_EQ(d->stat("/uploads/big"), std::nullopt);
  EXPECT_EQ(d->client().bytes_copied(), 0u);  // no UploadPartCopy
  auto moved = d->client().head(d->object_key("/blobs/big/data"));
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->etag, source->etag);  // CopyObject keeps it; a multipart copy has its own
}

// Request bodies go without their SHA-256 to the loopback gateway (nobody between could change
// them), signed where asked, and the gateway takes both.
TEST_F(S3DriverTest, BodiesAreSignedUnlessTheTransportProtectsThem) {
  auto unsigned_replica = replica();
  auto signed_replica = replica([](DriverConfig& c) { c.client.sign_payload = true; });
  EXPECT_FALSE(unsigned_replica->client().signs_payload());
  EXPECT_TRUE(signed_replica->client().signs_payload());
  const std::string data = pattern(12 * kMiB + 5, 12);
  for (auto& d : {unsigned_replica, signed_replica}) {
    auto w = d->writer("/obj", false);
    w->write(data.data(), data.size());
    w->commit();
    EXPECT_TRUE(d->get_content("/obj") == data);
    d->put_content("/small", "abc");
    EXPECT_EQ(d->get_content("/small"), "abc");
  }
}

// A reader is one GET: the object replaced while it reads, it still gives the whole version it
// started on (or fails), never a mix of the two.
TEST_F(S3DriverTest, ReaderNeverMixesTwoVersions) {
  auto d = replica();
  const std::string v1 = pattern(24 * kMiB, 9), v2 = pattern(24 * kMiB, 10);
  d->put_content("/obj", v1);
  auto r = d->reader("/obj", 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), v1.size());
  std::string got(kMiB, '\0');
  ASSERT_GT(r->read(got.data(), got.size()), 0u);
  std::string all = got;
  d->put_content("/obj", v2);
  try {
    while (size_t n = r->read(got.data(), got.size())) all.append(got.data(), n);
    EXPECT_TRUE(all.size() == v1.size() && all == v1) << all.size();
  } catch (const Error& e) {  // also fine: the old version gone under it
  }
  auto again = d->reader("/obj", 0);
  all.clear();
  while (size_t n = again->read(got.data(), got.size())) all.append(got.data(), n);
  EXPECT_TRUE(all == v2);
  auto tail = d->reader("/obj", v2.size() - 10);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->size(), v2.size());
  all.clear();
  while (size_t n = tail->read(got.data(), got.size())) all.append(got.data(), n);
  EXPECT_EQ(all, v2.substr(v2.size() - 10));
}

// A blob GET with a Range reads exactly what was asked for: the GET is ranged, so the reader
// ends at the range's end instead of streaming on to the end of the object.
TEST_F(S3DriverTest, RangeReaderIsOneRangedGet) {
  auto d = replica();
  const std::string v = pattern(7 * kMiB + 3, 11);
  d->put_content("/obj", v);
  for (auto [offset, length] : {std::pair<uint64_t, uint64_t>{0, 10},
                                {5 * kMiB - 5, 10},
                                {v.size() - 7, 7},
                                {v.size() - 7, 1000}}) {
    auto r = d->range_reader("/obj", offset, length);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->size(), v.size());
    std::string got, buf(kMiB, '\0');
    while (size_t n = r->read(buf.data(), buf.size())) got.append(buf.data(), n);
    EXPECT_EQ(got, v.substr(offset, length)) << offset << "+" << length;
  }
  EXPECT_EQ(d->range_reader("/none", 0, 10), nullptr);
}

// url_for: a presigned URL for GET and HEAD at the endpoint as configured, path style or
// virtual-hosted; none for other methods. (tests/s3/redirect_test.sh fetches them with curl.)
TEST_F(S3DriverTest, UrlForIsPresignedAtTheConfiguredEndpoint) {
  const test::S3Gateway& g = test::s3_gateway();
  auto d = replica();
  const std::string key = "/docker/registry/v2/blobs/sha256/ab/ab12/data";
  auto url = d->url_for(key, "GET", std::chrono::seconds(1200));
  ASSERT_TRUE(url);
  const std::string path_style =
      g.endpoint + "/" + test::kS3TestBucket + "/" + d->object_key(key) + "?";
  EXPECT_EQ(url->substr(0, path_style.size()), path_style) << *url;
  EXPECT_NE(url->find("X-Amz-Expires=1200&"), std::string::npos) << *url;
  EXPECT_NE(url->find("&X-Amz-Signature="), std::string::npos) << *url;
  EXPECT_TRUE(d->url_for(key, "HEAD", std::chrono::seconds(60)));
  EXPECT_EQ(d->url_for(key, "PUT", std::chrono::seconds(60)), std::nullopt);
  EXPECT_EQ(d->url_for(key, "DELETE", std::chrono::seconds(60)), std::nullopt);

  auto hosted = replica({{"forcepathstyle", "false"}});
  url = hosted->url_for(key, "GET", std::chrono::seconds(60));
  ASSERT_TRUE(url);
  const std::string host = g.endpoint.substr(g.endpoint.find("://") + 3);
  const std::string virtual_hosted =
      "http://" + std::string(test::kS3TestBucket) + "." + host + "/" + d->object_key(key) + "?";
  EXPECT_EQ(url->substr(0, virtual_hosted.size()), virtual_hosted) << *url;
}

// Throttling (503 SlowDown) and 5xx answers are retried with backoff inside the driver: a few
// pass unseen, more than its attempts become an unavailable() error (503 to the client).
TEST_F(S3DriverTest, ThrottlingIsRetriedWithBackoff) {
  auto direct = replica();
  direct->put_content("/kept", "value");
  {
    test::FaultProxy proxy(test::s3_gateway().endpoint, 3, 503, "SlowDown");
    auto d = replica({{"regionendpoint", proxy.endpoint()}});
    EXPECT_EQ(d->get_content("/kept"), "value");
    d->put_content("/new", "written through throttling");
    EXPECT_EQ(proxy.failed(), 3);
    EXPECT_EQ(proxy.forwarded(), 2);
  }
  EXPECT_EQ(direct->get_content("/new"), "written through throttling");
  {
    test::FaultProxy proxy(test::s3_gateway().endpoint, 100, 500, "InternalError");
    auto d = replica({{"regionendpoint", proxy.endpoint()}});
    try {
      d->get_content("/kept");
      FAIL() << "no exception";
    } catch (const Error& e) {
      EXPECT_TRUE(e.unavailable()) << e.what();
      EXPECT_NE(std::string(e.what()).find("500 InternalError after 5 attempts"), std::string::npos)
          << e.what();
    }
    EXPECT_EQ(proxy.failed(), 5);
    EXPECT_EQ(proxy.forwarded(), 0);
  }
}

TEST_F(S3DriverTest, UnreachableEndpointIsAnErrorNotAHang) {
  Parameters p = test::s3_parameters(test::kS3TestBucket, root_);
  p["regionendpoint"] = "http://127.0.0.1:9";  // discard port: nothing listens
  S3Driver d(parse_parameters(p));
  try {
    d.get_content("/x");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attempts"), std::string::npos) << e.what();
    EXPECT_TRUE(e.unavailable()) << e.what();  // the client may retry: 503, not 500
  }
}

TEST_F(S3DriverTest, WrongCredentialsAreAnError) {
  auto d = replica({{"secretkey", "wrong"}});
  try {
    d->put_content("/x", "y");
    FAIL() << "no exception";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.status(), 403u) << e.what();
    EXPECT_EQ(e.code(), "SignatureDoesNotMatch") << e.what();
    EXPECT_FALSE(e.unavailable());  // a configuration error, not a passing one
  }
}

}  // namespace
}  // namespace onsen::storage::s3
