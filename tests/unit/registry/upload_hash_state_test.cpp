// An upload continued by another Registry on the same storage (a replica, or this one after a
// restart) resumes from the hash state stored beside the upload, never reading the data again;
// a state that is missing or unusable costs a rehash, never a wrong digest.
#include "registry/registry.h"

#include "registry/error.h"
#include "storage/inmemory.h"
#include "storage/layout.h"

#include <gtest/gtest.h>

#include <string>

namespace onsen::registry {
namespace {

namespace layout = storage::layout;

std::string pattern(size_t n, int seed = 0) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>((i * 13 + seed + i / 253) & 0xff);
  return s;
}

class UploadHashStateTest : public ::testing::Test {
 protected:
  std::shared_ptr<storage::InMemoryDriver> driver = std::make_shared<storage::InMemoryDriver>();
  // Two registries on one storage: as two replicas, each has its own in-memory checkpoints.
  Registry a{driver, RegistryOptions{}};
  Registry b{driver, RegistryOptions{}};

  static void append(Registry& reg, const std::string& id, const std::string& bytes) {
    reg.open_upload("r", id)->write(bytes.data(), bytes.size());
  }
  static uint64_t rehashes(const Registry& reg) { return reg.upload_counters().rehashes; }
  std::string state_key(const std::string& id, uint64_t offset) {
    return layout::upload_hash_state("r", id, "sha256", offset);
  }
};

TEST_F(UploadHashStateTest, AppendsAlternatingBetweenRegistriesNeverRehash) {
  // Pieces whose ends cut 64-byte blocks.
  const std::string pieces[] = {pattern(100, 1), pattern(37, 2), pattern(1000, 3), pattern(5, 4),
                                pattern(70000, 5)};
  std::string all;
  auto id = a.start_upload("r");
  Registry* regs[] = {&a, &b};
  for (int i = 0; i < 5; ++i) {
    append(*regs[i % 2], id, pieces[i]);
    all += pieces[i];
    // Stored after each append, under Distribution's key, with the length in its name.
    auto state = driver->get_content(state_key(id, all.size()));
    ASSERT_TRUE(state) << i;
    EXPECT_EQ(ResumableSha256::unmarshal(*state)->digest(), digest_of(all));
  }
  b.open_upload("r", id)->finish(digest_of(all));
  EXPECT_EQ(b.blob_size("r", digest_of(all)), all.size());
  EXPECT_EQ(rehashes(a) + rehashes(b), 0u);
  // Every open but the first (empty) one took the other registry's state: 4 appends + finish.
  EXPECT_EQ(a.upload_counters().hash_states_resumed + b.upload_counters().hash_states_resumed, 5u);
  EXPECT_EQ(a.upload_counters().hash_states_saved + b.upload_counters().hash_states_saved, 5u);
  // The states went with the upload.
  EXPECT_FALSE(driver->stat(layout::upload_dir("r", id)));
}

TEST_F(UploadHashStateTest, SameRegistryUsesItsCheckpointNotTheStore) {
  auto id = a.start_upload("r");
  append(a, id, "hel");
  append(a, id, "lo");
  a.open_upload("r", id)->finish(digest_of("hello"));
  EXPECT_EQ(a.upload_counters().hash_states_resumed, 0u);
  EXPECT_EQ(rehashes(a), 0u);
}

TEST_F(UploadHashStateTest, UnusableStateMeansARehashNotAWrongDigest) {
  ResumableSha256 shorter;
  shorter.update(pattern(99));
  const std::string replacements[] = {
      "",                          // truncated
      std::string(108, 'x'),       // not a state
      shorter.marshal(),           // a good state, for another length
      std::string("sha\x02", 4) +  // sha224's magic
          shorter.marshal().substr(4),
  };
  for (const auto& replacement : replacements) {
    auto id = a.start_upload("r");
    append(a, id, pattern(100));
    driver->put_content(state_key(id, 100), replacement);
    const uint64_t before = rehashes(b);
    append(b, id, "tail");
    EXPECT_EQ(rehashes(b), before + 1);
    b.open_upload("r", id)->finish(digest_of(pattern(100) + "tail"));
  }
  // And when there is none at all (a power loss took it).
  auto id = a.start_upload("r");
  append(a, id, pattern(100));
  driver->remove(state_key(id, 100));
  append(b, id, "tail");
  b.open_upload("r", id)->finish(digest_of(pattern(100) + "tail"));
}

TEST_F(UploadHashStateTest, DamagedWordsAreCaughtByTheDigestCheck) {
  // A state of the right form whose words were damaged cannot be told from a good one; the digest
  // check at the end then reads the data before calling the upload wrong.
  auto id = a.start_upload("r");
  append(a, id, pattern(100));
  std::string state = *driver->get_content(state_key(id, 100));
  state[10] ^= 0x01;
  driver->put_content(state_key(id, 100), state);
  append(b, id, "tail");
  EXPECT_EQ(b.upload_counters().hash_states_resumed, 1u);
  EXPECT_EQ(rehashes(b), 0u);
  b.open_upload("r", id)->finish(digest_of(pattern(100) + "tail"));
  EXPECT_EQ(rehashes(b), 1u);
  EXPECT_EQ(b.blob_size("r", digest_of(pattern(100) + "tail")), 104u);
}

TEST_F(UploadHashStateTest, WrongDigestIsStillRefusedAfterTheSecondLook) {
  auto id = a.start_upload("r");
  append(a, id, pattern(100));
  auto session = b.open_upload("r", id);
  try {
    session->finish(digest_of("something else"));
    ADD_FAILURE() << "finish accepted a wrong digest";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDigestInvalid);
  }
  EXPECT_FALSE(driver->stat(layout::upload_dir("r", id)));
}

TEST_F(UploadHashStateTest, StatesGoWithACancelledUpload) {
  auto id = a.start_upload("r");
  append(a, id, pattern(100));
  ASSERT_TRUE(driver->stat(state_key(id, 100)));
  b.cancel_upload("r", id);
  EXPECT_FALSE(driver->stat(layout::upload_dir("r", id)));
}

}  // namespace
}  // namespace onsen::registry
