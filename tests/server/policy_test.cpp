#include "server/policy.h"

#include <gtest/gtest.h>

namespace ward::server {
namespace {

// A backend that records what it was sent and answers with a script: "ECHO" repeats the last
// user message back, split into 3-byte pieces (so surrogates are split across pieces).
class FakeBackend : public llm::Backend {
  public:
    explicit FakeBackend(std::string kind) {
        info_.name = "fake";
        info_.backend = kind;
    }
    const llm::ModelInfo& info() const override { return info_; }
    Result<llm::Generation> generate(const llm::Request& r, const llm::PieceCallback& cb) override {
        ++calls;
        seen = r;
        llm::Generation g;
        g.model = "fake";
        std::string text = r.messages.empty() ? *r.prompt : r.messages.back().content;
        for (size_t i = 0; i < text.size(); i += 3) {
            llm::Piece p;
            p.text = text.substr(i, 3);
            if (cb && !cb(p)) break;
        }
        g.text = text;
        return g;
    }
    size_t count_tokens(std::string_view t) const override { return t.size(); }
    bool ready() const override { return true; }
    int active() const override { return 0; }
    int waiting() const override { return 0; }

    llm::ModelInfo info_;
    llm::Request seen;
    int calls = 0;
};

std::unique_ptr<deid::Deidentifier> make_deid() {
    deid::DeidentifierOptions o;
    o.secret = std::vector<uint8_t>(32, 7);
    auto d = deid::Deidentifier::create(o);
    EXPECT_TRUE(d.ok());
    return std::move(*d);
}

const char* kNote =
    "Patient John Smith (MRN 4455667) was seen on 03/14/2021 at Boston General Hospital. "
    "Call 617-555-0199.";

TEST(PrivacyDecision, Table) {
    auto d = decide_privacy(/*remote=*/true, /*sees_phi=*/true);
    EXPECT_TRUE(d.deidentify_input);
    EXPECT_TRUE(d.reidentify_output);
    d = decide_privacy(true, false);
    EXPECT_TRUE(d.deidentify_input);
    EXPECT_FALSE(d.reidentify_output);
    d = decide_privacy(false, true);
    EXPECT_FALSE(d.deidentify_input);
    EXPECT_FALSE(d.reidentify_output);
    d = decide_privacy(false, false);
    EXPECT_TRUE(d.deidentify_input);
    EXPECT_FALSE(d.reidentify_output);
}

TEST(Reidentifier, RestoresSurrogatesSplitAcrossPieces) {
    Reidentifier r({{"Alice Jones", "John Smith", deid::Category::kName},
                    {"Alice", "John", deid::Category::kName}});
    std::string out;
    for (std::string_view piece : {"Dear Al", "ice J", "ones and Ali", "ce; Alic", "eX"}) {
        out += r.push(piece);
    }
    out += r.flush();
    EXPECT_EQ(out, "Dear John Smith and John; AliceX");
    EXPECT_EQ(r.apply("Alice."), "John.");
    EXPECT_EQ(r.apply("Alice"), "John");
    EXPECT_EQ(r.apply("Malice"), "Malice");
}

TEST(PolicyBackend, RemoteBackendNeverSeesPhiAndClinicianGetsItBack) {
    auto deid = make_deid();
    FakeBackend remote("remote");
    PrivacyStats stats;
    PolicyBackend policy(remote, *deid, decide_privacy(true, true), &stats);
    llm::Request req;
    req.messages = {{"user", kNote}};
    std::string streamed;
    auto g = policy.generate(req, [&](const llm::Piece& p) {
        streamed += p.text;
        return true;
    });
    ASSERT_TRUE(g.ok()) << g.status().message();
    const std::string& sent = remote.seen.messages[0].content;
    for (const char* phi : {"John", "Smith", "4455667", "03/14/2021", "617-555-0199"}) {
        EXPECT_EQ(sent.find(phi), std::string::npos) << phi << " reached the remote backend";
    }
    EXPECT_EQ(g->text, kNote);
    EXPECT_EQ(streamed, kNote);
    EXPECT_EQ(stats.requests_deidentified.load(), 1u);
    EXPECT_GT(stats.spans[static_cast<size_t>(deid::Category::kName)].load(), 0u);
}

TEST(PolicyBackend, ResearcherGetsSurrogatesOnly) {
    auto deid = make_deid();
    FakeBackend local("local");
    PolicyBackend policy(local, *deid, decide_privacy(false, false));
    llm::Request req;
    req.messages = {{"user", kNote}};
    auto g = policy.generate(req, {});
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->text.find("John Smith"), std::string::npos);
    EXPECT_EQ(g->text, local.seen.messages[0].content);
}

TEST(PolicyBackend, ClinicianOnLocalIsUntouched) {
    auto deid = make_deid();
    FakeBackend local("local");
    PolicyBackend policy(local, *deid, decide_privacy(false, true));
    llm::Request req;
    req.messages = {{"user", kNote}};
    auto g = policy.generate(req, {});
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(local.seen.messages[0].content, kNote);
}

TEST(PolicyBackend, KnownIdentifiersNeverLeaveEvenWhenTheDetectorMissesThem) {
    auto deid = make_deid();
    FakeBackend remote("remote");
    PolicyBackend policy(remote, *deid, decide_privacy(true, true));
    policy.scope().add_known("Bibi254 Schowalter414", "[PATIENT NAME]");
    policy.scope().add_known("Bibi254", "[PATIENT GIVEN NAME]");
    policy.scope().add_known("475d72ca-91c7", "[PATIENT ID]");
    const std::string note =
        "Bibi254 Schowalter414 (id 475d72ca-91c7) came in; Bibi254 is well. "
        "Bibi2540 is someone else.";
    llm::Request req;
    req.messages = {{"user", note}};
    std::string streamed;
    auto g = policy.generate(req, [&](const llm::Piece& p) {
        streamed += p.text;
        return true;
    });
    ASSERT_TRUE(g.ok());
    const std::string& sent = remote.seen.messages[0].content;
    EXPECT_EQ(sent.find("Bibi254 "), std::string::npos) << sent;
    EXPECT_EQ(sent.find("475d72ca"), std::string::npos) << sent;
    EXPECT_NE(sent.find("[PATIENT NAME]"), std::string::npos) << sent;
    EXPECT_EQ(g->text, note);
    EXPECT_EQ(streamed, note);
}

TEST(PolicyBackend, FailsClosedWhenDeidentificationFails) {
    auto deid = make_deid();
    FakeBackend remote("remote");
    PrivacyStats stats;
    PolicyBackend policy(remote, *deid, decide_privacy(true, true), &stats);
    llm::Request req;
    req.messages = {{"user", std::string("John Smith \xff\xfe")}};
    auto g = policy.generate(req, {});
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(remote.calls, 0) << "nothing may be sent when de-identification fails";
    EXPECT_EQ(stats.failures.load(), 1u);
}

}  // namespace
}  // namespace ward::server
