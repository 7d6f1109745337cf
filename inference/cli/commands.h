// Entry points of the engine's subcommands of the `scn` binary. Each takes
// the arguments after the subcommand name (argv[0] is the subcommand) and
// returns the process exit code; usage errors print help and return 2.
#pragma once

namespace scn::inference {

int gguf_main(int argc, char** argv);   // scn gguf info|quantize|synth|import-tokenizer
int run_main(int argc, char** argv);    // scn run --model F [--prompt P | --chat]
int infer_main(int argc, char** argv);  // scn infer --model F --port P

}  // namespace scn::inference
