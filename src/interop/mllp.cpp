#include "interop/mllp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/crypto.h"
#include "common/log.h"

namespace ward::interop {

namespace {
constexpr char kStart = 0x0B;
constexpr char kEnd = 0x1C;
constexpr char kCr = 0x0D;

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}
}  // namespace

std::string mllp_frame(std::string_view message) {
    std::string out;
    out.reserve(message.size() + 3);
    out += kStart;
    out += message;
    out += kEnd;
    out += kCr;
    return out;
}

Result<std::unique_ptr<MllpServer>> MllpServer::start(const MllpOptions& options,
                                                      MllpHandler handler) {
    std::unique_ptr<MllpServer> s(new MllpServer(options, std::move(handler)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(options.port);
    if (::inet_pton(AF_INET, options.host.c_str(), &addr.sin_addr) != 1) {
        return invalid_argument("mllp: \"{}\" is not an IPv4 address", options.host);
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return unavailable("mllp: socket: {}", std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
        Status st = unavailable("mllp: cannot listen on {}:{}: {}", options.host, options.port,
                                std::strerror(errno));
        ::close(fd);
        return st;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    s->listen_fd_ = fd;
    s->port_ = ntohs(addr.sin_port);
    s->accept_thread_ = std::thread([p = s.get()] { p->accept_loop(); });
    logger("interop")->info("mllp: listening on {}:{}", options.host, s->port_);
    return s;
}

MllpServer::~MllpServer() {
    stop();
}

void MllpServer::stop() {
    if (stopping_.exchange(true)) return;
    if (accept_thread_.joinable()) accept_thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    std::lock_guard lock(connections_mutex_);
    for (auto& c : connections_) {
        if (c->thread.joinable()) c->thread.join();
    }
    connections_.clear();
}

void MllpServer::accept_loop() {
    while (!stopping_.load()) {
        pollfd p{listen_fd_, POLLIN, 0};
        int r = ::poll(&p, 1, 100);
        {
            std::lock_guard lock(connections_mutex_);
            for (auto it = connections_.begin(); it != connections_.end();) {
                if ((*it)->done.load()) {
                    (*it)->thread.join();
                    it = connections_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        if (r <= 0 || !(p.revents & POLLIN)) continue;
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (fd < 0) continue;
        char ip[INET_ADDRSTRLEN] = {0};
        ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        std::string name = fmt::format("{}:{}", ip, ntohs(peer.sin_port));
        std::lock_guard lock(connections_mutex_);
        if (connections_.size() >= options_.max_connections) {
            logger("interop")->warn("mllp: too many connections; closing {}", name);
            ::close(fd);
            continue;
        }
        ++n_connections_;
        auto c = std::make_unique<Connection>();
        Connection* raw = c.get();
        c->thread = std::thread([this, fd, name, raw] {
            serve(fd, name);
            raw->done.store(true);
        });
        connections_.push_back(std::move(c));
    }
}

void MllpServer::serve(int fd, std::string peer) {
    auto log = logger("interop");
    std::string buffer;
    bool in_frame = false;
    int idle_ms = 0;
    char chunk[65536];
    while (!stopping_.load()) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, 100);
        if (r == 0) {
            idle_ms += 100;
            if (idle_ms >= options_.idle_timeout_ms) {
                log->info("mllp: {} idle; closing", peer);
                break;
            }
            continue;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (in_frame && !buffer.empty()) {
                log->warn("mllp: {} disconnected mid-message ({} bytes discarded)", peer,
                          buffer.size());
            }
            break;
        }
        idle_ms = 0;
        bool close_now = false;
        for (ssize_t i = 0; i < n && !close_now; ++i) {
            char c = chunk[i];
            if (!in_frame) {
                if (c == kStart) {
                    in_frame = true;
                    buffer.clear();
                }
                continue;  // bytes between frames are ignored
            }
            if (c == kStart) {  // a new frame before the end: the old one was cut short
                log->warn("mllp: {} started a frame inside a frame; {} bytes discarded", peer,
                          buffer.size());
                buffer.clear();
                continue;
            }
            if (c == kEnd) {
                // The end block is 0x1C 0x0D; a lone 0x1C is accepted too (the 0x0D is
                // skipped as an inter-frame byte).
                in_frame = false;
                std::string ack;
                {
                    std::lock_guard lock(handler_mutex_);
                    ack = handler_(buffer, peer);
                }
                ++n_messages_;
                buffer.clear();
                if (!send_all(fd, mllp_frame(ack))) close_now = true;
                continue;
            }
            buffer += c;
            if (buffer.size() > options_.max_message_bytes) {
                AckInfo info{
                    AckCode::kReject,
                    fmt::format("message larger than {} bytes", options_.max_message_bytes), "207"};
                (void)send_all(fd, mllp_frame(make_ack(nullptr, buffer, info, "", "0")));
                log->warn("mllp: {} sent a message over the size limit; closing", peer);
                close_now = true;
            }
        }
        if (close_now) break;
    }
    ::close(fd);
}

std::string handle_hl7_message(std::string_view raw, PatientStore& store, std::string_view origin,
                               std::string_view now, AckInfo* result) {
    auto log = logger("interop");
    AckInfo info;
    std::string ack_id = "ACK" + crypto::sha256_hex(raw).substr(0, 12);
    auto msg = Hl7Message::parse(raw);
    std::string ack;
    if (!msg) {
        info = {AckCode::kReject, msg.error().message(), "102"};
        ack = make_ack(nullptr, raw, info, now, ack_id);
    } else {
        std::string_view version = msg->version();
        bool version_ok = version.size() >= 3 && version.substr(0, 2) == "2." &&
                          version[2] >= '3' && version[2] <= '8';
        if (!hl7_supported_type(msg->message_type(), msg->trigger())) {
            info = {AckCode::kReject,
                    fmt::format("hl7: unsupported message type {}^{}", msg->message_type(),
                                msg->trigger()),
                    "200"};
        } else if (!version_ok) {
            info = {AckCode::kReject,
                    fmt::format("hl7: unsupported version \"{}\" (2.3 to 2.8)", version), "203"};
        } else {
            ReadResult r = read_hl7_message(*msg, origin);
            if (!r.report.ok()) {
                info = {AckCode::kError, r.report.errors.front().message, "101"};
                if (info.text.find("is missing") == std::string::npos) info.error_code = "102";
            } else {
                Status s = store.put(std::move(r.patients));
                if (!s.ok()) {
                    info = {AckCode::kError, "could not store the message: " + s.message(), "207"};
                }
            }
        }
        ack = make_ack(&*msg, raw, info, now, ack_id);
    }
    // Ids and outcomes only: never message content.
    log->info("mllp: {} message {} from {}: {}", msg ? std::string(msg->message_type()) : "?",
              msg ? std::string(msg->control_id()) : "?", origin,
              info.code == AckCode::kAccept  ? "AA"
              : info.code == AckCode::kError ? "AE"
                                             : "AR");
    if (result) *result = info;
    return ack;
}

}  // namespace ward::interop
