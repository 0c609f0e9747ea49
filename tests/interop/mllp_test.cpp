#include "interop/mllp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "test_util.h"

namespace ward::interop {
namespace {

int connect_to(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Reads one MLLP frame (waits up to 10 s); "" on timeout or close.
std::string read_frame(int fd) {
    std::string buf;
    char c;
    while (true) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0) return "";
        if (::recv(fd, &c, 1, 0) != 1) return "";
        buf += c;
        if (buf.size() >= 2 && buf[buf.size() - 2] == '\x1c' && buf.back() == '\r') break;
    }
    EXPECT_EQ(buf.front(), '\x0b');
    return buf.substr(1, buf.size() - 3);
}

void send_str(int fd, std::string_view s) {
    ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

std::string msa(const std::string& ack) {
    size_t p = ack.find("\rMSA|");
    return p == std::string::npos ? "" : ack.substr(p + 1, ack.find('\r', p + 1) - p - 1);
}

class MllpTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto s = PatientStore::open(":memory:");
        ASSERT_TRUE(s) << s.error().to_string();
        store_ = std::make_unique<PatientStore>(std::move(*s));
        auto server = MllpServer::start({}, [this](std::string_view m, const std::string& peer) {
            return handle_hl7_message(m, *store_, "mllp:" + peer, "20260101000000");
        });
        ASSERT_TRUE(server) << server.error().to_string();
        server_ = std::move(*server);
        ASSERT_NE(server_->port(), 0);
    }
    std::unique_ptr<PatientStore> store_;
    std::unique_ptr<MllpServer> server_;
};

TEST_F(MllpTest, AcknowledgesGoodAndBadMessagesOverTcp) {
    int fd = connect_to(server_->port());
    ASSERT_GE(fd, 0);
    std::string good = testing::slurp(testing::shared_data() + "/hl7v2/simhospital-2.hl7");
    send_str(fd, mllp_frame(good));
    std::string ack = read_frame(fd);
    EXPECT_TRUE(ack.starts_with("MSH|^~\\&|RAPP|RFAC|SIMHOSP|SFAC|20260101000000||ACK^R01^ACK|"))
        << ack;
    EXPECT_EQ(msa(ack), "MSA|AA|2");

    // Content error: AE with the reason.
    send_str(fd, mllp_frame("MSH|^~\\&|A|B|C|D|20200101||ADT^A01|E1|P|2.5\r"
                            "PID|1||42^^^H^MR||Doe||19851340|M\r"));
    ack = read_frame(fd);
    EXPECT_EQ(msa(ack),
              "MSA|AE|E1|hl7: PID-7 (date of birth) \"19851340\" is not a date "
              "(segment 2)");
    EXPECT_NE(ack.find("ERR|||102^"), std::string::npos);

    // Unreadable: AR with the reason.
    send_str(fd, mllp_frame("MSH|^^\\&|A|B|C|D|20200101||ADT^A01|R1|P|2.5\rPID|1\r"));
    ack = read_frame(fd);
    EXPECT_TRUE(msa(ack).starts_with("MSA|AR|R1|hl7: MSH-2 encoding characters")) << ack;

    // Unsupported type: AR 200.
    send_str(fd, mllp_frame("MSH|^~\\&|A|B|C|D|20200101||ADT^A02|R2|P|2.5\rPID|1||42\r"));
    ack = read_frame(fd);
    EXPECT_EQ(msa(ack), "MSA|AR|R2|hl7: unsupported message type ADT\\S\\A02");
    EXPECT_NE(ack.find("ERR|||200^"), std::string::npos);
    ::close(fd);

    auto rec = store_->get("3463070384");
    ASSERT_TRUE(rec) << rec.error().to_string();
    EXPECT_EQ(rec->observations.size(), 4u);
    EXPECT_EQ(rec->observations[0].sources[0].origin.substr(0, 15), "mllp:127.0.0.1:");
    EXPECT_FALSE(store_->get("42"));
}

TEST_F(MllpTest, SurvivesPeerDisconnectingMidMessage) {
    int fd = connect_to(server_->port());
    ASSERT_GE(fd, 0);
    std::string good = testing::slurp(testing::shared_data() + "/hl7v2/simhospital-1.hl7");
    std::string framed = mllp_frame(good);
    send_str(fd, framed.substr(0, framed.size() / 2));  // half a message, then gone
    ::close(fd);

    // The listener still serves a new connection, with a message split across writes.
    int fd2 = connect_to(server_->port());
    ASSERT_GE(fd2, 0);
    send_str(fd2, "junk between frames");
    send_str(fd2, framed.substr(0, 10));
    send_str(fd2, framed.substr(10));
    std::string ack = read_frame(fd2);
    EXPECT_EQ(msa(ack), "MSA|AA|1");
    ::close(fd2);
    auto rec = store_->get("2338887614");
    ASSERT_TRUE(rec) << rec.error().to_string();
    EXPECT_EQ(rec->encounters.size(), 1u);
    server_->stop();
    EXPECT_EQ(server_->messages_handled(), 1u);
    EXPECT_EQ(server_->connections_accepted(), 2u);
}

TEST(Mllp, OversizedMessageIsRejected) {
    MllpOptions o;
    o.max_message_bytes = 1000;
    auto server = MllpServer::start(o, [](std::string_view, const std::string&) { return "X"; });
    ASSERT_TRUE(server);
    int fd = connect_to((*server)->port());
    ASSERT_GE(fd, 0);
    send_str(fd, "\x0bMSH|^~\\&|A|B|C|D|x||ADT^A01|BIG|P|2.5\r" + std::string(2000, 'x'));
    std::string ack = read_frame(fd);
    EXPECT_EQ(msa(ack), "MSA|AR|BIG|message larger than 1000 bytes");
    ::close(fd);
}

}  // namespace
}  // namespace ward::interop
