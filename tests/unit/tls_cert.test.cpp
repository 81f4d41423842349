// net/tls_cert: the SIP/TLS certificate's files, found, checked or generated.

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/tls_cert.hpp"

using pbx::net::check_identity;
using pbx::net::prepare_identity;
using pbx::net::tls_identity;
using pbx::net::write_self_signed;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/tls-cert-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream{path, std::ios::binary} << text;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// The subjectAltName entries of a PEM certificate, as "IP:..." / "DNS:...".
std::string alt_names(const std::string& cert_file) {
  FILE* f = std::fopen(cert_file.c_str(), "r");
  REQUIRE(f);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(x);
  auto* names = static_cast<GENERAL_NAMES*>(
    X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  std::string out;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    auto* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out += "DNS:";
      out += reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName));
    } else if (n->type == GEN_IPADD && ASN1_STRING_length(n->d.iPAddress) == 4) {
      auto* b = ASN1_STRING_get0_data(n->d.iPAddress);
      out += "IP:" + std::to_string(b[0]) + "." + std::to_string(b[1]) + "."
             + std::to_string(b[2]) + "." + std::to_string(b[3]);
    }
    out += ";";
  }
  GENERAL_NAMES_free(names);
  X509_free(x);
  return out;
}

} // namespace

TEST_CASE("first start makes a self-signed certificate in DATA/tls, later starts reuse it") {
  temp_dir d;
  tls_identity id;
  REQUIRE(prepare_identity("", "", d.path, "127.0.0.1", id) == "");
  CHECK(id.generated);
  CHECK(id.cert_file == d.path + "/tls/cert.pem");
  CHECK(id.key_file == d.path + "/tls/key.pem");
  CHECK(id.subject == "CN = 127.0.0.1");
  CHECK_FALSE(id.expired);
  CHECK(mode_of(id.key_file) == 0600);
  CHECK(mode_of(id.cert_file) == 0644);
  CHECK(alt_names(id.cert_file) == "IP:127.0.0.1;");
  auto cert = slurp(id.cert_file), key = slurp(id.key_file);

  tls_identity again;
  REQUIRE(prepare_identity("", "", d.path, "127.0.0.1", again) == "");
  CHECK_FALSE(again.generated);
  CHECK(slurp(again.cert_file) == cert);
  CHECK(slurp(again.key_file) == key);
}

TEST_CASE("a host name goes into subjectAltName as DNS") {
  temp_dir d;
  REQUIRE(write_self_signed(d.path + "/c.pem", d.path + "/k.pem", "pbx.example.test", 30) == "");
  CHECK(alt_names(d.path + "/c.pem") == "DNS:pbx.example.test;");
  tls_identity id;
  REQUIRE(check_identity(d.path + "/c.pem", d.path + "/k.pem", id) == "");
  CHECK(id.subject == "CN = pbx.example.test");
}

TEST_CASE("generation never overwrites a file") {
  temp_dir d;
  spit(d.path + "/k.pem", "mine");
  CHECK(write_self_signed(d.path + "/c.pem", d.path + "/k.pem", "127.0.0.1", 30)
          .find("cannot create " + d.path + "/k.pem") == 0);
  CHECK(slurp(d.path + "/k.pem") == "mine");
  CHECK(::access((d.path + "/c.pem").c_str(), F_OK) != 0);
}

TEST_CASE("given files are used as they are, the key may sit in the certificate file") {
  temp_dir d;
  auto c = d.path + "/c.pem", k = d.path + "/k.pem", both = d.path + "/both.pem";
  REQUIRE(write_self_signed(c, k, "127.0.0.1", 30) == "");
  spit(both, slurp(c) + slurp(k));
  tls_identity id;
  REQUIRE(prepare_identity(c, k, d.path, "ignored", id) == "");
  CHECK_FALSE(id.generated);
  CHECK(id.key_file == k);
  REQUIRE(prepare_identity(both, "", d.path, "ignored", id) == "");
  CHECK(id.key_file == both);
  CHECK(::access((d.path + "/tls").c_str(), F_OK) != 0); // nothing generated
}

TEST_CASE("bad certificate files are refused with a one-line reason naming the file") {
  temp_dir d;
  auto c = d.path + "/c.pem", k = d.path + "/k.pem";
  REQUIRE(write_self_signed(c, k, "127.0.0.1", 30) == "");
  tls_identity id;

  SECTION("missing") {
    CHECK(check_identity(d.path + "/nope.pem", k, id)
          == "TLS certificate " + d.path + "/nope.pem: No such file or directory");
  }
  SECTION("garbage") {
    spit(d.path + "/g.pem", "not a certificate\n");
    CHECK(check_identity(d.path + "/g.pem", k, id)
          == "TLS certificate " + d.path + "/g.pem: no PEM certificate in it");
    CHECK(check_identity(c, d.path + "/g.pem", id)
          == "TLS key " + d.path + "/g.pem: no PEM private key in it");
  }
  SECTION("a key of another certificate") {
    REQUIRE(write_self_signed(d.path + "/c2.pem", d.path + "/k2.pem", "127.0.0.1", 30) == "");
    CHECK(check_identity(c, d.path + "/k2.pem", id)
          == "TLS key " + d.path + "/k2.pem does not belong to the certificate in " + c);
  }
  SECTION("an encrypted key") {
    spit(d.path + "/e.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
                            "-----END ENCRYPTED PRIVATE KEY-----\n");
    CHECK(check_identity(c, d.path + "/e.pem", id)
          == "TLS key " + d.path + "/e.pem: encrypted; give the key without a passphrase");
  }
  SECTION("half a generated pair in DATA/tls") {
    REQUIRE(prepare_identity("", "", d.path, "127.0.0.1", id) == "");
    REQUIRE(::unlink((d.path + "/tls/key.pem").c_str()) == 0);
    auto e = prepare_identity("", "", d.path, "127.0.0.1", id);
    CHECK(e.find(d.path + "/tls/key.pem is missing beside " + d.path + "/tls/cert.pem") == 0);
    CHECK(e.find('\n') == std::string::npos);
  }
}

TEST_CASE("an expired certificate loads but says so") {
  temp_dir d;
  REQUIRE(write_self_signed(d.path + "/c.pem", d.path + "/k.pem", "127.0.0.1", -2) == "");
  tls_identity id;
  REQUIRE(check_identity(d.path + "/c.pem", d.path + "/k.pem", id) == "");
  CHECK(id.expired);
}
