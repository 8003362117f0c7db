// Encrypting a response body into TLS records in large batches, for the session's body writes.
//
// asio's ssl::stream moves one TLS record (at most 16 KiB of data) per write operation: one
// system call and one coroutine resumption per record, which is what bounds a single-stream TLS
// download. seal_records() instead encrypts many records at once into a buffer: for the duration
// of the call the SSL object's write BIO (asio's end of its BIO pair) is swapped for an in-memory
// sink and put back before it returns. The caller then writes the buffer to the socket under the
// TLS layer in one write. Records keep their order and sequence numbers: the SSL object is the
// same, only where its output goes changes.
//
// Use only between operations of the ssl::stream (none of its reads or writes in flight), and only
// when can_seal() says so.
#pragma once

#include <openssl/ssl.h>

#include <span>
#include <string>
#include <string_view>

namespace onsen::http::detail {

// True when records may be sealed outside the stream: the handshake is done, no operation is
// half-way (SSL_want), and the stream has no encrypted bytes it has not sent yet.
bool can_seal(SSL* ssl);

// Appends to `out` the TLS records that carry `pieces`, in order. False on an OpenSSL failure
// (the error queue is cleared; the connection must not be used further).
bool seal_records(SSL* ssl, std::span<const std::string_view> pieces, std::string& out);

}  // namespace onsen::http::detail
