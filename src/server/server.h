// The HTTP server (cpp-httplib): the OpenAI-compatible API, de-identification, patients and
// their context and summary, CDS Hooks 2.0, health, readiness and metrics. Every route is
// listed in one table in server.cpp with who may call it; docs/api.md documents each.
//
// Every request passes through one wrapper: authenticate (API key, or a CDS Hooks JWT), check
// the caller's role, run the handler, answer errors as JSON ({"error": {...}}, OpenAI's shape),
// append one audit record, count it in the metrics. Every generation goes through the privacy
// policy (server/policy.h). Generation requests are admitted per model up to its slots plus
// server.queue_depth; beyond that they get 429 with Retry-After.
//
// Thread safety: start() and drain() are for the owning thread; handlers run on the HTTP
// server's worker threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "server/settings.h"

namespace ward::server {

class Server {
  public:
    // Opens the stores under settings.data_dir (created if missing), loads the models of the
    // config and the de-identification secret (created on first start). Errors: config,
    // model-load and store errors, with their messages.
    static Result<std::unique_ptr<Server>> create(const Config& config, ServerSettings settings);
    ~Server();

    // Binds (server.host, server.port; port 0 picks a free one) and serves on a background
    // thread; also starts the MLLP listener when mllp.port is set. Errors: kUnavailable when the
    // address cannot be bound.
    Status start();
    int port() const;
    int mllp_port() const;

    // Stops admitting generations (503, readyz fails), waits up to drain_timeout for the
    // requests in flight, cancels the rest, then stops the listener. Idempotent.
    void drain();
    // Blocks until the server has stopped (after drain()).
    void wait();

  private:
    struct Impl;
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace ward::server
