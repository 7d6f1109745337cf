// `scn bench ...`: benchmarks that print figures (never pass/fail).
#pragma once

namespace scn::bench {

int bench_main(int argc, char** argv);  // scn bench infer|serve|membw|scheduler ...

}  // namespace scn::bench
