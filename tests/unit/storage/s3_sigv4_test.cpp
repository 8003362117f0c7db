// SigV4 against AWS's published examples: the S3 examples of "Authenticating Requests: Using the
// Authorization Header" and "... Using Query Parameters" (examplebucket, 20130524) and get-vanilla
// of the aws-sig-v4 test suite.
#include <gtest/gtest.h>

#include "storage/s3/sigv4.h"

namespace onsen::storage::s3 {
namespace {

const std::string kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Credentials s3_example() {
  return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3",
          ""};
}

TEST(SigV4, S3GetObjectWithRange) {
  SigningInput in{"GET", "/test.txt", nullptr, {}, kEmptyHash, "20130524T000000Z"};
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"Range", "bytes=0-9"},
                {"x-amz-content-sha256", kEmptyHash},
                {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(canonical_request(in),
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:" +
                kEmptyHash +
                "\nx-amz-date:20130524T000000Z\n\n"
                "host;range;x-amz-content-sha256;x-amz-date\n" +
                kEmptyHash);
  EXPECT_EQ(string_to_sign(s3_example(), in),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(authorization(s3_example(), in),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObjectPayloadHash) {
  // The payload hash of the PUT example ("Welcome to Amazon S3."), and its key's encoding.
  EXPECT_EQ(sha256_hex("Welcome to Amazon S3."),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(uri_encode("/test$file.text", false), "/test%24file.text");
}

TEST(SigV4, S3ListObjectsQueryIsSortedAndEncoded) {
  std::multimap<std::string, std::string> query{{"prefix", "J"}, {"max-keys", "2"}};
  EXPECT_EQ(canonical_query(query), "max-keys=2&prefix=J");
  SigningInput in{"GET", "/", &query, {}, kEmptyHash, "20130524T000000Z"};
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"x-amz-date", "20130524T000000Z"},
                {"x-amz-content-sha256", kEmptyHash}};
  EXPECT_EQ(signature(s3_example(), in),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, TestSuiteGetVanilla) {
  Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
                    "service", ""};
  const std::string empty_hash = sha256_hex("");
  EXPECT_EQ(empty_hash, kEmptyHash);
  SigningInput in{"GET", "/", nullptr, {}, empty_hash, "20150830T123600Z"};
  in.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  EXPECT_EQ(authorization(creds, in),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, UriEncoding) {
  EXPECT_EQ(uri_encode("a/b c+d~e_f.g-h", false), "a/b%20c%2Bd~e_f.g-h");
  EXPECT_EQ(uri_encode("a/b", true), "a%2Fb");
  EXPECT_EQ(uri_encode("\xc3\xa9", true), "%C3%A9");
  std::multimap<std::string, std::string> q{{"uploads", ""}, {"prefix", "a/b"}};
  EXPECT_EQ(canonical_query(q), "prefix=a%2Fb&uploads=");
}

// The presigned URL of "Authenticating Requests: Using Query Parameters": GET /test.txt valid
// for a day.
TEST(SigV4, S3PresignedGet) {
  EXPECT_EQ(presigned_query(s3_example(), "GET", "/test.txt", "examplebucket.s3.amazonaws.com",
                            "20130524T000000Z", 86400),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// Temporary credentials: the token is a query parameter of the URL, and signed like the others
// (the signature is the one over the query that includes it).
TEST(SigV4, PresignedUrlCarriesTheSessionTokenSigned) {
  Credentials creds = s3_example();
  creds.session_token = "tok/en+1";
  const std::string q = presigned_query(creds, "GET", "/test.txt", "examplebucket.s3.amazonaws.com",
                                        "20130524T000000Z", 86400);
  EXPECT_NE(q.find("&X-Amz-Expires=86400&X-Amz-Security-Token=tok%2Fen%2B1&X-Amz-SignedHeaders="),
            std::string::npos)
      << q;

  std::multimap<std::string, std::string> query{
      {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
      {"X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
      {"X-Amz-Date", "20130524T000000Z"},
      {"X-Amz-Expires", "86400"},
      {"X-Amz-Security-Token", "tok/en+1"},
      {"X-Amz-SignedHeaders", "host"}};
  SigningInput in{"GET",
                  "/test.txt",
                  &query,
                  {{"host", "examplebucket.s3.amazonaws.com"}},
                  "UNSIGNED-PAYLOAD",
                  "20130524T000000Z"};
  EXPECT_EQ(q.substr(q.rfind('=') + 1), signature(creds, in));
}

}  // namespace
}  // namespace onsen::storage::s3
