#include "interop/hl7.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace ward::interop {
namespace {

std::string hl7_file(const std::string& name) {
    return testing::slurp(testing::shared_data() + "/hl7v2/" + name);
}

TEST(Hl7Shared, AdmissionA01) {
    std::string text = hl7_file("simhospital-1.hl7");
    ASSERT_FALSE(text.empty());
    auto msg = Hl7Message::parse(text);
    ASSERT_TRUE(msg) << msg.error().to_string();
    EXPECT_EQ(msg->message_type(), "ADT");
    EXPECT_EQ(msg->trigger(), "A01");
    EXPECT_EQ(msg->control_id(), "1");
    EXPECT_EQ(msg->version(), "2.3");
    EXPECT_EQ(msg->segments().size(), 6u);
    ReadResult r = read_hl7(text, "simhospital-1.hl7");
    ASSERT_TRUE(r.report.ok()) << r.report.status().to_string();
    EXPECT_EQ(r.report.n_resources, 1u);
    EXPECT_EQ(r.report.n_read, 1u);
    ASSERT_EQ(r.patients.size(), 1u);
    const PatientRecord& p = r.patients[0];
    EXPECT_EQ(p.id, "2338887614");
    EXPECT_EQ(p.demographics.family_name, "French");
    EXPECT_EQ(p.demographics.given_names, std::vector<std::string>{"Lee"});
    EXPECT_EQ(p.demographics.birth_date, "1985-09-16");
    EXPECT_EQ(p.demographics.gender, "male");
    EXPECT_EQ(p.demographics.city, "Ilford");
    ASSERT_EQ(p.demographics.identifiers.size(), 2u);
    EXPECT_EQ(p.demographics.identifiers[1].system, "NHSNBR/NHSNMBR");
    EXPECT_EQ(p.demographics.identifiers[1].value, "1945859121");
    ASSERT_EQ(p.encounters.size(), 1u);
    const Encounter& e = p.encounters[0];
    EXPECT_EQ(e.encounter_class, "IMP");
    EXPECT_EQ(e.start, "2020-09-28T00:22:06");
    EXPECT_EQ(e.status, "in-progress");
    EXPECT_EQ(e.provider, "Dr Natasha Litherland");
    EXPECT_EQ(e.location, "OtherWard MainRoom Bed 1");
    EXPECT_EQ(e.sources[0].to_string(), "hl7:1/PV1[1]");
}

TEST(Hl7Shared, LipidPanelOruR01) {
    ReadResult r = read_hl7(hl7_file("simhospital-2.hl7"));
    ASSERT_TRUE(r.report.ok()) << r.report.status().to_string();
    ASSERT_EQ(r.patients.size(), 1u);
    const PatientRecord& p = r.patients[0];
    EXPECT_EQ(p.id, "3463070384");
    EXPECT_EQ(p.demographics.birth_date, "1958-04-09");
    EXPECT_EQ(p.demographics.gender, "female");
    EXPECT_EQ(p.demographics.given_names, (std::vector<std::string>{"Valerie", "Isabella"}));
    ASSERT_EQ(p.observations.size(), 4u);
    const Observation& chol = p.observations[0];
    EXPECT_EQ(chol.code.codings[0].code, "tt-0001-01");
    EXPECT_EQ(chol.code.label(), "Cholesterol");
    EXPECT_DOUBLE_EQ(*chol.value.number, 1.36);
    EXPECT_EQ(chol.value.unit, "mmol/L");
    ASSERT_EQ(chol.reference_ranges.size(), 1u);
    EXPECT_DOUBLE_EQ(*chol.reference_ranges[0].high, 4.5);
    EXPECT_EQ(chol.effective, "2020-10-21T19:51:26");
    EXPECT_EQ(chol.notes, std::vector<std::string>{"Memory stair anguish"});
    EXPECT_EQ(chol.sources[0].to_string(), "hl7:2/OBX[1]");
    const Observation& hdl = p.observations[2];
    EXPECT_DOUBLE_EQ(*hdl.value.number, 6.37);
    EXPECT_DOUBLE_EQ(*hdl.reference_ranges[0].low, 1.5);
    EXPECT_FALSE(hdl.abnormal());
    ASSERT_EQ(p.reports.size(), 1u);
    EXPECT_EQ(p.reports[0].code.label(), "LIPID");
    EXPECT_EQ(p.reports[0].status, "final");
    EXPECT_EQ(p.reports[0].result_ids.size(), 4u);
}

TEST(Hl7Shared, TextResultsOruR01) {
    ReadResult r = read_hl7(hl7_file("simhospital-4.hl7"));
    ASSERT_TRUE(r.report.ok()) << r.report.status().to_string();
    const PatientRecord& p = r.patients.at(0);
    EXPECT_EQ(p.id, "2474909861");
    EXPECT_EQ(p.demographics.birth_date, "1938-05-18");
    ASSERT_EQ(p.observations.size(), 2u);
    EXPECT_EQ(p.observations[0].value.kind, ObservationValue::Kind::kString);
    EXPECT_EQ(p.observations[0].value.text, "MANKL value");
    EXPECT_EQ(p.observations[1].value.text, "MRI Ankle Lt value");
    EXPECT_EQ(p.observations[1].value.unit, "");  // "" is the HL7 explicit null
    EXPECT_EQ(p.reports.at(0).code.label(), "MRI Ankle Lt");
}

TEST(Hl7Parse, EscapesComponentsRepetitionsSubcomponents) {
    std::string text =
        "MSH|^~\\&|A|B|C|D|20200101120000||ORU^R01|X1|P|2.5\r"
        "PID|1||123^^^HOSP^MR~456^^^NHS^NH||Doe\\S\\Smith^Jane||19700102|F\r"
        "OBR|1|||CBC^Blood count^L\r"
        "OBX|1|ST|N1^Note^L||a\\F\\b\\T\\c\\R\\d\\E\\e\\.br\\f\\X41\\||||||F\r"
        "OBX|2|NM|2160-0^Creatinine^LN||1.9|mg/dL&UCUM|0.6-1.2|H~A|||F|||202001011300-0500\r";
    auto msg = Hl7Message::parse(text);
    ASSERT_TRUE(msg) << msg.error().to_string();
    const Hl7Segment* pid = msg->find("PID");
    ASSERT_NE(pid, nullptr);
    EXPECT_EQ(msg->repetitions(pid->field(3)), 2u);
    EXPECT_EQ(msg->value(pid->field(3), 1, 1), "456");
    EXPECT_EQ(msg->value(pid->field(5), 1), "Doe^Smith");
    const Hl7Segment& obx2 = msg->segments()[4];
    EXPECT_EQ(msg->component(obx2.field(6), 1, 0, 2), "UCUM");
    ReadResult r = read_hl7_message(*msg);
    ASSERT_TRUE(r.report.ok()) << r.report.status().to_string();
    const PatientRecord& p = r.patients.at(0);
    EXPECT_EQ(p.id, "123");
    EXPECT_EQ(p.observations[0].value.text, "a|b&c~d\\e\nfA");
    const Observation& cr = p.observations[1];
    EXPECT_EQ(cr.code.codings[0].system, kLoinc);
    EXPECT_EQ(cr.value.unit, "mg/dL");
    EXPECT_EQ(cr.interpretation, (std::vector<std::string>{"H", "A"}));
    EXPECT_TRUE(cr.abnormal());
    EXPECT_EQ(cr.effective, "2020-01-01T13:00-05:00");
}

TEST(Hl7Parse, OtherEncodingCharacters) {
    std::string text =
        "MSH#*@!%#A#B#C#D#20200101##ADT*A08#77#P#2.8\nPID#1##9*x**AUTH*MR##Roe*Ann\n";
    auto msg = Hl7Message::parse(text);
    ASSERT_TRUE(msg) << msg.error().to_string();
    EXPECT_EQ(msg->encoding().field, '#');
    EXPECT_EQ(msg->encoding().component, '*');
    EXPECT_EQ(msg->trigger(), "A08");
    ReadResult r = read_hl7_message(*msg);
    ASSERT_TRUE(r.report.ok()) << r.report.status().to_string();
    EXPECT_EQ(r.patients.at(0).demographics.family_name, "Roe");
    EXPECT_EQ(r.patients.at(0).demographics.identifiers.at(0).system, "AUTH/MR");
}

TEST(Hl7Errors, BadEncodingCharacters) {
    auto msg = Hl7Message::parse("MSH|^^\\&|A|B\rPID|1\r");
    ASSERT_FALSE(msg);
    EXPECT_EQ(msg.error().message(),
              "hl7: MSH-2 encoding characters \"^^\\&\" are invalid: expected 4 distinct "
              "separator characters (component, repetition, escape, subcomponent, as in ^~\\&)");
    EXPECT_FALSE(Hl7Message::parse("MSHA^~\\&|x"));
    EXPECT_NE(Hl7Message::parse("PID|1").error().message().find("does not start with an MSH"),
              std::string::npos);
}

TEST(Hl7Errors, TruncatedSegmentsAndBadFields) {
    auto msg = Hl7Message::parse("MSH|^~\\&|A|B|C|D|20200101||ADT^A01|5|P|2.5\rPI");
    ASSERT_FALSE(msg);
    EXPECT_EQ(msg.error().message(),
              "hl7: segment 2 \"PI\" is not a segment (a name of three letters or digits "
              "followed by '|'); truncated or corrupt message?");

    auto bad_dob = Hl7Message::parse(
        "MSH|^~\\&|A|B|C|D|20200101||ADT^A01|6|P|2.5\rPID|1||42^^^H^MR||Doe^J||19851340|M\r");
    ASSERT_TRUE(bad_dob);
    ReadResult r = read_hl7_message(*bad_dob);
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_EQ(r.report.errors[0].message,
              "hl7: PID-7 (date of birth) \"19851340\" is not a date (segment 2)");
    EXPECT_TRUE(r.patients.empty());

    auto cut_obx = Hl7Message::parse(
        "MSH|^~\\&|A|B|C|D|20200101||ORU^R01|7|P|2.5\rPID|1||42\rOBX|1|NM|X^Y^L|\r");
    ASSERT_TRUE(cut_obx);
    r = read_hl7_message(*cut_obx);
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_EQ(r.report.errors[0].message,
              "hl7: OBX-5 (observation value) is missing (truncated segment?) (segment 3)");

    auto no_pid = Hl7Message::parse("MSH|^~\\&|A|B|C|D|20200101||ADT^A04|8|P|2.5\rEVN|A04\r");
    r = read_hl7_message(*no_pid);
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_EQ(r.report.errors[0].message, "hl7: ADT^A04 message has no PID segment");
}

TEST(Hl7Read, FileOfMessagesKeepsTheGoodOnes) {
    std::string text = hl7_file("simhospital-1.hl7") + "\r" +
                       "MSH|^~\\&|A|B|C|D|20200101||ADT^A01|9|P|2.5\rPID|1||42||X||1985x|M\r" +
                       hl7_file("simhospital-2.hl7");
    ReadResult r = read_hl7(text);
    EXPECT_EQ(r.report.n_resources, 3u);
    EXPECT_EQ(r.report.n_read, 2u);
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_EQ(r.report.errors[0].to_string(),
              "message 2 (control id 9): hl7: PID-7 (date of birth) \"1985x\" is not a date "
              "(segment 2)");
    EXPECT_EQ(r.patients.size(), 2u);
}

TEST(Hl7Read, DischargeUpdatesTheSameVisit) {
    std::string text =
        "MSH|^~\\&|A|B|C|D|20200101080000||ADT^A01|M1|P|2.4\r"
        "EVN|A01|20200101080000\rPID|1||55^^^H^MR||Poe^Al||19400101|M\r"
        "PV1|1|I|W2^R1^B3|||||||CAR|||||||||V123\r"
        "MSH|^~\\&|A|B|C|D|20200105120000||ADT^A03|M2|P|2.4\r"
        "EVN|A03|20200105120000\rPID|1||55^^^H^MR||Poe^Al||19400101|M\r"
        "PV1|1|I|W2^R1^B3|||||||CAR|||||||||V123\r";
    ReadResult r = read_hl7(text);
    ASSERT_TRUE(r.report.ok()) << r.report.status().to_string();
    ASSERT_EQ(r.patients.size(), 1u);
    ASSERT_EQ(r.patients[0].encounters.size(), 1u);
    const Encounter& e = r.patients[0].encounters[0];
    EXPECT_EQ(e.start, "2020-01-01T08:00:00");
    EXPECT_EQ(e.end, "2020-01-05T12:00:00");
    EXPECT_EQ(e.status, "finished");
    EXPECT_EQ(e.sources.size(), 2u);
}

TEST(Hl7Ack, AcceptErrorReject) {
    std::string text = hl7_file("simhospital-2.hl7");  // the message views it
    auto msg = Hl7Message::parse(text);
    ASSERT_TRUE(msg);
    std::string aa = make_ack(&*msg, "", {}, "20260101000000", "A1");
    EXPECT_EQ(aa,
              "MSH|^~\\&|RAPP|RFAC|SIMHOSP|SFAC|20260101000000||ACK^R01^ACK|A1|P|2.3\r"
              "MSA|AA|2\r");
    std::string ae =
        make_ack(&*msg, "", {AckCode::kError, "PID-7 bad | date", "102"}, "20260101000000", "A2");
    EXPECT_NE(ae.find("MSA|AE|2|PID-7 bad \\F\\ date\r"), std::string::npos) << ae;
    EXPECT_NE(ae.find("ERR|||102^PID-7 bad \\F\\ date^HL70357|E\r"), std::string::npos) << ae;
    std::string ar = make_ack(nullptr, "MSH|^^^^|A|B|C|D|x||ADT^A01|CTL9|P|2.5\r",
                              {AckCode::kReject, "bad encoding", "102"}, "20260101000000", "A3");
    EXPECT_NE(ar.find("MSA|AR|CTL9|bad encoding\r"), std::string::npos) << ar;
}

TEST(Hl7Time, Timestamps) {
    EXPECT_EQ(*hl7_timestamp_to_iso("19850916000000"), "1985-09-16T00:00:00");
    EXPECT_EQ(*hl7_timestamp_to_iso("19850916"), "1985-09-16");
    EXPECT_EQ(*hl7_timestamp_to_iso("198509"), "1985-09");
    EXPECT_EQ(*hl7_timestamp_to_iso("20200101123456.12+0100"), "2020-01-01T12:34:56.12+01:00");
    EXPECT_FALSE(hl7_timestamp_to_iso("19851340"));
    EXPECT_FALSE(hl7_timestamp_to_iso("1985-09-16"));
}

}  // namespace
}  // namespace ward::interop
