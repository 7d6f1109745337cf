// Handlers off the IO loop: a route's handler run on a worker (run_handler),
// and asynchronous routes (Server::route_async): the AsyncReply a handler
// answers through and the state it shares with the connection.
#include "common/http/server_internal.h"
#include "common/log.h"

namespace scn::http {

using detail::AsyncAnswer;
using detail::Op;

namespace detail {

namespace {
Op error_op(const Status& status) {
  Response r;
  error_response(r, status);
  return Op{Op::kComplete, r.status(), std::move(r.headers()), r.take_body()};
}
}  // namespace

AsyncAnswer::~AsyncAnswer() {
  if (!claim()) return;
  common::log_error("http: async handler for ", request.method, " ", request.path, " did not answer");
  conn_->answer_complete(error_op(Status::internal("the handler did not answer")));
}

void AsyncAnswer::set_cancel(std::function<void()> cancel) {
  bool run_now = false;
  {
    std::lock_guard lock(mu_);
    if (went_) run_now = true;
    else cancel_ = std::move(cancel);
  }
  if (run_now && cancel) cancel();
}

void AsyncAnswer::client_went() {
  std::function<void()> cancel;
  {
    std::lock_guard lock(mu_);
    if (went_) return;
    went_ = true;
    cancel.swap(cancel_);
  }
  if (cancel) cancel();
}

void run_handler(const std::shared_ptr<Connection>& conn, const Handler& handler, const Request& request) {
  Response response(std::static_pointer_cast<ResponseChannel>(conn));
  bool threw = false;
  try {
    handler(request, response);
  } catch (const std::exception& e) {
    common::log_error("http: handler for ", request.method, " ", request.path, " threw: ", e.what());
    threw = true;
  } catch (...) {
    common::log_error("http: handler for ", request.method, " ", request.path, " threw");
    threw = true;
  }
  if (response.streaming()) {
    if (threw) conn->submit(Op{Op::kAbort, 0, {}, {}}, true);
    else if (!response.ended()) conn->submit(Op{Op::kEnd, 0, {}, {}}, true);
    else conn->submit(Op{Op::kFinish, 0, {}, {}});
  } else {
    if (threw) error_response(response, Status::internal("the handler failed"));
    conn->submit(Op{Op::kComplete, response.status(), std::move(response.headers()), response.take_body()},
                 true);
  }
}

}  // namespace detail

AsyncReply::AsyncReply(std::shared_ptr<AsyncAnswer> answer) : answer_(std::move(answer)) {}

const Request& AsyncReply::request() const { return answer_->request; }

void AsyncReply::complete(Response& response) {
  if (!answer_->claim()) return;
  if (response.streaming()) {
    common::log_error("http: async handler for ", answer_->request.path, " completed a streaming response");
    error_response(response, Status::internal("the handler failed"));
  }
  answer_->connection().answer_complete(
      Op{Op::kComplete, response.status(), std::move(response.headers()), response.take_body()});
}

void AsyncReply::run_on_worker(Handler handler) {
  if (!answer_->claim()) return;
  if (!answer_->connection().answer_on_worker(std::move(handler), answer_)) {
    Response r;
    error_response(r, 503, "unavailable_error", "the server is busy");
    answer_->connection().answer_complete(Op{Op::kComplete, 503, std::move(r.headers()), r.take_body()});
  }
}

void AsyncReply::on_client_gone(std::function<void()> cancel) { answer_->set_cancel(std::move(cancel)); }

bool AsyncReply::client_gone() const { return answer_->connection().gone->load(std::memory_order_relaxed); }

}  // namespace scn::http
