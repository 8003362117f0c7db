// AWS Signature Version 4 for S3 requests, as described in AWS's "Authenticating Requests (AWS
// Signature Version 4)": header-based (the Authorization header) for the driver's own requests,
// and query-string based (a presigned URL) for the URLs a client is redirected to.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace onsen::storage::s3 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string region;
  std::string service = "s3";
  // Temporary credentials (STS) come with a token sent, signed, with every request.
  std::string session_token;
};

// What is signed: the method, the path as sent (already URI-encoded), the query parameters
// (decoded; encoded here), the headers to sign (any case; trimmed here) and the payload's hash
// (hex SHA-256, or "UNSIGNED-PAYLOAD"), which must also be in the headers as x-amz-content-sha256
// for S3.
struct SigningInput {
  std::string_view method;
  std::string_view encoded_path;
  const std::multimap<std::string, std::string>* query = nullptr;
  std::map<std::string, std::string> headers;
  std::string_view payload_hash;
  std::string_view amz_date;  // "20130524T000000Z", also sent as x-amz-date
};

// RFC 3986 unreserved characters stay, everything else is %XX (uppercase hex); '/' stays unless
// encode_slash (S3 object keys keep their slashes in the path, but not in query values).
std::string uri_encode(std::string_view s, bool encode_slash);

// The query string both signed and sent: pairs sorted by encoded key then value, "k=v&k2=v2".
std::string canonical_query(const std::multimap<std::string, std::string>& query);

std::string canonical_request(const SigningInput& in);
std::string string_to_sign(const Credentials& creds, const SigningInput& in);
// The hex signature and the whole Authorization header value.
std::string signature(const Credentials& creds, const SigningInput& in);
std::string authorization(const Credentials& creds, const SigningInput& in);

// The query string of a presigned URL (AWS's "Authenticating Requests: Using Query Parameters"):
// anyone holding it may make this one request (method on encoded_path at host) until
// `expires_seconds` after amz_date. Only the host header is signed, and the payload is
// UNSIGNED-PAYLOAD, so the client may add headers of its own (Range). A session token travels as
// X-Amz-Security-Token, signed with the rest.
std::string presigned_query(const Credentials& creds, std::string_view method,
                            std::string_view encoded_path, std::string_view host,
                            std::string_view amz_date, uint64_t expires_seconds);

// Hex SHA-256 of data (the payload hash).
std::string sha256_hex(std::string_view data);
// "YYYYMMDDTHHMMSSZ" of the current UTC time.
std::string amz_date_now();

}  // namespace onsen::storage::s3
