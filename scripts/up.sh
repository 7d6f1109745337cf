#!/usr/bin/env bash
# The newcomer's first command: installs what is missing, builds, and starts
# what scn can run today on this machine — `scn infer` serving the real
# stories260K model on http://127.0.0.1:${SCN_PORT:-8080} — and prints a curl
# command that works as printed. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${SCN_BUILD_DIR:-build}
MODEL=${SCN_MODEL:-../shared/models/stories260K.gguf}
PORT=${SCN_PORT:-8080}
cat <<MSG

scn infer is starting on http://127.0.0.1:${PORT} with ${MODEL}
Try, in another terminal:

  curl -s http://127.0.0.1:${PORT}/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "stories260K", "messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 64}'

  curl -sN http://127.0.0.1:${PORT}/v1/completions -H 'Content-Type: application/json' \\
    -d '{"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 64, "temperature": 0, "stream": true}'

MSG
exec "$BUILD_DIR/scn" infer --model "$MODEL" --alias stories260K --host 127.0.0.1 --port "$PORT"
