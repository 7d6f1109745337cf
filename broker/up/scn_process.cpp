#include "broker/up/scn_process.h"

#include <csignal>

#include "broker/up/ports.h"
#include "broker/up/up_files.h"
#include "common/process/subprocess.h"

namespace scn::broker {

ScnProcess::ScnProcess(std::string name, std::string binary, std::vector<std::string> args,
                       std::filesystem::path log_path)
    : name_(std::move(name)),
      binary_(std::move(binary)),
      args_(std::move(args)),
      log_path_(std::move(log_path)) {}

ScnProcess::~ScnProcess() { stop(std::chrono::milliseconds(5000)); }

Status ScnProcess::start() {
  if (running()) return Status::conflict(name_ + " is running already");
  std::error_code ec;
  std::filesystem::create_directories(log_path_.parent_path(), ec);
  process::SpawnOptions o;
  o.argv.push_back(binary_);
  o.argv.insert(o.argv.end(), args_.begin(), args_.end());
  o.log_path = log_path_.string();
  o.env = env_;
  auto child = process::Subprocess::spawn(o);
  if (!child.is_ok()) return child.status().with_context("start " + name_);
  child_ = std::move(child).value();
  return Status::ok();
}

Status ScnProcess::start_listening(int port, std::chrono::milliseconds timeout) {
  SCN_RETURN_IF_ERROR(start());
  if (wait_listening(port, timeout, [this] { return running(); })) return Status::ok();
  const bool alive = running();
  if (alive) stop(std::chrono::milliseconds(2000));
  return Status::unavailable(
      name_ +
      (alive ? " did not listen on port " + std::to_string(port) + " in time" : " exited during start-up") +
      " (log " + log_path_.string() + "):\n" + log_tail(20));
}

int ScnProcess::stop(std::chrono::milliseconds grace) {
  if (!child_) return -1;
  int rc = child_->terminate(grace);
  child_.reset();
  return rc;
}

int ScnProcess::kill() {
  if (!child_) return -1;
  child_->signal(SIGKILL);
  auto rc = child_->wait_for(std::chrono::milliseconds(5000));
  child_.reset();
  return rc.value_or(-1);
}

void ScnProcess::signal(int signo) {
  if (child_) child_->signal(signo);
}

std::optional<int> ScnProcess::wait(std::chrono::milliseconds timeout) {
  if (!child_) return std::nullopt;
  return child_->wait_for(timeout);
}

bool ScnProcess::running() { return child_ && child_->running(); }

int ScnProcess::pid() const { return child_ ? child_->pid() : -1; }

std::string ScnProcess::log_tail(int lines) const { return tail_file(log_path_, lines); }

}  // namespace scn::broker
