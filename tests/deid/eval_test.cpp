#include <gtest/gtest.h>

#include "test_util.h"

namespace ward::deid {
namespace {

TEST(Eval, JsonlOffsetsAreCharacters) {
    // "Zoë" has a two-byte character: character offsets 9..13 are bytes 10..14
    auto docs =
        load_gold_jsonl(
            R"({"id":"a","text":"Zoë saw Dr. Lund.","spans":[{"start":12,"end":16,"category":"NAME"}]})",
            "t")
            .value();
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(
        docs[0].text.substr(docs[0].spans[0].start, docs[0].spans[0].end - docs[0].spans[0].start),
        "Lund");
    EXPECT_FALSE(load_gold_jsonl("{bad", "t").has_value());
}

TEST(Eval, I2b2Format) {
    std::string xml = R"(<?xml version="1.0" encoding="UTF-8" ?>
<deIdi2b2>
<TEXT><![CDATA[Record date: 2067-05-03
Mr. Hale is a nurse from Ohio.]]></TEXT>
<TAGS>
<DATE id="P0" start="13" end="23" text="2067-05-03" TYPE="DATE" comment="" />
<NAME id="P1" start="28" end="32" text="Hale" TYPE="PATIENT" comment="" />
<PROFESSION id="P2" start="38" end="43" text="nurse" TYPE="PROFESSION" comment="" />
<LOCATION id="P3" start="49" end="53" text="Ohio" TYPE="STATE" comment="" />
</TAGS>
</deIdi2b2>)";
    auto docs = load_gold_i2b2(xml, "x.xml").value();
    ASSERT_EQ(docs[0].spans.size(), 4u);
    EXPECT_EQ(docs[0].spans[1].category, "NAME");
    EXPECT_EQ(docs[0].spans[2].category, "");  // not scored
    auto r = evaluate(test::shared_deid(), docs).value();
    EXPECT_EQ(r.entity_overall.tp, 2);
    EXPECT_EQ(r.entity_overall.fn, 0);
    EXPECT_DOUBLE_EQ(r.token_overall.recall(), 1.0);
}

TEST(Eval, CountsMissesAndFalsePositives) {
    GoldDoc d{"d", "Dr. Okafor saw Xyzzy today", {{4, 10, "NAME"}, {15, 20, "NAME"}}};
    auto r = evaluate(test::shared_deid(), {d}).value();
    EXPECT_EQ(r.entity_overall.tp, 1);
    EXPECT_EQ(r.entity_overall.fn, 1);
    ASSERT_EQ(r.misses.size(), 1u);
    EXPECT_EQ(r.misses[0].text, "Xyzzy");
    EXPECT_NE(format_report(r, 5).find("[[Xyzzy]]"), std::string::npos);
}

}  // namespace
}  // namespace ward::deid
