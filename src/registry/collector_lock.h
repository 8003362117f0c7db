// One garbage collector at a time across the replicas sharing a storage: a lease with an expiry,
// renewed while the collection runs, so that a replica that dies holding it blocks the others for
// one lease at most. Two implementations: Redis (cli/redis_collector_lock.h, SET NX PX, when the
// replicas have `redis:`) and an object in the store (registry/store_lease.h). What each
// guarantees is in docs/ARCHITECTURE.md ("Garbage collection").
#pragma once

#include <chrono>
#include <string>

namespace onsen::registry {

class CollectorLock {
 public:
  virtual ~CollectorLock() = default;
  // Takes the lock for `ttl` unless another holder's lease is still valid; false then. Throws
  // (storage::Error, std::runtime_error) when the lock's keeper cannot be asked: the caller must
  // not collect.
  virtual bool acquire(std::chrono::milliseconds ttl) = 0;
  // Extends a lease this process holds; false when it was lost (expired and taken by another).
  virtual bool renew(std::chrono::milliseconds ttl) = 0;
  // Gives the lease up, if this process still holds it.
  virtual void release() = 0;
  // The current holder's name ("" when none or unknown), for messages.
  virtual std::string holder() = 0;
};

}  // namespace onsen::registry
