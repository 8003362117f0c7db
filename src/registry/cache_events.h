// Listing changes shared between replicas serving one storage (docs/ARCHITECTURE.md, "Several
// replicas"). After a write that changes a repository's tags or the set of repositories, the
// Registry tells a ListingChangePublisher; a transport (Redis pub/sub, wired in by cli) carries
// the change to the other replicas, which apply it to their own caches (Registry::apply) instead
// of waiting for the caches' age limit. The core knows only this interface.
#pragma once

#include <optional>
#include <string>

namespace onsen::registry {

struct ListingChange {
  enum class Kind {
    kTags,                 // the tags of `repository` changed: drop its tag list
    kRepositoryAdded,      // `repository` is one now: add it to the catalog, no walk
    kRepositoriesRemoved,  // repositories may have gone (`repository` or below): walk again
    kStored,               // the objects at and below storage `key` were written, moved or
                           // removed: drop what the read cache holds of them
  };
  Kind kind;
  std::string repository;
  std::string key = {};  // kStored only
};

class ListingChangePublisher {
 public:
  virtual ~ListingChangePublisher() = default;
  // Must not block on the network: called inside storage writes, possibly on an I/O thread.
  virtual void publish(const ListingChange& change) = 0;
  // Waits, briefly and boundedly, until what was published so far has left for the other
  // replicas: called by a writer whose client will read from another replica right after its
  // answer (the read cache), never on an I/O thread. A no-op by default.
  virtual void flush() {}
};

// The wire form: one small JSON object naming the replica it comes from ({"origin":..,
// "change":"tags"|"added"|"removed","repository":..}, or {"origin":..,"change":"stored","key":..}),
// so a replica can skip its own. "stored" came later: a replica that predates it drops such
// messages as malformed (it has no read cache to drop them from), and the older forms decode as
// before.
std::string encode(const ListingChange& change, const std::string& origin);
// nullopt for a message that is not a well-formed change.
struct ReceivedChange {
  ListingChange change;
  std::string origin;
};
std::optional<ReceivedChange> decode(const std::string& message);

}  // namespace onsen::registry
