// MLLP (Minimal Lower Layer Protocol) for HL7 v2 feeds that interface engines push: a TCP
// listener that reads frames (0x0B message 0x1C 0x0D), hands each message to a handler and
// writes back the handler's ACK in the same framing. Bytes outside frames are ignored; a frame
// larger than the limit is answered AR and the connection closed; a peer that disconnects
// mid-message loses only that partial message and the listener carries on.
//
// Also here: handle_hl7_message(), the standard handler that parses, maps and stores a message
// and returns its ACK (AA stored; AE with the reason when the content is wrong; AR when the
// message cannot be read or its type or version is not supported).
//
// Thread safety: the server runs an accept thread and one thread per connection; the handler
// is called with a lock held, one message at a time, so it may use a single PatientStore.
// start() and stop() are for the owning thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "interop/hl7.h"
#include "interop/store.h"

namespace ward::interop {

struct MllpOptions {
    std::string host = "127.0.0.1";  // the address to bind; "0.0.0.0" for every interface
    uint16_t port = 0;               // 0: an ephemeral port (see MllpServer::port())
    size_t max_message_bytes = size_t{16} << 20;
    size_t max_connections = 64;          // further connections are closed at once
    int idle_timeout_ms = 5 * 60 * 1000;  // a connection silent this long is closed
};

// Takes one message (without framing) and the peer's address; returns the ACK (without
// framing). Called one message at a time.
using MllpHandler = std::function<std::string(std::string_view message, const std::string& peer)>;

class MllpServer {
  public:
    // Binds and listens, then accepts on a background thread. Errors: kUnavailable when the
    // address cannot be bound (in use, not permitted), kInvalidArgument for a bad host.
    static Result<std::unique_ptr<MllpServer>> start(const MllpOptions& options,
                                                     MllpHandler handler);
    ~MllpServer();  // stop()s
    MllpServer(const MllpServer&) = delete;
    MllpServer& operator=(const MllpServer&) = delete;

    uint16_t port() const { return port_; }
    // Stops accepting, closes every connection and joins the threads. Idempotent.
    void stop();
    size_t messages_handled() const { return n_messages_.load(); }
    size_t connections_accepted() const { return n_connections_.load(); }

  private:
    MllpServer(const MllpOptions& options, MllpHandler handler)
        : options_(options), handler_(std::move(handler)) {}
    void accept_loop();
    void serve(int fd, std::string peer);

    struct Connection {
        std::thread thread;
        std::atomic<bool> done{false};
    };
    MllpOptions options_;
    MllpHandler handler_;
    std::mutex handler_mutex_;
    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<size_t> n_messages_{0}, n_connections_{0};
    std::thread accept_thread_;
    std::mutex connections_mutex_;
    std::list<std::unique_ptr<Connection>> connections_;
};

// The standard handler: parses `raw`, checks type and version (2.3 to 2.8), maps it and
// stores the record; returns the ACK. `now` is the ACK's timestamp (YYYYMMDDHHMMSS). `result`,
// when not null, receives what was decided (for logging and tests).
std::string handle_hl7_message(std::string_view raw, PatientStore& store, std::string_view origin,
                               std::string_view now, AckInfo* result = nullptr);

// Wraps a message in MLLP framing.
std::string mllp_frame(std::string_view message);

}  // namespace ward::interop
