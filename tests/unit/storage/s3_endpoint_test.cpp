// Which endpoints the s3 client sends request bodies to without their SHA-256 (UNSIGNED-PAYLOAD):
// those whose transport already protects the bytes (Endpoint::tamper_proof).
#include <gtest/gtest.h>

#include "storage/s3/http_client.h"

namespace onsen::storage::s3 {
namespace {

TEST(S3Endpoint, TlsAndLoopbackAreTamperProof) {
  EXPECT_TRUE(parse_endpoint("https://s3.example.com", true).tamper_proof());
  EXPECT_TRUE(parse_endpoint("rgw.internal:7480", true).tamper_proof());  // secure: https
  EXPECT_TRUE(parse_endpoint("http://127.0.0.1:7480", false).tamper_proof());
  EXPECT_TRUE(parse_endpoint("http://127.3.4.5:7480", false).tamper_proof());
  EXPECT_TRUE(parse_endpoint("http://[::1]:7480", false).tamper_proof());
  EXPECT_TRUE(parse_endpoint("http://localhost:7480", false).tamper_proof());
}

TEST(S3Endpoint, TlsWithoutVerificationIsNot) {
  Endpoint e = parse_endpoint("https://s3.example.com", true);
  e.skip_verify = true;  // storage.s3.skipverify
  EXPECT_FALSE(e.tamper_proof());
}

TEST(S3Endpoint, PlainHttpToAnotherHostIsNot) {
  EXPECT_FALSE(parse_endpoint("http://rgw.internal:7480", false).tamper_proof());
  EXPECT_FALSE(parse_endpoint("http://10.0.0.5:7480", false).tamper_proof());
  EXPECT_FALSE(parse_endpoint("http://[fd00::5]:7480", false).tamper_proof());
  // A name that merely starts like a loopback address is resolved elsewhere.
  EXPECT_FALSE(parse_endpoint("http://127.0.0.1.example.com", false).tamper_proof());
  EXPECT_FALSE(parse_endpoint("rgw.internal:7480", false).tamper_proof());
}

}  // namespace
}  // namespace onsen::storage::s3
