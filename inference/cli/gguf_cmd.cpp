// PLACEHOLDER until its owner replaces it.
#include <cstdio>
#include "inference/cli/commands.h"
namespace scn::inference {
int gguf_main(int, char**) { std::fprintf(stderr, "not built yet\n"); return 1; }
}  // namespace scn::inference
