// `scn pki`: a private CA for scn's TLS (see common/tls/pki.h).
//   scn pki init   --dir D [--key-type ec|rsa] [--cn NAME] [--days N] [--force]
//   scn pki issue  --dir D --name N [--san DNS:localhost,IP:127.0.0.1]
//                  [--client] [--node-id UUID] [--key-type ec|rsa] [--days N]
//   scn pki verify --dir D --cert FILE [--client]
// Returns a process exit code (0 ok, 1 failure, 2 usage).
#pragma once

namespace scn::tls {

int pki_main(int argc, char** argv);

}  // namespace scn::tls
