#include "broker/up/up_tls.h"

#include "common/tls/pki.h"

namespace scn::broker {

Result<UpTls> prepare_up_tls(const std::filesystem::path& var) {
  const std::string dir = (var / "pki").string();
  std::error_code ec;
  UpTls t;
  t.ca = dir + "/ca.crt";
  if (!std::filesystem::exists(t.ca, ec)) {
    tls::CaOptions ca;
    ca.dir = dir;
    ca.common_name = "scn up private CA";
    SCN_RETURN_IF_ERROR(tls::init_ca(ca).status());
  }
  auto issue = [&](const std::string& name, std::string& cert, std::string& key) -> Status {
    tls::IssueOptions o;
    o.dir = dir;
    o.name = name;
    o.sans = {"DNS:localhost", "IP:127.0.0.1"};
    SCN_ASSIGN_OR_RETURN(tls::IssuedFiles files, tls::issue_cert(o));
    cert = files.cert_path;
    key = files.key_path;
    return Status::ok();
  };
  SCN_RETURN_IF_ERROR(issue("broker", t.broker_cert, t.broker_key));
  SCN_RETURN_IF_ERROR(issue("scheduler", t.scheduler_cert, t.scheduler_key));
  SCN_RETURN_IF_ERROR(issue("worker", t.worker_cert, t.worker_key));
  return t;
}

}  // namespace scn::broker
