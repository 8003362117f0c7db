#include "registry/staging.h"

#include "registry/error.h"
#include "storage/layout.h"

#include <fmt/format.h>
#include <openssl/rand.h>

namespace onsen::registry::staging {

std::string new_key(const std::string& repo) {
  unsigned char b[12];
  if (RAND_bytes(b, sizeof b) != 1) throw Error(ErrorCode::kInternal, "random source failed");
  std::string name = ".staging-";
  for (unsigned char c : b) name += fmt::format("{:02x}", c);
  return storage::layout::uploads_dir(repo) + "/" + name;
}

void put(storage::Driver& driver, const std::string& repo, const std::string& key,
         std::string_view content) {
  // Where a put is whole or nothing by itself, a staged copy only costs round trips (on S3 a put,
  // a copy and a delete more per link).
  if (driver.capabilities() & storage::kPutLeavesNoDebris) return driver.put_content(key, content);
  const std::string temp = new_key(repo);
  driver.put_content(temp, content);
  try {
    driver.move(temp, key);
  } catch (...) {
    driver.remove(temp);
    throw;
  }
}

bool remove(storage::Driver& driver, const std::string& repo, const std::string& key) {
  if (!driver.stat(key)) return false;
  for (int attempt = 0;; ++attempt) {
    const std::string trash = new_key(repo);
    try {
      driver.move(key, trash);
    } catch (const storage::Error&) {
      if (!driver.stat(key)) return false;  // removed concurrently
      // A part of a directory removed concurrently (a collection removing a tag's index entry
      // while an S3 move copies it: 404): what is left is moved again, the part moved is trash.
      driver.remove(trash);
      if (attempt >= 2) throw;
      continue;
    }
    driver.remove(trash);
    return true;
  }
}

}  // namespace onsen::registry::staging
