// Replacement modes: tags, masks, surrogates keyed by the secret and the patient, one date
// shift per patient.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"

namespace ward::deid {
namespace {

using test::shared_deid;

TEST(Modes, RedactAndMask) {
    std::string t = "Seen by Dr. Ana Okafor on 3/14/2024.";
    EXPECT_EQ(shared_deid().deidentify(t, Mode::kRedact).value().text,
              "Seen by Dr. [NAME] on [DATE].");
    EXPECT_EQ(shared_deid().deidentify(t, Mode::kMask).value().text,
              "Seen by Dr. ********** on *********.");
}

TEST(Modes, SurrogateNeedsASecret) {
    auto d = Deidentifier::create({}).value();
    auto r = d->deidentify("Mr. Smith", Mode::kSurrogate, "p");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE(Deidentifier::create({.secret = {1, 2, 3}}).has_value());  // too short
}

TEST(Surrogates, SameValueSamePatientSameSurrogate) {
    auto a = shared_deid().deidentify("Mr. Kowalski came in.", Mode::kSurrogate, "p1").value();
    auto b =
        shared_deid().deidentify("Kowalski's wife: Dr. Kowalski", Mode::kSurrogate, "p1").value();
    ASSERT_EQ(a.replacements.size(), 1u);
    std::string s = a.replacements[0].surrogate;
    EXPECT_NE(s, "Kowalski");
    EXPECT_NE(b.text.find(s), std::string::npos) << b.text;
    // another patient, another pseudonym
    auto c = shared_deid().deidentify("Mr. Kowalski came in.", Mode::kSurrogate, "p2").value();
    EXPECT_NE(c.text, a.text);
}

TEST(Surrogates, KeyedBySecretNotABareHash) {
    auto other = Deidentifier::create({.secret = std::vector<uint8_t>(32, 9)}).value();
    auto a = shared_deid().deidentify("Mr. Kowalski", Mode::kSurrogate, "p1").value();
    auto b = other->deidentify("Mr. Kowalski", Mode::kSurrogate, "p1").value();
    EXPECT_NE(a.text, b.text);
}

TEST(Surrogates, DatesShiftByOneOffsetPerPatient) {
    int shift = shared_deid().date_shift_days("p1");
    EXPECT_NE(shift, 0);
    EXPECT_EQ(shift, shared_deid().date_shift_days("p1"));
    EXPECT_GE(std::abs(shift), 30);
    auto r = shared_deid()
                 .deidentify("Admitted 03/01/2024, discharged 03/05/2024.", Mode::kSurrogate, "p1")
                 .value();
    ASSERT_EQ(r.replacements.size(), 2u);
    auto parse = [](const std::string& s) {  // mm/dd/yyyy -> days via std::chrono
        int m = std::stoi(s.substr(0, 2)), d = std::stoi(s.substr(3, 2)),
            y = std::stoi(s.substr(6));
        y -= m <= 2;  // days from civil (H. Hinnant)
        long era = y / 400, yoe = y - era * 400;
        long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy;
    };
    long a0 = parse("03/01/2024"), a1 = parse(r.replacements[0].surrogate);
    long b0 = parse("03/05/2024"), b1 = parse(r.replacements[1].surrogate);
    EXPECT_EQ(a1 - a0, shift);
    EXPECT_EQ(b1 - b0, shift);  // the interval stays true
    // written formats keep their shape
    auto w =
        shared_deid().deidentify("on March 14th and 14-Mar-2024", Mode::kSurrogate, "p1").value();
    ASSERT_EQ(w.replacements.size(), 2u);
    EXPECT_NE(w.replacements[0].surrogate.find_first_of("0123456789"), std::string::npos);
    EXPECT_EQ(
        std::count(w.replacements[1].surrogate.begin(), w.replacements[1].surrogate.end(), '-'), 2);
}

TEST(Surrogates, AgesOver89AndZipCodes) {
    auto r = shared_deid()
                 .deidentify("A 94-year-old from Springfield, IL 62704.", Mode::kSurrogate, "p1")
                 .value();
    EXPECT_NE(r.text.find("90+-year-old"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find(" 627"), std::string::npos) << r.text;  // first three digits kept
    EXPECT_EQ(r.text.find("62704"), std::string::npos);
    auto restricted = shared_deid().deidentify("Boston, MA 03601.", Mode::kSurrogate, "p1").value();
    EXPECT_NE(restricted.text.find(" 000"), std::string::npos) << restricted.text;
}

TEST(Surrogates, FormatIsKept) {
    auto r = shared_deid()
                 .deidentify("call (617) 555-0142, SSN 123-45-6789", Mode::kSurrogate, "p1")
                 .value();
    ASSERT_EQ(r.replacements.size(), 2u);
    const std::string& phone = r.replacements[0].surrogate;
    ASSERT_EQ(phone.size(), 14u);
    EXPECT_EQ(phone[0], '(');
    EXPECT_EQ(phone[9], '-');
    EXPECT_EQ(r.replacements[1].surrogate.size(), 11u);
}

}  // namespace
}  // namespace ward::deid
