#pragma once
// The certificate the SIP/TLS listener presents: found, checked, or made
// self-signed at first start. OpenSSL only (no libre, no CAF): it sits in net/
// beside the transport that uses it, and its unit test links it alone.

#include <string>

namespace pbx::net {

struct tls_identity {
  std::string cert_file;
  std::string key_file;
  bool generated = false; // written at this start: self-signed
  std::string subject;    // one line, for the log
  std::string not_after;  // e.g. "Dec  1 10:00:00 2036 GMT"
  bool expired = false;   // or not valid yet
};

/// Which files to use: `cert`/`key` when given (an empty `key` means the key is
/// in the `cert` file), else DATA/tls/cert.pem and DATA/tls/key.pem, generated
/// for `host` when neither exists. Then checks them (check_identity). Returns
/// an empty string, or why not in one line.
std::string prepare_identity(const std::string& cert, const std::string& key,
                             const std::string& data_dir, const std::string& host,
                             tls_identity& out);

/// Reads the first certificate of `cert_file` and the private key of
/// `key_file` and checks they belong together; fills the descriptive fields
/// of `out`. Returns an empty string, or why not in one line.
std::string check_identity(const std::string& cert_file, const std::string& key_file,
                           tls_identity& out);

/// Writes a new RSA 2048 key (mode 0600) and a self-signed certificate for
/// `host` (CN and subjectAltName; an IP address or a DNS name) valid for
/// `days`. Never overwrites a file. Returns an empty string, or why not.
std::string write_self_signed(const std::string& cert_file, const std::string& key_file,
                              const std::string& host, int days);

} // namespace pbx::net
