// `scn up`: the whole platform on one machine for a first look (PostgreSQL
// and Redis under ./var, a scheduler, a broker, agents of three simulated
// centers, the demo catalog, accounts and a stories260K service).
#pragma once

namespace scn::broker {

int up_main(int argc, char** argv);

}  // namespace scn::broker
