#include "common/tls/pki_cli.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/tls/pki.h"

namespace scn::tls {
namespace {

constexpr const char* kUsage =
    "usage: scn pki <init|issue|verify> [options]\n"
    "  init    create a private CA in --dir (ca.crt, ca.key)\n"
    "  issue   issue a server (or --client) certificate signed by that CA\n"
    "  verify  check a certificate against the CA\n"
    "`scn pki <subcommand> --help` describes its options.\n";

int fail(const Status& status) {
  std::fprintf(stderr, "scn pki: %s\n", status.message().c_str());
  return status.code() == Code::kInvalidArgument ? 2 : 1;
}

// Parses; returns -1 to continue, else the exit code.
int parse(common::OptionSet& options, int argc, char** argv) {
  auto outcome = options.parse(argc, argv);
  if (!outcome) return fail(outcome.status());
  return *outcome == common::OptionSet::Outcome::kHelp ? 0 : -1;
}

int init_main(int argc, char** argv) {
  CaOptions ca;
  std::string key_type = "ec";
  int days = ca.days;
  common::OptionSet options("scn pki init", "Create a private CA (ca.crt, ca.key mode 0600).");
  options.add("dir", &ca.dir, "directory for the CA files").require("dir");
  options.add("key-type", &key_type, "ec (P-256) or rsa (2048 bits)");
  options.add("cn", &ca.common_name, "the CA's common name");
  options.add("days", &days, "validity in days");
  options.flag("force", &ca.overwrite, "overwrite an existing CA");
  if (int rc = parse(options, argc, argv); rc >= 0) return rc;
  auto type = parse_key_type(key_type);
  if (!type) return fail(type.status());
  ca.key_type = *type;
  ca.days = days;
  auto files = init_ca(ca);
  if (!files) return fail(files.status());
  std::printf("CA certificate: %s\nCA key:         %s\n", files->cert_path.c_str(),
              files->key_path.c_str());
  return 0;
}

int issue_main(int argc, char** argv) {
  IssueOptions issue;
  std::string key_type = "ec";
  std::vector<std::string> sans;
  common::OptionSet options("scn pki issue", "Issue a certificate signed by the CA in --dir.");
  options.add("dir", &issue.dir, "the CA's directory (also where the files go)").require("dir");
  options.add("name", &issue.name, "file stem and common name").require("name");
  options.add("san", &sans, "subject alternative names, e.g. DNS:localhost,IP:127.0.0.1 (repeatable)");
  options.flag("client", &issue.client, "a client certificate (clientAuth) instead of a server one");
  options.add("node-id", &issue.node_id, "bind the certificate to this node (SAN URI scn:node:<uuid>)");
  options.add("key-type", &key_type, "ec (P-256) or rsa (2048 bits)");
  options.add("days", &issue.days, "validity in days");
  if (int rc = parse(options, argc, argv); rc >= 0) return rc;
  auto type = parse_key_type(key_type);
  if (!type) return fail(type.status());
  issue.key_type = *type;
  issue.sans = sans;
  auto files = issue_cert(issue);
  if (!files) return fail(files.status());
  std::printf("certificate: %s\nkey:         %s\n", files->cert_path.c_str(), files->key_path.c_str());
  return 0;
}

int verify_main(int argc, char** argv) {
  std::string dir, cert;
  bool client = false;
  common::OptionSet options("scn pki verify", "Verify a certificate against the CA in --dir.");
  options.add("dir", &dir, "the CA's directory").require("dir");
  options.add("cert", &cert, "the certificate to check").require("cert");
  options.flag("client", &client, "check it as a client certificate");
  if (int rc = parse(options, argc, argv); rc >= 0) return rc;
  Status status = verify_cert_file(dir + "/ca.crt", cert, client);
  if (!status.is_ok()) return fail(status);
  std::printf("%s: OK\n", cert.c_str());
  return 0;
}

}  // namespace

int pki_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string sub = argv[1];
  if (sub == "init") return init_main(argc - 1, argv + 1);
  if (sub == "issue") return issue_main(argc - 1, argv + 1);
  if (sub == "verify") return verify_main(argc - 1, argv + 1);
  std::fprintf(stderr, "scn pki: unknown subcommand '%s'\n%s", sub.c_str(), kUsage);
  return 2;
}

}  // namespace scn::tls
