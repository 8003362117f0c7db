// The collector lock kept in the store (registry/store_lease.h), on the in-memory driver: taken
// when free or expired, refused while another's is valid, renewed only by its owner, and of two
// replicas taking it at once only the later writer keeps it.
#include <gtest/gtest.h>

#include "registry/store_lease.h"
#include "storage/inmemory.h"

#include <chrono>
#include <thread>

namespace onsen::registry {
namespace {

using namespace std::chrono_literals;

class StoreLeaseTest : public ::testing::Test {
 protected:
  std::shared_ptr<storage::Driver> store_ = std::make_shared<storage::InMemoryDriver>();
  StoreLease a_{store_, "a", 0ms};
  StoreLease b_{store_, "b", 0ms};
};

TEST_F(StoreLeaseTest, OneHolderUntilReleased) {
  EXPECT_EQ(a_.holder(), "");
  EXPECT_TRUE(a_.acquire(30s));
  EXPECT_EQ(b_.holder(), "a");
  EXPECT_FALSE(b_.acquire(30s));
  EXPECT_TRUE(a_.renew(30s));
  EXPECT_FALSE(b_.renew(30s));  // not its lease
  b_.release();                 // nor its to give up
  EXPECT_EQ(a_.holder(), "a");
  a_.release();
  EXPECT_FALSE(store_->get_content(StoreLease::key()));
  EXPECT_TRUE(b_.acquire(30s));
}

TEST_F(StoreLeaseTest, AnExpiredLeaseIsTakenOverAndItsOldOwnerLearnsOnRenewal) {
  EXPECT_TRUE(a_.acquire(1ms));
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(b_.holder(), "");  // expired
  EXPECT_TRUE(b_.acquire(30s));
  EXPECT_FALSE(a_.renew(30s));  // lost: its collection must stop
  a_.release();
  EXPECT_EQ(a_.holder(), "b");
}

TEST_F(StoreLeaseTest, AForeignOrTornObjectBlocksNothing) {
  store_->put_content(StoreLease::key(), "garbage");
  EXPECT_EQ(a_.holder(), "");
  EXPECT_TRUE(a_.acquire(30s));
}

TEST_F(StoreLeaseTest, OfTwoTakingItAtOnceTheLaterWriteWins) {
  // Both read the lease free, both write; each reads back after the settle time: the one whose
  // write came first sees the other's name and backs off.
  StoreLease slow_a(store_, "a", 200ms);
  bool a_got = true;
  std::thread first([&] { a_got = slow_a.acquire(30s); });
  std::this_thread::sleep_for(50ms);  // a has written and waits to read back
  store_->put_content(
      StoreLease::key(),
      "b\n" +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                             (std::chrono::system_clock::now() + 30s).time_since_epoch())
                             .count()) +
          "\n");
  first.join();
  EXPECT_FALSE(a_got);
  EXPECT_EQ(a_.holder(), "b");
}

}  // namespace
}  // namespace onsen::registry
