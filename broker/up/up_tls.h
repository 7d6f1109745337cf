// TLS for `scn up` (on unless --no-tls): a private CA in <var>/pki and the
// certificates of the platform's processes, all for 127.0.0.1/localhost.
//
// Contract:
//  - prepare_up_tls(var) creates <var>/pki/ca.{crt,key} on the first run
//    (reused afterwards, so clients keep trusting it) and issues fresh
//    server certificates broker, scheduler and worker (SANs DNS:localhost,
//    IP:127.0.0.1) signed by it on every run.
//  - Agents authenticate to the scheduler with their node secret over
//    server-authenticated TLS; their client certificates cannot be bound to
//    their node ids before they registered (the id is the scheduler's
//    answer), so `scn up` issues them none. The scheduler still verifies
//    client certificates against this CA when presented (--tls-client-ca),
//    so a bound certificate issued later (scn pki issue --client --node-id)
//    works without restarting it.
#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"

namespace scn::broker {

struct UpTls {
  std::string ca;  // <var>/pki/ca.crt: what clients trust (curl --cacert)
  std::string broker_cert, broker_key;
  std::string scheduler_cert, scheduler_key;
  std::string worker_cert, worker_key;
};

Result<UpTls> prepare_up_tls(const std::filesystem::path& var);

}  // namespace scn::broker
