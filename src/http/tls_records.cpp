// can_seal and seal_records (see tls_records.h).
#include "http/tls_records.h"

#include <openssl/bio.h>
#include <openssl/err.h>

namespace onsen::http::detail {

namespace {

// The sink: a write-only BIO appending everything OpenSSL writes to the std::string in its data.
int sink_write(BIO* bio, const char* data, int len) {
  static_cast<std::string*>(BIO_get_data(bio))->append(data, static_cast<size_t>(len));
  return len;
}

long sink_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int sink_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* sink_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "onsen record sink");
    if (m && (BIO_meth_set_write(m, sink_write) != 1 || BIO_meth_set_ctrl(m, sink_ctrl) != 1 ||
              BIO_meth_set_create(m, sink_create) != 1)) {
      BIO_meth_free(m);
      m = nullptr;
    }
    ERR_clear_error();
    return m;
  }();
  return method;
}

}  // namespace

bool can_seal(SSL* ssl) {
  BIO* wire = SSL_get_wbio(ssl);
  return sink_method() != nullptr && wire != nullptr && SSL_is_init_finished(ssl) &&
         SSL_want(ssl) == SSL_NOTHING && BIO_wpending(wire) == 0;
}

bool seal_records(SSL* ssl, std::span<const std::string_view> pieces, std::string& out) {
  BIO* sink = BIO_new(sink_method());
  if (!sink) {
    ERR_clear_error();
    return false;
  }
  BIO_set_data(sink, &out);
  BIO* wire = SSL_get_wbio(ssl);
  // SSL_set0_wbio frees the BIO it replaces: this reference keeps asio's alive meanwhile, and is
  // handed back to the SSL object with it.
  BIO_up_ref(wire);
  SSL_set0_wbio(ssl, sink);
  bool ok = true;
  for (std::string_view piece : pieces) {
    while (ok && !piece.empty()) {
      size_t written = 0;
      ok = SSL_write_ex(ssl, piece.data(), piece.size(), &written) == 1;
      piece.remove_prefix(written);
    }
  }
  SSL_set0_wbio(ssl, wire);  // frees the sink
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace onsen::http::detail
