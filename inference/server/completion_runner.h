// Runs one parsed completion request against the engine and answers it on
// an http::Response, complete or as an SSE stream.
//
// Contract:
//  - The n choices run concurrently (seed + i each, see choice_seed()), one
//    generate() call per choice on its own thread, so that engine v2 batches
//    them and shares the prompt's KV blocks; their stream chunks interleave
//    (each carries its choice index). The handler's thread writes the stream
//    and watches the client: when the client goes away (or a write fails)
//    the request's cancel flag is set, also while the request is still
//    queued in the engine, and nothing more is sent. A choice that fails
//    cancels the others and the request fails with its error.
//  - Errors before anything was sent are complete JSON error answers: the
//    queue is full -> 429 with `Retry-After: 1`, prompt + 1 > n_ctx -> 400 with code
//    "context_length_exceeded", invalid token ids -> 400, anything else ->
//    500. An error after the stream started is sent as one SSE event
//    `data: {"error": ...}` and the stream ends without [DONE].
//  - A stream starts when the first token of any choice arrives (so a
//    full queue can still be answered 429), with Content-Type
//    text/event-stream. Chat: each choice's first chunk carries role
//    "assistant" and empty content; then content chunks; then a chunk with
//    an empty delta and the finish_reason. Completions: text chunks, then one
//    with empty text and the finish_reason. With include_usage a usage chunk
//    (choices: []) follows; the last event is always `data: [DONE]`.
//  - Usage: prompt_tokens counts the prompt once, completion_tokens sums the
//    generated tokens of all choices (tokens of a matched stop string
//    included, as they were generated); cached_tokens is the smallest
//    GenerateResult::cached_prompt_tokens of the choices (the prompt is
//    counted once).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/http/server.h"
#include "common/status.h"
#include "inference/engine/engine.h"
#include "inference/server/choice_builder.h"
#include "inference/server/openai_api.h"

namespace scn::inference {

// What a run needs from the engine (an Engine in the server, fakes in tests).
struct GenerationBackend {
  std::function<Result<GenerateResult>(const GenerateRequest&, const TokenCallback&)> generate;
  PieceFn piece;  // raw bytes of a token
  int n_ctx = 0;
};

// Timing observations, for metrics. Every field may be empty.
struct RunObserver {
  std::function<void(double seconds)> first_token;     // request start -> first token
  std::function<void(double seconds)> token_interval;  // between consecutive tokens
  std::function<void(const Usage& usage, double seconds)> finished;  // successful answers
};

// The error answer of an engine failure (see the contract).
ApiError engine_error(const Status& status, std::string_view prompt_param);

// Answers `req` (prompt already tokenized) on `resp`; returns the HTTP status
// of the answer (200 also for a stream that broke off; 499 when the client
// went away before an answer could be sent).
int run_completion(const CompletionRequest& req, const std::vector<int32_t>& prompt,
                   const ResponseMeta& meta, const GenerationBackend& backend,
                   http::Response& resp, const RunObserver& observer = {});

}  // namespace scn::inference
