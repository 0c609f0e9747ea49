// The PHI detector: a tokenizer and a set of rules over its tokens (docs/deid.md explains each
// rule). Plain loops and hash-set lookups only: no regular expressions in the hot path.
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <unordered_set>

#include <utf8proc.h>

#include "deid/internal.h"

namespace ward::deid::internal {
namespace {

// ---- tokens ---------------------------------------------------------------------------------

enum TokKind : uint8_t { kWord, kNum, kPunct };
enum TokFlag : uint8_t {
    kCap = 1,       // first letter upper case
    kAllCaps = 2,   // every letter upper case (and >= 2 letters)
    kDigit = 4,     // contains a digit
    kAlpha = 8,     // contains a letter
    kNewline = 16,  // a newline between the previous token and this one
    kSpace = 32,    // any whitespace between the previous token and this one
};

struct Tok {
    uint32_t s, e;
    uint8_t kind, flags;
    uint64_t feat;  // Feature bits of a word token (0 for numbers and punctuation)
    uint64_t hash;  // hash_lower() of the token's text
};

bool is_ascii_alnum(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Tokenizes: words are runs of letters and digits (any byte >= 0x80 counts as a letter,
// except the general punctuation block U+2000..U+206F); every other non-space byte is a
// one-character punctuation token.
void tokenize(std::string_view text, std::vector<Tok>& toks) {
    toks.clear();
    toks.reserve(text.size() / 4 + 16);
    const auto* p = reinterpret_cast<const uint8_t*>(text.data());
    size_t n = text.size(), i = 0;
    uint8_t pending = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
            pending |= kSpace;
            if (c == '\n') pending |= kNewline;
            ++i;
            continue;
        }
        Tok t{static_cast<uint32_t>(i), 0, kPunct, pending, 0, 0};
        pending = 0;
        bool general_punct = c == 0xE2 && i + 1 < n && (p[i + 1] == 0x80 || p[i + 1] == 0x81);
        if (c == 0xC2 && i + 1 < n && p[i + 1] == 0xA0) {  // no-break space
            pending |= kSpace;
            i += 2;
            continue;
        }
        if (is_ascii_alnum(c) || (c >= 0x80 && !general_punct)) {
            t.kind = kWord;
            bool digit = false, alpha = false, lower = false;
            int upper = 0;
            size_t j = i;
            while (j < n) {
                uint8_t d = p[j];
                if (d >= '0' && d <= '9') {
                    digit = true;
                } else if (d >= 'a' && d <= 'z') {
                    alpha = lower = true;
                } else if (d >= 'A' && d <= 'Z') {
                    alpha = true;
                    ++upper;
                } else if (d >= 0x80) {
                    if (d == 0xE2 && j + 1 < n && (p[j + 1] == 0x80 || p[j + 1] == 0x81)) break;
                    if (d == 0xC2 && j + 1 < n && p[j + 1] == 0xA0) break;
                    if (d >= 0xC0) {
                        utf8proc_int32_t cp = 0;
                        auto len =
                            utf8proc_iterate(p + j, static_cast<utf8proc_ssize_t>(n - j), &cp);
                        if (len > 0) {
                            auto cat = utf8proc_category(cp);
                            if (cat == UTF8PROC_CATEGORY_LU) {
                                ++upper;
                                alpha = true;
                            } else if (cat == UTF8PROC_CATEGORY_LL) {
                                alpha = lower = true;
                            }
                            if (j == i && cat == UTF8PROC_CATEGORY_LU) t.flags |= kCap;
                            j += static_cast<size_t>(len);
                            continue;
                        }
                    }
                } else {
                    break;
                }
                ++j;
            }
            t.e = static_cast<uint32_t>(j);
            if (c >= 'A' && c <= 'Z') t.flags |= kCap;
            if (digit) t.flags |= kDigit;
            if (alpha) t.flags |= kAlpha;
            if (!digit && alpha && !lower && upper >= 2) t.flags |= kAllCaps;
            if (digit && !alpha) t.kind = kNum;
            i = j;
        } else {
            size_t len = 1;
            if (c >= 0xC0) {
                len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
                len = std::min(len, n - i);
            }
            t.e = static_cast<uint32_t>(i + len);
            i += len;
        }
        toks.push_back(t);
    }
}

// ---- small word tables ------------------------------------------------------------------------

constexpr std::array<const char*, 12> kMonths = {"january",   "february", "march",    "april",
                                                 "may",       "june",     "july",     "august",
                                                 "september", "october",  "november", "december"};

// Features of a word, found with one hash lookup per token (see features()).
enum Feature : uint64_t {
    kFTitles = 1ull << 0,
    kFCredentials = 1ull << 1,
    kFRelations = 1ull << 2,
    kFColonLabels = 1ull << 3,
    kFNameVerbs = 1ull << 4,
    kFNotName = 1ull << 5,
    kFEponymHeads = 1ull << 6,
    kFPersonVerbs = 1ull << 7,
    kFStreetSuffixes = 1ull << 8,
    kFUnitWords = 1ull << 9,
    kFFacilityHeads = 1ull << 10,
    kFFacilityGeneric = 1ull << 11,
    kFStates = 1ull << 12,
    kFPlacePreps = 1ull << 13,
    kFResidenceVerbs = 1ull << 14,
    kFEnglish = 1ull << 15,
    kFClinical = 1ull << 16,
    kFFirstNames = 1ull << 17,
    kFLastNames = 1ull << 18,
    kFIdKeyword = 1ull << 19,
    kFMonth = 1ull << 20,
    kFWeekday = 1ull << 21,
    kFHoliday = 1ull << 22,
};

struct WordTable {
    explicit WordTable(std::initializer_list<const char*> list) : words(list) {
        for (const char* w : words) set.insert(w);
    }
    bool has(std::string_view w) const { return set.contains(w); }
    std::vector<const char*> words;
    WordSet set;
};

const WordTable& titles() {
    static const WordTable t{"mr", "mrs",    "ms",        "miss",   "dr",    "prof", "mister",
                             "mx", "doctor", "professor", "sister", "nurse", "rev",  "father"};
    return t;
}
const WordTable& credentials() {
    static const WordTable t{"md",   "do",     "rn",   "np",   "pa",    "dds",  "dmd",  "phd",
                             "ms",   "cgc",    "lcsw", "rdh",  "msw",   "fnp",  "aprn", "lpn",
                             "cna",  "pharmd", "mph",  "dpm",  "od",    "facp", "facs", "rph",
                             "crna", "lmft",   "lpc",  "psyd", "bsn",   "msn",  "dnp",  "mbbs",
                             "frcs", "frcp",   "emt",  "lvn",  "ma",    "ot",   "pt",   "dpt",
                             "slp",  "rd",     "ccc",  "bcba", "fnp-c", "anp"};
    return t;
}
const WordTable& relations() {
    static const WordTable t{
        "wife",        "husband",      "spouse",      "partner",       "son",
        "daughter",    "brother",      "sister",      "mother",        "father",
        "mom",         "dad",          "friend",      "caregiver",     "niece",
        "nephew",      "aunt",         "uncle",       "grandson",      "granddaughter",
        "grandmother", "grandfather",  "boyfriend",   "girlfriend",    "fiance",
        "fiancee",     "neighbor",     "neighbour",   "roommate",      "guardian",
        "stepson",     "stepdaughter", "sibling",     "cousin",        "therapist",
        "counselor",   "hygienist",    "paramedic",   "nurse",         "physician",
        "surgeon",     "colleague",    "coworker",    "landlord",      "sponsor",
        "attorney",    "pastor",       "dentist",     "psychiatrist",  "psychologist",
        "oncologist",  "cardiologist", "neurologist", "dermatologist", "pcp",
        "resident",    "intern",       "student"};
    return t;
}
// Words after which a name follows with a colon ("Patient: ...").
const WordTable& colon_labels() {
    static const WordTable t{"patient",
                             "name",
                             "pt",
                             "attending",
                             "physician",
                             "provider",
                             "surgeon",
                             "pcp",
                             "caller",
                             "re",
                             "contact",
                             "guardian",
                             "referring",
                             "ordering",
                             "hygienist",
                             "nurse",
                             "therapist",
                             "resident",
                             "cc",
                             "to",
                             "from",
                             "author",
                             "interpreter",
                             "witness",
                             "dentist",
                             "consultant",
                             "spouse",
                             "signed",
                             "kin",
                             "nok",
                             "mother",
                             "father",
                             "informant",
                             "fellow",
                             "intern",
                             "assistant",
                             "anesthesiologist",
                             "anesthesia",
                             "radiologist",
                             "pathologist",
                             "cosigner",
                             "scribe",
                             "by",
                             "care",
                             "counselor",
                             "recipient",
                             "subscriber",
                             "insured",
                             "sender",
                             "rn",
                             "md",
                             "clinician",
                             "doctor",
                             "emergency",
                             "relative",
                             "husband",
                             "wife",
                             "son",
                             "daughter",
                             "requested",
                             "reviewer",
                             "member",
                             "beneficiary",
                             "policyholder",
                             "guarantor",
                             "parent",
                             "caregiver",
                             "ems",
                             "supervisor",
                             "mrs",
                             "mr"};
    return t;
}
// Verbs and phrases after which a name follows without a colon ("signed by ...").
const WordTable& name_verbs() {
    static const WordTable t{"by", "with", "dear", "sincerely", "regards", "cc",      "thanks",
                             "to", "per",  "from", "signed",    "attn",    "patient", "pt"};
    return t;
}
// Words that end a name and are not names themselves, although capitalised.
const WordTable& not_name() {
    static const WordTable t{"dob",        "mrn",        "ssn",         "id",
                             "acct",       "age",        "sex",         "male",
                             "female",     "room",       "rm",          "date",
                             "admit",      "admitted",   "discharge",   "the",
                             "a",          "an",         "and",         "or",
                             "of",         "in",         "on",          "at",
                             "for",        "with",       "he",          "she",
                             "his",        "her",        "they",        "we",
                             "i",          "you",        "it",          "this",
                             "that",       "patient",    "pt",          "md",
                             "rn",         "phone",      "fax",         "tel",
                             "cell",       "email",      "hpi",         "plan",
                             "assessment", "impression", "hospital",    "clinic",
                             "center",     "unit",       "floor",       "bed",
                             "service",    "team",       "department",  "dept",
                             "labs",       "vitals",     "note",        "report",
                             "exam",       "history",    "today",       "yesterday",
                             "tomorrow",   "am",         "pm",          "no",
                             "yes",        "not",        "none",        "mg",
                             "ml",         "is",         "was",         "has",
                             "had",        "will",       "be",          "been",
                             "who",        "which",      "per",         "jr",
                             "sr",         "ii",         "iii",         "iv",
                             "esq",        "mother",     "father",      "wife",
                             "husband",    "son",        "daughter",    "brother",
                             "sister",     "friend",     "dear",        "re",
                             "cc",         "attn",       "subject",     "sincerely",
                             "regards",    "thank",      "thanks",      "please",
                             "called",     "call",       "states",      "reports",
                             "denies",     "presented",  "returns",     "visit",
                             "seen",       "spoke",      "spoken",      "medical",
                             "record",     "number",     "account",     "insurance",
                             "member",     "policy",     "group",       "address",
                             "home",       "work",       "mobile",      "electronically",
                             "signed",     "dictated",   "transcribed", "ordering",
                             "referring",  "attending",  "primary",     "care",
                             "emergency",  "contact",    "caller",      "time",
                             "location",   "provider",   "physician",   "surgeon",
                             "nurse",      "mrs",        "mr",          "ms",
                             "dr",         "miss",       "prof",        "january",
                             "february",   "march",      "april",       "may",
                             "june",       "july",       "august",      "september",
                             "october",    "november",   "december",    "monday",
                             "tuesday",    "wednesday",  "thursday",    "friday",
                             "saturday",   "sunday",     "st"};
    return t;
}
const WordTable& eponym_heads() {
    static const WordTable t{
        "disease",     "diseases",    "syndrome",     "sign",           "signs",
        "palsy",       "test",        "maneuver",     "manoeuvre",      "score",
        "scale",       "criteria",    "fracture",     "catheter",       "catheters",
        "tube",        "lymphoma",    "dementia",     "phenomenon",     "reflex",
        "triad",       "stage",       "staging",      "classification", "type",
        "procedure",   "operation",   "repair",       "fundoplication", "thyroiditis",
        "ulcer",       "esophagus",   "diverticulum", "sarcoma",        "tumor",
        "tumour",      "node",        "nodes",        "body",           "bodies",
        "cell",        "cells",       "disorder",     "tremor",         "law",
        "position",    "class",       "grade",        "view",           "exam",
        "examination", "index",       "method",       "stain",          "solution",
        "pouch",       "hernia",      "murmur",       "point",          "triangle",
        "space",       "duct",        "gland",        "glands",         "cyst",
        "canal",       "tubes",       "aneurysm",     "encephalopathy", "psychosis",
        "phenomena",   "contracture", "deformity",    "nodule",         "nodules",
        "spots",       "rings",       "ring",         "lines",          "line",
        "respiration", "breathing",   "pupil",        "pupils",         "ataxia",
        "chorea",      "arthritis",   "anemia",       "anaemia",        "lesion",
        "lesions",     "incision",    "retractor",    "forceps",        "drain",
        "needle",      "scissors",    "mask",         "valve",          "shunt",
        "mole",        "reaction",    "equation",     "curve",          "rule",
        "rules",       "coma",        "neuralgia",    "neuroma",        "nerve",
        "variant",     "block",       "cyst",         "anomaly",        "malformation",
        "area",        "aphasia",     "sarcoma",      "trait",          "effect"};
    return t;
}
// Verbs whose subject is a person ("Kowalski reports ...").
const WordTable& person_verbs() {
    static const WordTable t{"reports",     "states",     "denies",    "endorses",   "complains",
                             "returns",     "presents",   "presented", "feels",      "notes",
                             "admits",      "agrees",     "declines",  "declined",   "refused",
                             "refuses",     "tolerated",  "tolerates", "ambulates",  "ambulated",
                             "understands", "verbalizes", "lives",     "works",      "arrived",
                             "called",      "came",       "wants",     "prefers",    "says",
                             "said",        "describes",  "recalls",   "attends",    "smokes",
                             "drinks",      "underwent",  "remains",   "continues",  "reported",
                             "stated",      "denied",     "endorsed",  "complained", "returned"};
    return t;
}

const WordTable& street_suffixes() {
    static const WordTable t{
        "street",    "st",         "avenue",     "ave",       "av",        "road",     "rd",
        "boulevard", "blvd",       "lane",       "ln",        "drive",     "dr",       "court",
        "ct",        "way",        "place",      "pl",        "terrace",   "ter",      "circle",
        "cir",       "highway",    "hwy",        "parkway",   "pkwy",      "trail",    "trl",
        "square",    "sq",         "loop",       "alley",     "row",       "crossing", "xing",
        "path",      "pike",       "run",        "walk",      "plaza",     "plz",      "route",
        "rte",       "expressway", "freeway",    "turnpike",  "point",     "pt",       "ridge",
        "heights",   "hts",        "hill",       "hills",     "park",      "grove",    "gardens",
        "green",     "commons",    "mews",       "close",     "crescent",  "cres",     "passage",
        "pass",      "bend",       "cove",       "glen",      "harbor",    "landing",  "meadow",
        "meadows",   "orchard",    "port",       "ramp",      "shore",     "shores",   "spring",
        "springs",   "summit",     "trace",      "view",      "vista",     "wells",    "junction",
        "jct",       "manor",      "estates",    "knoll",     "ranch",     "station",  "fork",
        "forks",     "ford",       "hollow",     "island",    "isle",      "mall",     "oval",
        "burg",      "club",       "corner",     "corners",   "creek",     "dale",     "dam",
        "divide",    "field",      "fields",     "flat",      "flats",     "forest",   "forge",
        "garden",    "gateway",    "haven",      "inlet",     "lake",      "lakes",    "light",
        "lock",      "lodge",      "mill",       "mills",     "mission",   "motorway", "mount",
        "mountain",  "neck",       "overpass",   "pine",      "pines",     "plain",    "plains",
        "prairie",   "radial",     "rapids",     "rest",      "river",     "shoal",    "skyway",
        "spur",      "stream",     "throughway", "tunnel",    "underpass", "union",    "valley",
        "viaduct",   "villa",      "village",    "ville",     "wall",      "way",      "well",
        "broadway",  "boulevard",  "causeway",   "extension", "ext"};
    return t;
}
const WordTable& unit_words() {
    static const WordTable t{"apt", "apartment", "unit", "suite",    "ste", "room", "rm",
                             "fl",  "floor",     "bldg", "building", "lot", "box",  "no"};
    return t;
}
const WordTable& facility_heads() {
    static const WordTable t{
        "hospital",     "hospitals",  "clinic",     "clinics",     "center",    "centre",
        "institute",    "infirmary",  "hospice",    "pharmacy",    "practice",  "healthcare",
        "medicine",     "home",       "associates", "group",       "system",    "sanatorium",
        "sanitarium",   "university", "college",    "school",      "dental",    "pediatrics",
        "orthopedics",  "cardiology", "oncology",   "dermatology", "neurology", "psychiatry",
        "laboratories", "laboratory", "labs",       "imaging",     "radiology", "surgery",
        "surgicenter",  "health",     "care",       "services",    "ymca",      "rehab",
        "lodge",        "residence",  "village",    "manor",       "facility",  "partners",
        "physicians",   "llc",        "inc",        "pllc",        "pc",        "office",
        "church",       "prison",     "jail",       "academy"};
    return t;
}
// Words that may be part of a facility name but do not make one on their own.
const WordTable& facility_generic() {
    static const WordTable t{
        "general",    "regional",     "memorial",    "community",    "university", "medical",
        "health",     "family",       "cancer",      "childrens",    "children",   "rehabilitation",
        "nursing",    "care",         "urgent",      "mental",       "behavioral", "heart",
        "eye",        "dental",       "surgical",    "surgery",      "specialty",  "womens",
        "women",      "county",       "city",        "state",        "veterans",   "va",
        "saint",      "st",           "internal",    "primary",      "sleep",      "pain",
        "wound",      "dialysis",     "imaging",     "radiology",    "oncology",   "cardiology",
        "neurology",  "psychiatric",  "psychiatry",  "the",          "of",         "and",
        "center",     "centre",       "hospital",    "clinic",       "institute",  "national",
        "central",    "north",        "south",       "east",         "west",       "northern",
        "southern",   "eastern",      "western",     "new",          "valley",     "lakeside",
        "riverside",  "mercy",        "good",        "samaritan",    "hope",       "grace",
        "sacred",     "baptist",      "methodist",   "presbyterian", "lutheran",   "catholic",
        "christian",  "jewish",       "adventist",   "kaiser",       "permanente", "practice",
        "medicine",   "home",         "group",       "associates",   "system",     "healthcare",
        "pediatric",  "pediatrics",   "orthopedic",  "orthopedics",  "emergency",  "department",
        "ed",         "er",           "icu",         "intensive",    "outpatient", "inpatient",
        "ambulatory", "services",     "trauma",      "transplant",   "infusion",   "dermatology",
        "pharmacy",   "laboratory",   "lab",         "main",         "campus",     "tower",
        "building",   "wing",         "pavilion",    "unit",         "floor",      "skilled",
        "assisted",   "living",       "senior",      "treatment",    "recovery",   "addiction",
        "detox",      "hospice",      "palliative",  "diabetes",     "endocrine",  "kidney",
        "liver",      "lung",         "brain",       "spine",        "joint",      "bone",
        "vascular",   "vein",         "skin",        "hearing",      "vision",     "physical",
        "therapy",    "occupational", "speech",      "respiratory",  "cardiac",    "clinical",
        "research",   "teaching",     "academic",    "affiliated",   "network",    "partners",
        "physicians", "doctors",      "specialists", "consultants",  "llc",        "inc",
        "pllc",       "pc",           "office",      "offices",      "our",        "lady",
        "holy",       "cross",        "trinity",     "providence",   "charity",    "divine",
        "immaculate", "heights",      "park",        "hills",        "springs",    "cancer"};
    return t;
}
const WordTable& states() {
    static const WordTable t{"al",
                             "ak",
                             "az",
                             "ar",
                             "ca",
                             "co",
                             "ct",
                             "de",
                             "dc",
                             "fl",
                             "ga",
                             "hi",
                             "id",
                             "il",
                             "in",
                             "ia",
                             "ks",
                             "ky",
                             "la",
                             "me",
                             "md",
                             "ma",
                             "mi",
                             "mn",
                             "ms",
                             "mo",
                             "mt",
                             "ne",
                             "nv",
                             "nh",
                             "nj",
                             "nm",
                             "ny",
                             "nc",
                             "nd",
                             "oh",
                             "ok",
                             "or",
                             "pa",
                             "ri",
                             "sc",
                             "sd",
                             "tn",
                             "tx",
                             "ut",
                             "vt",
                             "va",
                             "wa",
                             "wv",
                             "wi",
                             "wy",
                             "pr",
                             "alabama",
                             "alaska",
                             "arizona",
                             "arkansas",
                             "california",
                             "colorado",
                             "connecticut",
                             "delaware",
                             "florida",
                             "georgia",
                             "hawaii",
                             "idaho",
                             "illinois",
                             "indiana",
                             "iowa",
                             "kansas",
                             "kentucky",
                             "louisiana",
                             "maine",
                             "maryland",
                             "massachusetts",
                             "michigan",
                             "minnesota",
                             "mississippi",
                             "missouri",
                             "montana",
                             "nebraska",
                             "nevada",
                             "ohio",
                             "oklahoma",
                             "oregon",
                             "pennsylvania",
                             "tennessee",
                             "texas",
                             "utah",
                             "vermont",
                             "virginia",
                             "washington",
                             "wisconsin",
                             "wyoming"};
    return t;
}
const WordTable& place_preps() {
    static const WordTable t{"in",      "from",   "to",       "near",   "at",     "of",
                             "outside", "around", "visiting", "toward", "towards"};
    return t;
}
const WordTable& residence_verbs() {
    static const WordTable t{"lives",     "living", "resides", "residing", "moved",     "born",
                             "relocated", "raised", "grew",    "resident", "native",    "lived",
                             "reside",    "live",   "stays",   "staying",  "travelled", "traveled"};
    return t;
}
constexpr std::array<const char*, 7> kWeekdays = {"monday", "tuesday",  "wednesday", "thursday",
                                                  "friday", "saturday", "sunday"};

const WordTable& id_keywords() {
    static const WordTable t{
        "mrn",         "mr",        "mr#",         "chart",       "emr",         "ehr",
        "medical",     "record",    "acct",        "account",     "member",      "subscriber",
        "policy",      "medicaid",  "medicare",    "beneficiary", "insurance",   "hicn",
        "mbi",         "group",     "license",     "licence",     "lic",         "dl",
        "dea",         "npi",       "certificate", "cert",        "passport",    "plate",
        "vin",         "tag",       "serial",      "s/n",         "sn",          "udi",
        "imei",        "device",    "ssn",         "social",      "fingerprint", "voiceprint",
        "biometric",   "retinal",   "iris",        "accession",   "specimen",    "id",
        "identifier",  "badge",     "employee",    "case",        "claim",       "ticket",
        "requisition", "encounter", "order",       "invoice",     "ref",         "reference",
        "csn",         "fin",       "visit",       "phone",       "telephone",   "tel",
        "mobile",      "cell",      "fax",         "pager",       "beeper",      "desk",
        "ph",          "cellphone", "landline",    "facsimile"};
    return t;
}
const WordTable& holidays() {
    static const WordTable t{"christmas", "thanksgiving", "halloween", "easter"};
    return t;
}

// One map from a lower-case word to all of its features: the tables above and the lexicons.
const FeatureMap& features() {
    static const FeatureMap map = [] {
        FeatureMap m;
        const Lexicons& lex = Lexicons::get();
        auto add_table = [&](const WordTable& t, uint64_t f) {
            for (const char* w : t.words) m.add(w, f);
        };
        add_table(titles(), kFTitles);
        add_table(credentials(), kFCredentials);
        add_table(relations(), kFRelations);
        add_table(colon_labels(), kFColonLabels);
        add_table(name_verbs(), kFNameVerbs);
        add_table(not_name(), kFNotName);
        add_table(eponym_heads(), kFEponymHeads);
        add_table(person_verbs(), kFPersonVerbs);
        add_table(street_suffixes(), kFStreetSuffixes);
        add_table(unit_words(), kFUnitWords);
        add_table(facility_heads(), kFFacilityHeads);
        add_table(facility_generic(), kFFacilityGeneric);
        add_table(states(), kFStates);
        add_table(place_preps(), kFPlacePreps);
        add_table(residence_verbs(), kFResidenceVerbs);
        add_table(id_keywords(), kFIdKeyword);
        add_table(holidays(), kFHoliday);
        for (const char* w : kMonths) m.add(w, kFMonth);
        for (const char* w : {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
                              "nov", "dec"}) {
            m.add(w, kFMonth);
        }
        for (const char* w : kWeekdays) m.add(w, kFWeekday);
        lex.english.for_each([&](std::string_view w) { m.add(w, kFEnglish); });
        lex.clinical.for_each([&](std::string_view w) { m.add(w, kFClinical); });
        lex.first_names.for_each([&](std::string_view w) { m.add(w, kFFirstNames); });
        lex.last_names.for_each([&](std::string_view w) { m.add(w, kFLastNames); });
        return m;
    }();
    return map;
}

// ---- the per-chunk detector -------------------------------------------------------------------

class ChunkDetector {
  public:
    ChunkDetector(std::string_view text, const Lexicons& lex, Detection& out)
        : text_(text), lex_(lex), out_(out) {
        tokenize(text_, toks_);
        const FeatureMap& fm = features();
        for (Tok& t : toks_) {
            if (t.kind == kPunct) continue;
            std::string_view word = text_.substr(t.s, t.e - t.s);
            t.hash = hash_lower(word);
            out_.word_hashes.push_back(t.hash);
            if (t.kind == kWord && word.size() <= 64) t.feat = fm.lookup(word, t.hash);
        }
    }

    void run_rules();
    // Marks other mentions of names found with strong evidence (anywhere in the input).
    // `strong`: sorted token hashes of names found with strong evidence.
    void propagate(const std::vector<uint64_t>& strong);
    void collect_strong(std::vector<uint64_t>& strong) const {
        for (size_t i : strong_tokens_) strong.push_back(toks_[i].hash);
    }
    std::vector<Candidate>& candidates() { return cands_; }

  private:
    // token helpers
    size_t n() const { return toks_.size(); }
    std::string_view w(size_t i) const { return text_.substr(toks_[i].s, toks_[i].e - toks_[i].s); }
    // Token i is the literal `s` in any ASCII case (length compared first, known at compile time).
    template <size_t N>
    bool is(size_t i, const char (&s)[N]) const {
        return i < n() && toks_[i].e - toks_[i].s == N - 1 && ieq(w(i), std::string_view(s, N - 1));
    }
    bool punct(size_t i, char c) const {
        return i < n() && toks_[i].kind == kPunct && toks_[i].e - toks_[i].s == 1 &&
               text_[toks_[i].s] == c;
    }
    bool word(size_t i) const { return i < n() && toks_[i].kind == kWord; }
    bool num(size_t i) const { return i < n() && toks_[i].kind == kNum; }
    bool flag(size_t i, uint8_t f) const { return i < n() && (toks_[i].flags & f); }
    bool joined(size_t i) const { return i < n() && !(toks_[i].flags & kSpace); }  // no gap before
    bool newline_before(size_t i) const { return i < n() && (toks_[i].flags & kNewline); }
    size_t len(size_t i) const { return toks_[i].e - toks_[i].s; }
    int num_value(size_t i) const {
        if (!num(i) || len(i) > 6) return -1;
        int v = 0;
        for (char c : w(i)) v = v * 10 + (c - '0');
        return v;
    }
    bool cap_word(size_t i) const {
        return word(i) && flag(i, kCap) && flag(i, kAlpha) && !flag(i, kDigit);
    }
    bool has(size_t i, uint64_t f) const { return i < n() && (toks_[i].feat & f); }
    bool english(size_t i) const { return has(i, kFEnglish); }
    bool clinical(size_t i) const { return has(i, kFClinical); }
    bool initial(size_t i) const {
        return word(i) && len(i) == 1 && flag(i, kCap) && punct(i + 1, '.') && joined(i + 1);
    }
    // A token that could be part of a name given context.
    bool name_like(size_t i) const {
        if (!cap_word(i) || has(i, kFNotName) || has(i, kFCredentials)) return false;
        if (has(i, kFStates) && flag(i, kAllCaps) && len(i) == 2) return false;
        return true;
    }
    bool eponym_use(size_t i) const;

    void add(size_t s, size_t e, Category c, float conf, uint8_t prio, int date = -1,
             uint16_t head = 0) {
        if (e <= s) return;
        cands_.push_back({s, e, c, conf, prio, head, date});
    }
    void add_tok(size_t a, size_t b, Category c, float conf, uint8_t prio) {  // tokens [a, b]
        add(toks_[a].s, toks_[b].e, c, conf, prio);
    }
    void name_tok(size_t i, float conf, bool strong) {
        add_tok(i, i, Category::kName, conf, strong ? 6 : 4);
        if (strong && len(i) > 1) strong_tokens_.push_back(i);
    }
    // Marks a name sequence starting at i; returns the index after it.
    size_t name_sequence(size_t i, float conf, bool allow_last_first, int max_tokens = 4);

    void rule_structured(size_t i);
    void rule_numeric_date(size_t i);
    void rule_written_date(size_t i);
    void rule_keyword_id(size_t i);
    void rule_names(size_t i);
    void rule_half_known_names(size_t i);
    void rule_name_before_verb(size_t i);
    void rule_places(size_t i);
    void extend_names();
    bool try_phone(size_t i);
    bool rule_labelled_phone(size_t i);

    std::string_view text_;
    const Lexicons& lex_;
    Detection& out_;
    std::vector<Tok> toks_;
    std::vector<Candidate> cands_;
    std::vector<size_t> strong_tokens_;
};

bool ChunkDetector::eponym_use(size_t i) const {
    size_t j = i + 1;
    if ((punct(j, '\'') || (j < n() && w(j) == "\xE2\x80\x99")) && joined(j)) {
        ++j;
        if (is(j, "s") && joined(j)) ++j;
    }
    if (punct(j, '-') && joined(j)) return true;  // Parkinson-plus, Guillain-Barre
    return word(j) && has(j, kFEponymHeads) && !flag(j, kCap);
}

size_t ChunkDetector::name_sequence(size_t i, float conf, bool allow_last_first, int max_tokens) {
    int taken = 0;
    size_t j = i;
    while (j < n() && taken < max_tokens) {
        if (taken > 0 && newline_before(j)) break;
        if (initial(j)) {
            name_tok(j, conf, false);
            add_tok(j, j + 1, Category::kName, conf, 6);
            j += 2;
            ++taken;
            continue;
        }
        if (word(j) && len(j) <= 2 && flag(j, kCap) && punct(j + 1, '\'') && joined(j + 1) &&
            cap_word(j + 2) && joined(j + 2)) {  // O'Brien, D'Aleo
            name_tok(j + 2, conf, true);
            add_tok(j, j + 2, Category::kName, conf, 6);
            j += 3;
            ++taken;
            if (!(j < n() && flag(j, kSpace) && !newline_before(j))) break;
            continue;
        }
        if (word(j) && len(j) == 1 && flag(j, kCap) && taken > 0 && !word(j + 1)) {
            name_tok(j, conf, false);  // middle initial without a period
            ++j;
            ++taken;
            continue;
        }
        if (!name_like(j) && !(flag(j, kAllCaps) && !has(j, kFNotName) && !has(j, kFCredentials) &&
                               !clinical(j) && len(j) > 2)) {
            break;
        }
        if (flag(j, kAllCaps) && len(j) <= 2) break;  // BP, HR: abbreviations, not names
        if (punct(j + 1, ':')) break;                 // the next field's label
        if (taken > 0 && toks_[j].s >= 2 && text_[toks_[j].s - 1] == ' ' &&
            (text_[toks_[j].s - 2] == ' ' || text_[toks_[j].s - 2] == '\t')) {
            break;  // two spaces: the next column of a header
        }
        if (clinical(j) && eponym_use(j)) break;
        name_tok(j, conf, true);
        ++taken;
        ++j;
        // O'Brien, Smith-Jones: joined pieces continue the same name
        while ((punct(j, '-') || punct(j, '\'')) && joined(j) && cap_word(j + 1) && joined(j + 1)) {
            name_tok(j + 1, conf, true);
            add_tok(j - 1, j + 1, Category::kName, conf, 6);
            j += 2;
        }
        if (allow_last_first && taken == 1 && punct(j, ',') && !newline_before(j + 1) &&
            name_like(j + 1) && (!english(j + 1) || has(j + 1, kFFirstNames))) {
            // "Last, First [M.]"
            j += 1;
            allow_last_first = false;
            continue;
        }
        if (!(j < n() && (flag(j, kSpace)) && !newline_before(j))) break;
    }
    return j;
}

// ---- structured identifiers ------------------------------------------------------------------

// "Mobile: 0490 39 07 81", "Tel +44 7700 921 916", "fax 345-899-3560x4587": after a phone
// word, a run of digit groups (7 to 18 digits) in any national format.
bool ChunkDetector::rule_labelled_phone(size_t i) {
    bool fax = is(i, "fax") || is(i, "facsimile");
    if (!(fax || is(i, "phone") || is(i, "telephone") || is(i, "tel") || is(i, "mobile") ||
          is(i, "cell") || is(i, "pager") || is(i, "beeper") || is(i, "desk") || is(i, "ph") ||
          is(i, "cellphone") || is(i, "landline"))) {
        return false;
    }
    size_t j = i + 1;
    while (j < n() && !newline_before(j) &&
           (punct(j, ':') || punct(j, '#') || punct(j, '.') || is(j, "number") || is(j, "no") ||
            is(j, "is") || is(j, "at"))) {
        ++j;
    }
    if (j >= n() || newline_before(j)) return false;
    size_t s = j, last = SIZE_MAX, digits = 0;
    while (j < n() && (j == s || !newline_before(j))) {
        if (j > s && flag(j, kSpace) && !(num(j) || punct(j, '+') || punct(j, '('))) break;
        if (num(j)) {
            digits += len(j);
        } else if (word(j) && flag(j, kDigit) && j > s) {  // 3560x4587: an extension
            digits += len(j) - 1;
        } else if (!(punct(j, '+') || punct(j, '(') || punct(j, ')') || punct(j, '-') ||
                     punct(j, '.'))) {
            break;
        }
        if (num(j) || word(j)) last = j;
        ++j;
    }
    if (last == SIZE_MAX || digits < 7 || digits > 18) return false;
    add(toks_[s].s, toks_[last].e, fax ? Category::kFax : Category::kPhone, 0.85f, 8);
    return true;
}

bool ChunkDetector::try_phone(size_t i) {
    // Shapes: (ddd) ddd-dddd, ddd-ddd-dddd, ddd.ddd.dddd, +1 ddd ddd dddd, with "ext. ddd".
    size_t j = i;
    size_t start = toks_[i].s;
    bool plus = false;
    if (punct(j, '+') && is(j + 1, "1")) {
        plus = true;
        j += 2;
        if (punct(j, '-') || punct(j, '.')) ++j;
    } else if (is(j, "1") && (punct(j + 1, '-') || punct(j + 1, ' ')) && num(j + 2) &&
               len(j + 2) == 3) {
        j += 2;
    }
    size_t area = 0;
    bool paren = false;
    if (punct(j, '(') && num(j + 1) && len(j + 1) == 3 && punct(j + 2, ')')) {
        area = j + 1;
        paren = true;
        j += 3;
    } else if (num(j) && len(j) == 3) {
        area = j;
        j += 1;
    } else {
        return false;
    }
    (void)area;
    char sep = 0;
    if (!paren) {
        if (punct(j, '-') || punct(j, '.')) {
            sep = text_[toks_[j].s];
            if (!joined(j)) return false;
            ++j;
        } else if (!(plus && flag(j, kSpace))) {
            return false;
        }
    } else if (punct(j, '-')) {
        ++j;
    }
    if (!(num(j) && len(j) == 3)) return false;
    ++j;
    if (punct(j, '-') || punct(j, '.')) {
        if (sep && text_[toks_[j].s] != sep) return false;
        ++j;
    } else if (!flag(j, kSpace) || !(plus || paren)) {
        return false;
    }
    if (!(num(j) && len(j) == 4)) return false;
    size_t last = j;
    if (word(j + 1) && joined(j + 1)) return false;
    if ((punct(j + 1, '-') || punct(j + 1, '.') || punct(j + 1, '/')) && num(j + 2) &&
        joined(j + 1) && joined(j + 2)) {
        return false;
    }
    // extension
    size_t k = j + 1;
    if (is(k, "ext") || is(k, "x") || is(k, "extension")) {
        size_t m = k + 1;
        if (punct(m, '.')) ++m;
        if (num(m) && len(m) <= 6) last = m;
    }
    // fax or phone: look back a few tokens for "fax" / "F:"
    Category cat = Category::kPhone;
    for (size_t b = i, steps = 0; b > 0 && steps < 4; --b, ++steps) {
        if (is(b - 1, "fax") || is(b - 1, "facsimile") || (is(b - 1, "f") && punct(b, ':'))) {
            cat = Category::kFax;
            break;
        }
        if (word(b - 1) && !is(b - 1, "number") && !is(b - 1, "no") && !is(b - 1, "#")) break;
    }
    add(start, toks_[last].e, cat, 0.95f, 9);
    return true;
}

void ChunkDetector::rule_structured(size_t i) {
    const Tok& t = toks_[i];
    // e-mail: extend left and right of '@' over address characters
    if (punct(i, '@') && i > 0 && joined(i) && word(i + 1) && joined(i + 1)) {
        auto addr_char = [](char c) {
            return is_ascii_alnum(static_cast<uint8_t>(c)) || c == '.' || c == '_' || c == '-' ||
                   c == '+' || c == '%';
        };
        size_t s = t.s, e = t.e;
        while (s > 0 && addr_char(text_[s - 1])) --s;
        while (e < text_.size() && addr_char(text_[e])) ++e;
        while (e > t.e && (text_[e - 1] == '.' || text_[e - 1] == '-')) --e;
        while (s < t.s && text_[s] == '.') ++s;
        if (s < t.s && text_.substr(t.e, e - t.e).find('.') != std::string_view::npos) {
            add(s, e, Category::kEmail, 0.98f, 10);
        }
        return;
    }
    // URL
    bool scheme = (is(i, "http") || is(i, "https") || is(i, "ftp")) && punct(i + 1, ':') &&
                  punct(i + 2, '/') && punct(i + 3, '/');
    bool www = is(i, "www") && punct(i + 1, '.') && word(i + 2) && joined(i + 1);
    if (word(i) && (scheme || www)) {
        size_t e = t.e;
        while (e < text_.size() && static_cast<uint8_t>(text_[e]) > ' ' && text_[e] != '"' &&
               text_[e] != '<' && text_[e] != '>') {
            ++e;
        }
        while (e > t.e && std::strchr(".,;:)]}'!?", text_[e - 1])) --e;
        add(t.s, e, Category::kUrl, 0.97f, 10);
        return;
    }
    if (word(i) && flag(i, kDigit) && len(i) == 3 && w(i)[0] == '9' &&
        (w(i)[2] == 's' || w(i)[2] == 'S') && i > 0 &&
        (is(i - 1, "his") || is(i - 1, "her") || is(i - 1, "their") || is(i - 1, "mid") ||
         is(i - 1, "early") || is(i - 1, "late"))) {
        add_tok(i, i, Category::kAge, 0.8f, 8);  // "in her 90s"
        return;
    }
    if (!num(i) && !punct(i, '(') && !punct(i, '+')) return;
    if (i > 0 && joined(i) && (word(i - 1) || num(i - 1))) return;  // inside a larger token
    if (i > 1 && joined(i) && (punct(i - 1, '-') || punct(i - 1, '/') || punct(i - 1, '.')) &&
        num(i - 2) && joined(i - 1)) {
        return;  // middle of a number chain
    }
    if (try_phone(i)) return;
    if (!num(i)) return;
    // SSN ddd-dd-dddd
    if (len(i) == 3 && punct(i + 1, '-') && num(i + 2) && len(i + 2) == 2 && punct(i + 3, '-') &&
        num(i + 4) && len(i + 4) == 4 && joined(i + 1) && joined(i + 2) && joined(i + 3) &&
        joined(i + 4) && !(joined(i + 5) && (num(i + 5) || word(i + 5)))) {
        add_tok(i, i + 4, Category::kSsn, 0.95f, 9);
        return;
    }
    // IPv4
    if (len(i) <= 3 && punct(i + 1, '.') && num(i + 2) && punct(i + 3, '.') && num(i + 4) &&
        punct(i + 5, '.') && num(i + 6) && joined(i + 6) && joined(i + 5) && joined(i + 4) &&
        joined(i + 3) && joined(i + 2) && joined(i + 1)) {
        bool ok = true;
        for (size_t k = i; k <= i + 6; k += 2) ok = ok && len(k) <= 3 && num_value(k) <= 255;
        if (ok && !(punct(i + 7, '.') && num(i + 8) && joined(i + 7))) {
            add_tok(i, i + 6, Category::kIp, 0.9f, 9);
            return;
        }
    }
    rule_numeric_date(i);
    // Age over 89: "92-year-old", "92 yo", "92 y/o", "aged 92"; "in her 90s" (word tokens)
    int v = num_value(i);
    if (v >= 90 && v <= 130) {
        size_t j = i + 1;
        if (punct(j, '-')) ++j;
        bool age = false;
        if (is(j, "year") || is(j, "years") || is(j, "yr") || is(j, "yrs") || is(j, "yo") ||
            is(j, "yof") || is(j, "yom") || is(j, "yoM") ||
            (is(j, "y") && (punct(j + 1, '/') || punct(j + 1, '.')))) {
            age = true;
        }
        if (i > 0 && (is(i - 1, "aged") || is(i - 1, "age") ||
                      (punct(i - 1, ':') && i > 1 && is(i - 2, "age")))) {
            age = true;
        }
        if (i > 0 && (is(i - 1, "of") && i > 1 && is(i - 2, "age"))) age = true;
        if (age) add_tok(i, i, Category::kAge, 0.9f, 8);
    }
    // Long numbers: any other run of 6+ digits (or 5+ digits joined with letters/hyphens)
    size_t j = i, digits = 0;
    bool letters = false;
    while (j < n() && (num(j) || word(j) || punct(j, '-')) && (j == i || joined(j))) {
        if (punct(j, '-') && !(j + 1 < n() && (num(j + 1) || word(j + 1)) && joined(j + 1))) break;
        for (char c : w(j)) {
            if (c >= '0' && c <= '9')
                ++digits;
            else if (c != '-')
                letters = true;
        }
        ++j;
    }
    size_t longest = 0;
    for (size_t k = i; k < j; ++k) longest = std::max(longest, num(k) ? len(k) : size_t{0});
    // A code of a clinical terminology ("SNOMED 49727002", "RxNorm 314076") names a concept,
    // not a person: left alone, so that de-identified text keeps its codes.
    bool terminology_code = false;
    if (i > 0 && word(i - 1)) {
        for (std::string_view system : {"snomed", "sct", "loinc", "rxnorm", "rxcui", "cvx", "icd",
                                        "cpt", "ndc", "hcpcs", "umls", "cui"}) {
            terminology_code = terminology_code || ieq(w(i - 1), system);
        }
    }
    if (!terminology_code &&
        ((digits >= 6 && (longest >= 5 || letters)) || (digits >= 5 && letters))) {
        add(t.s, toks_[j - 1].e, Category::kId, 0.6f, 3);
    }
}

void ChunkDetector::rule_numeric_date(size_t i) {
    // a[sep]b[sep]c with sep one of / - .; a and b up to 2 digits (or a = 4-digit year)
    if (!(punct(i + 1, '/') || punct(i + 1, '-') || punct(i + 1, '.'))) return;
    char sep = text_[toks_[i + 1].s];
    if (!(num(i + 2) && joined(i + 1) && joined(i + 2))) return;
    bool three = punct(i + 3, sep) && num(i + 4) && joined(i + 3) && joined(i + 4);
    size_t last = three ? i + 4 : i + 2;
    if (joined(last + 1) && (word(last + 1) || num(last + 1) ||
                             ((punct(last + 1, '/') || punct(last + 1, '-')) && num(last + 2)))) {
        return;
    }
    if (i > 0 && joined(i) && (punct(i - 1, '/') || punct(i - 1, '-'))) return;
    int a = num_value(i), b = num_value(i + 2), c = three ? num_value(i + 4) : -1;
    size_t la = len(i), lb = len(i + 2), lc = three ? len(i + 4) : 0;
    DateFields f;
    auto off = [&](size_t k) { return static_cast<uint16_t>(toks_[k].s - toks_[i].s); };
    auto set_m = [&](size_t k, int v) {
        f.month = v;
        f.m_off = off(k);
        f.m_len = static_cast<uint16_t>(len(k));
        f.zero_pad_month = len(k) == 2 && text_[toks_[k].s] == '0';
    };
    auto set_d = [&](size_t k, int v) {
        f.day = v;
        f.d_off = off(k);
        f.d_len = static_cast<uint16_t>(len(k));
        f.zero_pad_day = len(k) == 2 && text_[toks_[k].s] == '0';
    };
    auto set_y = [&](size_t k, int v) {
        f.year = len(k) == 2 ? 2000 + v : v;
        f.y_off = off(k);
        f.y_len = static_cast<uint16_t>(len(k));
    };
    float conf = 0.9f;
    if (three) {
        if (la == 4 && lb <= 2 && lc <= 2 && sep != '.') {  // yyyy-mm-dd
            if (b < 1 || b > 12 || c < 1 || c > 31 || a < 1800 || a > 2200) return;
            set_y(i, a), set_m(i + 2, b), set_d(i + 4, c);
        } else if (la <= 2 && lb <= 2 && (lc == 4 || lc == 2)) {
            if (sep == '.' && a <= 31 && b <= 12 && a >= 1 && b >= 1) {  // dd.mm.yyyy
                set_d(i, a), set_m(i + 2, b);
            } else if (a >= 1 && a <= 12 && b >= 1 && b <= 31) {  // mm/dd/yyyy
                set_m(i, a), set_d(i + 2, b);
            } else if (b >= 1 && b <= 12 && a >= 1 && a <= 31) {  // dd/mm/yyyy
                set_d(i, a), set_m(i + 2, b);
            } else {
                return;
            }
            set_y(i + 4, c);
            if (lc == 2 && sep == '.') conf = 0.7f;
        } else {
            return;
        }
    } else if ((sep == '/' || sep == '-') && la <= 2 && lb == 4 && a >= 1 && a <= 12 && b >= 1900 &&
               b <= 2100) {
        set_m(i, a), set_y(i + 2, b);  // month and year: "2/2019", "03-2021"
        conf = 0.85f;
    } else {
        // m/d without a year: only '/' and with date context, never a fraction or a ratio
        if (sep != '/' || la > 2 || lb > 2 || a < 1 || a > 12 || b < 1 || b > 31) return;
        bool ctx = false;
        if (i > 0) {
            static const WordTable before{
                "on",        "since",     "from",     "until",    "till",       "dated",
                "by",        "through",   "thru",     "to",       "before",     "after",
                "starting",  "started",   "ending",   "last",     "next",       "date",
                "dos",       "of",        "seen",     "visit",    "day",        "and",
                "sched",     "scheduled", "due",      "admitted", "discharged", "returned",
                "began",     "effective", "expires",  "week",     "given",      "done",
                "performed", "placed",    "received", "obtained", "drawn",      "collected",
                "held",      "return",    "surgery",  "biopsy",   "updated",    "monday",
                "tuesday",   "wednesday", "thursday", "friday",   "saturday",   "sunday",
                "dc"};
            if (word(i - 1) && before.has(w(i - 1))) ctx = true;
            // a strong date word among the three words before ("discharged home 5/3")
            static const WordTable strong_before{
                "discharged", "admitted", "seen",     "appt",    "appointment", "scheduled",
                "sched",      "visit",    "returned", "due",     "dated",       "date",
                "dos",        "since",    "until",    "surgery", "biopsy",      "followup",
                "follow-up",  "started",  "stopped",  "began"};
            for (size_t k = i, seen = 0; k > 0 && seen < 3 && !newline_before(k); --k) {
                if (!word(k - 1)) break;
                ++seen;
                if (strong_before.has(w(k - 1))) ctx = true;
            }
            if (punct(i - 1, '(') || punct(i - 1, ':')) ctx = true;
            if (i > 1 && punct(i - 1, ',') && word(i - 2)) {
                for (const char* d : kWeekdays) ctx = ctx || ieq(w(i - 2), d);
            }
        }
        size_t k = i + 3;
        if (word(k)) {
            static const WordTable after{
                "strength", "pain",  "murmur", "tab",    "tabs",  "tablet",   "tablets",
                "dose",     "doses", "of",     "cup",    "inch",  "inches",   "mile",
                "miles",    "ns",    "normal", "saline", "ratio", "reflexes", "bilaterally",
                "motor",    "in",    "power",  "grade",  "score", "positive", "vision",
                "hours",    "days",  "weeks",  "times",  "point", "points",   "cores",
                "nodes",    "lymph", "scale"};
            if (after.has(w(k))) return;
        }
        if (punct(k, '%')) return;
        if (!ctx) return;
        set_m(i, a), set_d(i + 2, b);
        conf = 0.8f;
    }
    out_.dates.push_back(f);
    add(toks_[i].s, toks_[last].e, Category::kDate, conf, 9,
        static_cast<int>(out_.dates.size() - 1));
}

int month_of(std::string_view w, bool* full) {
    if (w.size() < 3) return -1;
    for (int m = 0; m < 12; ++m) {
        std::string_view name = kMonths[static_cast<size_t>(m)];
        if (ieq(w, name)) {
            *full = true;
            return m + 1;
        }
        if (w.size() == 3 && ieq(w, name.substr(0, 3))) {
            *full = false;
            return m + 1;
        }
        if (w.size() == 4 && m == 8 && ieq(w, "sept")) {
            *full = false;
            return 9;
        }
    }
    return -1;
}

// "14th" -> 14 with ordinal; "14" -> 14.
int day_of(std::string_view w, bool* ordinal) {
    int v = 0;
    size_t k = 0;
    while (k < w.size() && k < 2 && w[k] >= '0' && w[k] <= '9') v = v * 10 + (w[k++] - '0');
    if (k == 0 || v < 1 || v > 31) return -1;
    std::string_view rest = w.substr(k);
    *ordinal = !rest.empty();
    if (rest.empty()) return v;
    if (ieq(rest, "st") || ieq(rest, "nd") || ieq(rest, "rd") || ieq(rest, "th")) return v;
    return -1;
}

void ChunkDetector::rule_written_date(size_t i) {
    if (!word(i) || flag(i, kDigit)) return;
    {
        // weekday names and holidays
        if (cap_word(i) && has(i, kFWeekday | kFHoliday)) {
            for (int d = 0; d < 7; ++d) {
                if (ieq(w(i), kWeekdays[static_cast<size_t>(d)])) {
                    DateFields f;
                    f.weekday = d;
                    out_.dates.push_back(f);
                    add(toks_[i].s, toks_[i].e, Category::kDate, 0.75f, 5,
                        static_cast<int>(out_.dates.size() - 1));
                    return;
                }
            }
            struct Holiday {
                const char* w;
                int m, d;
            };
            static const Holiday holidays[] = {{"christmas", 12, 25},
                                               {"thanksgiving", 11, 25},
                                               {"halloween", 10, 31},
                                               {"easter", 4, 10}};
            for (const auto& h : holidays) {
                if (ieq(w(i), h.w)) {
                    DateFields f;
                    f.holiday_month = h.m;
                    f.holiday_day = h.d;
                    out_.dates.push_back(f);
                    size_t e = i;
                    if (is(i + 1, "eve") || is(i + 1, "day")) e = i + 1;
                    add(toks_[i].s, toks_[e].e, Category::kDate, 0.7f, 5,
                        static_cast<int>(out_.dates.size() - 1));
                    return;
                }
            }
        }
        // "the 14th"
        if (is(i, "the") && word(i + 1) && flag(i + 1, kDigit)) {
            bool ord = false;
            int d = day_of(w(i + 1), &ord);
            static const WordTable nouns{
                "percentile", "centile",   "rib",       "ribs",        "cranial",    "grade",
                "week",       "weeks",     "day",       "days",        "cycle",      "time",
                "times",      "birthday",  "floor",     "street",      "century",    "dose",
                "visit",      "year",      "month",     "finger",      "toe",        "digit",
                "nerve",      "ventricle", "vertebra",  "intercostal", "metatarsal", "metacarpal",
                "tooth",      "molar",     "line",      "fraction",    "generation", "degree",
                "hour",       "minute",    "round",     "attempt",     "trial",      "pregnancy",
                "child",      "session",   "admission", "episode",     "level",      "position"};
            if (d > 0 && ord && !(word(i + 2) && nouns.has(w(i + 2)))) {
                if (punct(i + 2, '-')) return;
                DateFields f;
                f.day = d;
                f.d_off = 0;
                f.d_len = static_cast<uint16_t>(len(i + 1));
                f.day_ordinal = true;
                out_.dates.push_back(f);
                add(toks_[i + 1].s, toks_[i + 1].e, Category::kDate, 0.7f, 7,
                    static_cast<int>(out_.dates.size() - 1));
            }
            return;
        }
    }
    if (!has(i, kFMonth)) return;
    bool full = false;
    int m = month_of(w(i), &full);
    if (m < 0 || !(flag(i, kCap))) return;
    DateFields f;
    size_t first = i, last = i;
    size_t j = i + 1;
    if (punct(j, '.') && joined(j) && !full) ++j;
    auto rel = [&](size_t k) { return toks_[k].s; };
    bool has_day = false, has_year = false;
    size_t day_tok = 0, year_tok = 0;  // token indices of the day and the year
    // day after month: "March 14", "Mar. 14th", "MAR 14"
    bool ord = false;
    if (j < n() && (num(j) || (word(j) && flag(j, kDigit))) && !newline_before(j)) {
        int d = day_of(w(j), &ord);
        if (d > 0 && !(num(j) && len(j) > 2)) {
            f.day = d;
            f.day_ordinal = ord;
            has_day = true;
            last = j;
            size_t dj = j;
            ++j;
            f.d_len = static_cast<uint16_t>(len(dj));
            day_tok = dj;
        }
    }
    // year: ", 2024" / " 2024" / "-2024" / " of 2024"
    size_t yj = j;
    if (punct(yj, ',') || (punct(yj, '-') && joined(yj))) ++yj;
    if (is(yj, "of") && !has_day) ++yj;
    if (num(yj) && (len(yj) == 4) && !newline_before(yj)) {
        int y = num_value(yj);
        if (y >= 1800 && y <= 2200) {
            f.year = y;
            f.y_len = 4;
            year_tok = yj;
            has_year = true;
            last = yj;
        }
    }
    // day before month: "14 March 2024", "14-Mar-2024", "14th of March"
    if (!has_day && i > 0) {
        size_t k = i - 1;
        if ((punct(k, '-') && joined(i)) || is(k, "of")) {
            if (k > 0) --k;
        }
        if (k < i && (num(k) || (word(k) && flag(k, kDigit)))) {
            int d = day_of(w(k), &ord);
            if (d > 0 && !(num(k) && len(k) > 2)) {
                f.day = d;
                f.day_ordinal = ord;
                f.d_len = static_cast<uint16_t>(len(k));
                day_tok = k;
                has_day = true;
                first = k;
                // "14-Mar-24": two-digit year
                if (!has_year && punct(i + 1, '-') && num(i + 2) && len(i + 2) == 2 &&
                    joined(i + 2)) {
                    f.year = 2000 + num_value(i + 2);
                    f.y_len = 2;
                    year_tok = i + 2;
                    has_year = true;
                    last = i + 2;
                }
            }
        }
    }
    float conf = 0.9f;
    if (!has_day && !has_year) {
        // a month alone: only after a preposition of time, and never the verb "may"
        static const WordTable before{"in",    "since",   "during", "early",  "mid",   "late",
                                      "until", "by",      "from",   "last",   "next",  "this",
                                      "of",    "through", "till",   "before", "after", "around"};
        if (!(i > 0 && word(i - 1) && before.has(w(i - 1)))) return;
        if (ieq(w(i), "may") || !full) return;
        conf = 0.75f;
    }
    if (ieq(w(i), "may") && !has_day && !has_year) return;
    if (!full && !has_day && !has_year) return;
    // convert token indices into byte offsets relative to the span start
    size_t span_start = toks_[first].s;
    f.month = m;
    f.m_off = static_cast<uint16_t>(rel(i) - span_start);
    f.m_len = static_cast<uint16_t>(len(i));
    f.month_style = full ? 1 : 2;
    f.month_upper = flag(i, kAllCaps);
    if (toks_[last].e - span_start > 0xFFFF) return;
    if (has_day) f.d_off = static_cast<uint16_t>(rel(day_tok) - span_start);
    if (has_year) f.y_off = static_cast<uint16_t>(rel(year_tok) - span_start);
    out_.dates.push_back(f);
    add(span_start, toks_[last].e, Category::kDate, conf, 8,
        static_cast<int>(out_.dates.size() - 1));
}

void ChunkDetector::rule_keyword_id(size_t i) {
    if (!has(i, kFIdKeyword)) return;
    if (rule_labelled_phone(i)) return;
    Category cat;
    size_t j = i + 1;
    std::string_view k = w(i);
    auto lower_is = [&](const char* s) { return ieq(k, s); };
    if (lower_is("mrn") || lower_is("mr") || lower_is("mr#") || lower_is("chart") ||
        lower_is("emr") || lower_is("ehr")) {
        if (lower_is("mr") && !punct(j, '#')) return;
        if (lower_is("chart") && !(punct(j, '#') || is(j, "number") || is(j, "no"))) return;
        cat = Category::kMrn;
    } else if (lower_is("medical") && is(j, "record")) {
        cat = Category::kMrn;
        ++j;
    } else if (lower_is("record") && (punct(j, '#') || is(j, "number") || is(j, "no"))) {
        cat = Category::kMrn;
    } else if (lower_is("acct") || lower_is("account")) {
        cat = Category::kAccount;
    } else if (lower_is("member") || lower_is("subscriber") || lower_is("policy") ||
               lower_is("medicaid") || lower_is("medicare") || lower_is("beneficiary") ||
               lower_is("insurance") || lower_is("hicn") || lower_is("mbi")) {
        cat = Category::kHealthPlan;
    } else if (lower_is("group") && (punct(j, '#') || is(j, "number") || is(j, "no"))) {
        cat = Category::kHealthPlan;
    } else if (lower_is("license") || lower_is("licence") || lower_is("lic") || lower_is("dl") ||
               lower_is("dea") || lower_is("npi") || lower_is("certificate") || lower_is("cert") ||
               lower_is("passport")) {
        cat = Category::kLicense;
        if (is(j, "plate")) {
            cat = Category::kVehicle;
            ++j;
        }
    } else if (lower_is("plate") || lower_is("vin") || lower_is("tag")) {
        cat = Category::kVehicle;
    } else if (lower_is("serial") || lower_is("s/n") || lower_is("sn") || lower_is("udi") ||
               lower_is("imei") || lower_is("device")) {
        cat = Category::kDevice;
        if (lower_is("device") && !(is(j, "id") || is(j, "identifier") || is(j, "serial"))) {
            return;
        }
    } else if (lower_is("ssn") || (lower_is("social") && is(j, "security"))) {
        cat = Category::kSsn;
        if (lower_is("social")) ++j;
    } else if (lower_is("fingerprint") || lower_is("voiceprint") || lower_is("biometric") ||
               lower_is("retinal") || lower_is("iris")) {
        cat = Category::kBiometric;
    } else if (lower_is("accession") || lower_is("specimen") || lower_is("id") ||
               lower_is("identifier") || lower_is("badge") || lower_is("employee") ||
               lower_is("case") || lower_is("claim") || lower_is("ticket") ||
               lower_is("requisition") || lower_is("encounter") || lower_is("order") ||
               lower_is("invoice") || lower_is("ref") || lower_is("reference") || lower_is("csn") ||
               lower_is("fin") || lower_is("visit")) {
        cat = Category::kId;
    } else {
        return;
    }
    // fillers between the keyword and the code
    static const WordTable fillers{
        "number", "no",  "num",    "nbr",      "is",   "id",     "identifier", "of",   "code",
        "scan",   "#",   "plate",  "security", "card", "record", "insurance",  "acct", "account",
        "nr",     "ids", "serial", "template", "hash", "cross",  "shield"};
    for (int steps = 0; steps < 5 && j < n(); ++steps) {
        if (punct(j, ':') || punct(j, '#') || punct(j, '.') || punct(j, '-') || punct(j, '(') ||
            punct(j, '=')) {
            ++j;
        } else if (word(j) && !flag(j, kDigit) && fillers.has(w(j))) {
            ++j;
        } else {
            break;
        }
    }
    if (j >= n()) return;
    // the code: alphanumeric tokens joined by '-' (or nothing), at least one digit
    size_t s = j, e = j, digits = 0, chars = 0;
    while (e < n() && (num(e) || word(e) || punct(e, '-') || punct(e, '/')) &&
           (e == s || joined(e))) {
        if ((punct(e, '-') || punct(e, '/')) &&
            !(e + 1 < n() && (num(e + 1) || word(e + 1)) && joined(e + 1))) {
            break;
        }
        for (char c : w(e)) {
            if (c >= '0' && c <= '9') ++digits;
            ++chars;
        }
        ++e;
    }
    if (e == s || digits == 0 || chars < 3) return;
    add(toks_[s].s, toks_[e - 1].e, cat, 0.9f, 8);
}

// ---- names ------------------------------------------------------------------------------------

void ChunkDetector::rule_names(size_t i) {
    if (!word(i)) return;
    // 1. Titles: "Dr. Smith", "Mrs Jane Doe"
    if (flag(i, kCap) && has(i, kFTitles)) {
        size_t j = i + 1;
        if (punct(j, '.') && joined(j)) ++j;
        bool abbreviated = !(is(i, "doctor") || is(i, "sister") || is(i, "nurse") ||
                             is(i, "professor") || is(i, "father"));
        if (j < n() && !newline_before(j) && (name_like(j) || initial(j)) &&
            (abbreviated || !english(j))) {
            name_sequence(j, 0.95f, false);
        }
        return;
    }
    // "My name is Jane Doe", "a man named Jan Kowalski"
    if ((is(i, "is") && i > 0 && is(i - 1, "name")) || is(i, "named")) {
        if (name_like(i + 1) && !newline_before(i + 1) && !has(i + 1, kFClinical)) {
            name_sequence(i + 1, 0.85f, false, 3);
        }
        return;
    }
    // 2. Labels: "Patient: Doe, Jane", "Signed by Jane Doe", "Dear Jane"
    if (has(i, kFColonLabels) && punct(i + 1, ':')) {
        size_t j = i + 2;
        if (j < n() && flag(j, kCap) && has(j, kFTitles)) return;  // the title rule does it
        if (j < n() && (name_like(j) || initial(j) || (flag(j, kAllCaps) && !clinical(j)))) {
            name_sequence(j, 0.9f, true);
        }
        return;
    }
    if (has(i, kFNameVerbs)) {
        size_t j = i + 1;
        if (punct(j, ':') || punct(j, ',')) ++j;
        if (j < n() && flag(j, kCap) && has(j, kFTitles)) return;
        bool strong_verb = is(i, "by") || is(i, "dear") || is(i, "sincerely") || is(i, "regards") ||
                           is(i, "signed") || is(i, "attn");
        if (j < n() && name_like(j) && !clinical(j) && (strong_verb ? true : !english(j)) &&
            (has(j, kFFirstNames) || has(j, kFLastNames) || !english(j))) {
            if (is(i, "with") || is(i, "to") || is(i, "from") || is(i, "per")) {
                // weaker: a proper name must look like one (two capitalised words)
                if (!(name_like(j + 1) && flag(j + 1, kSpace) && !newline_before(j + 1))) return;
            }
            name_sequence(j, 0.85f, true);
        }
        return;
    }
    // 3. Relations: "his wife Anna", "daughter, Maria Lopez"
    if (has(i, kFRelations)) {
        size_t j = i + 1;
        if (punct(j, ',')) ++j;
        bool two_words =
            name_like(j + 1) && flag(j + 1, kSpace) && !newline_before(j + 1) && !english(j + 1);
        if (j < n() && !newline_before(j) && name_like(j) && !clinical(j) &&
            (!english(j) || has(j, kFFirstNames) || two_words)) {
            name_sequence(j, 0.85f, false, 3);
        }
        return;
    }
    // 4. Credentials: "Jane Doe, MD", "J. Doe RN"
    if (has(i, kFCredentials) &&
        (flag(i, kAllCaps) || is(i, "PhD") || is(i, "PharmD") || is(i, "PsyD")) && i >= 2) {
        size_t k = i - 1;
        if (punct(k, ','))
            --k;
        else if (!(flag(i, kSpace) && !newline_before(i)))
            return;
        // walk back over the name
        size_t first = SIZE_MAX;
        int taken = 0;
        while (taken < 4) {
            if (word(k) &&
                (name_like(k) || (flag(k, kAllCaps) && !has(k, kFCredentials) && !clinical(k)))) {
                first = k;
            } else if (punct(k, '.') && k > 0 && word(k - 1) && len(k - 1) == 1 &&
                       flag(k - 1, kCap)) {
                first = k - 1;
                --k;
            } else if (word(k) && len(k) == 1 && flag(k, kCap)) {
                first = k;
            } else {
                break;
            }
            ++taken;
            if (k == 0 || newline_before(first)) break;
            --k;
            if ((punct(k, '-') || punct(k, '\'')) && joined(k + 1) && joined(k) && k > 0 &&
                word(k - 1) && flag(k - 1, kCap)) {
                first = k - 1;  // D'Aleo, Smith-Jones
                if (k - 1 == 0) break;
                k -= 2;
                if (!(toks_[k + 1].flags & kSpace)) break;
                continue;
            }
            if (!(toks_[k + 1].flags & kSpace)) break;
        }
        if (first != SIZE_MAX && taken >= 1) name_sequence(first, 0.9f, false);
        return;
    }
    // 5. Lexicons: "John Smith", "SMITH, JOHN", a lone rare name
    if (!cap_word(i) || clinical(i) || has(i, kFNotName)) return;
    bool caps = flag(i, kAllCaps);
    if (caps && len(i) <= 3) return;
    bool in_first = has(i, kFFirstNames);
    bool in_last = has(i, kFLastNames);
    if (!in_first && !in_last) return;
    // "Fontana, Georgia 99810", "North Carolina": a state, not a person
    bool state_place = (has(i, kFStates) && (punct(i - 1, ',') || num(i + 1))) ||
                       (i > 0 && (is(i - 1, "north") || is(i - 1, "south")) && num(i + 1));
    if (state_place) return;
    bool eng = english(i);
    if (eponym_use(i)) return;
    size_t j = i + 1;
    if (initial(j)) j += 2;
    if (j < n() && !newline_before(j) && flag(j, kSpace) && name_like(j) &&
        !(clinical(j) && eponym_use(j)) && (caps == flag(j, kAllCaps)) && in_first &&
        (has(j, kFLastNames) || !english(j) ||
         (!eng && !punct(j + 1, ':') && toks_[j].s == toks_[j - 1].e + 1)) &&
        // Two English words ("Will Price") pass only as a known first name before a known
        // surname: the commonest names are English words too ("John Smith").
        !(eng && english(j) && !has(j, kFLastNames)) &&
        !has(j, kFFacilityHeads | kFFacilityGeneric | kFStreetSuffixes | kFStates)) {
        name_tok(i, 0.85f, true);
        if (j == i + 3) add_tok(i + 1, i + 2, Category::kName, 0.85f, 6);
        name_tok(j, 0.85f, !english(j));
        return;
    }
    if (punct(i + 1, ',') && name_like(i + 2) && !newline_before(i + 2) &&
        has(i + 2, kFFirstNames) && (caps == flag(i + 2, kAllCaps)) && !english(i + 2) &&
        !clinical(i + 2) && !has(i + 2, kFStates) && (in_last || !eng)) {
        name_tok(i, 0.85f, !eng);
        name_tok(i + 2, 0.85f, true);
        return;
    }
    if (!eng && !caps && len(i) >= 3) name_tok(i, 0.65f, false);
}

// Names the lexicon only half knows: "TURNER, RÓBERT" (a surname that is also an eponym) and
// "Branimira Barberi" (an unknown given name before a known surname).
void ChunkDetector::rule_half_known_names(size_t i) {
    if (!cap_word(i) || has(i, kFNotName) || has(i, kFCredentials)) return;
    bool caps = flag(i, kAllCaps);
    bool after_colon = i > 0 && punct(i - 1, ':');
    if (caps && len(i) > 2 && punct(i + 1, ',') && flag(i + 2, kAllCaps) && cap_word(i + 2) &&
        len(i + 2) > 2 && !newline_before(i + 2) && !has(i + 2, kFNotName) &&
        !has(i + 2, kFCredentials) && !english(i + 2) && !has(i + 2, kFStates) &&
        !clinical(i + 2) &&
        (has(i, kFLastNames) || has(i + 2, kFFirstNames) ||
         (after_colon && !english(i) && !clinical(i)))) {
        name_tok(i, 0.8f, !english(i));
        name_tok(i + 2, 0.8f, true);
        return;
    }
    if (caps || english(i) || clinical(i) || len(i) < 3) return;
    if (has(i, kFFirstNames) || has(i, kFLastNames)) return;
    size_t j = i + 1;
    if (initial(j)) j += 2;
    if (j < n() && flag(j, kSpace) && !newline_before(j) && cap_word(j) && !flag(j, kAllCaps) &&
        has(j, kFLastNames) && !has(j, kFNotName) && !eponym_use(j) && !has(j, kFFacilityHeads) &&
        !has(j, kFStreetSuffixes) && !has(j, kFFacilityGeneric)) {
        name_tok(i, 0.75f, true);
        if (j == i + 3) add_tok(i + 1, i + 2, Category::kName, 0.75f, 6);
        name_tok(j, 0.75f, !english(j));
        return;
    }
    // an unknown capitalised word doing what people do: "Anđela returns for ..."
    if (j == i + 1 && word(j) && !flag(j, kCap) && has(j, kFPersonVerbs) &&
        !(i > 0 && (word(i - 1) && !flag(i - 1, kCap)))) {
        name_tok(i, 0.7f, true);
    }
}

// Two or three capitalised words, one of them a lexicon name and none an English or clinical
// word, before a verb whose subject is a person: "Tomomi Nishiyama lives at ...".
void ChunkDetector::rule_name_before_verb(size_t i) {
    if (!cap_word(i) || flag(i, kAllCaps) ||
        (i > 0 && cap_word(i - 1) && flag(i, kSpace) && !newline_before(i))) {
        return;  // only at the start of a run of capitalised words
    }
    size_t k = i;
    bool known = false;
    while (k < n() && k < i + 3 && cap_word(k) && !flag(k, kAllCaps) && !english(k) &&
           !clinical(k) && !has(k, kFNotName | kFFacilityHeads | kFStates) &&
           (k == i || (flag(k, kSpace) && !newline_before(k)))) {
        known |= has(k, kFFirstNames | kFLastNames);
        ++k;
    }
    if (k - i < 2 || !known || !word(k) || flag(k, kCap) || !has(k, kFPersonVerbs)) return;
    for (size_t m = i; m < k; ++m) name_tok(m, 0.8f, true);
}

// ---- places -----------------------------------------------------------------------------------

void ChunkDetector::rule_places(size_t i) {
    // Street address: number, 1-5 capitalised words, a street suffix, an optional unit
    if ((num(i) && len(i) <= 6) &&
        !(i > 0 && joined(i) && (num(i - 1) || word(i - 1) || punct(i - 1, '/')))) {
        size_t j = i + 1;
        if (word(j) && joined(j) && len(j) == 1) ++j;  // 12B
        size_t suffix = SIZE_MAX;
        for (int k = 0; k < 5 && j < n(); ++k, ++j) {
            if (newline_before(j) || !flag(j, kSpace)) break;
            if (!(cap_word(j) || (word(j) && flag(j, kDigit) && flag(j, kAlpha)))) break;
            if (k > 0 && has(j + 1, kFUnitWords) && !has(j + 1, kFStreetSuffixes) &&
                cap_word(j + 1) && !has(j, kFStreetSuffixes) &&
                (num(j + 2) || (word(j + 2) && flag(j + 2, kDigit)) ||
                 (punct(j + 2, '.') && (num(j + 3) || word(j + 3))))) {
                suffix = j;  // no known suffix, but a unit follows: "692 Kuuse 53 Apt. 641"
                break;
            }
            if (k > 0 && has(j, kFStreetSuffixes)) {
                suffix = j;
                if (punct(j + 1, '.') && joined(j + 1)) suffix = j + 1;
                // prefer the last suffix in "Park Avenue": keep looking one more
                if (!(cap_word(j + 1) && has(j + 1, kFStreetSuffixes) && flag(j + 1, kSpace) &&
                      !newline_before(j + 1))) {
                    break;
                }
            }
        }
        if (suffix != SIZE_MAX) {
            size_t e = suffix;
            size_t u = e + 1;
            if (punct(u, ',')) ++u;
            if (u < n() && !newline_before(u) &&
                ((word(u) && has(u, kFUnitWords)) || punct(u, '#'))) {
                size_t v = u + 1;
                if (punct(v, '.') || punct(v, '#')) ++v;
                if (v < n() && (num(v) || (word(v) && (flag(v, kDigit) || len(v) <= 2)))) {
                    e = v;
                    if (word(v + 1) && joined(v + 1) && len(v + 1) == 1) e = v + 1;
                }
            }
            add_tok(i, e, Category::kStreet, 0.9f, 8);
        }
    }
    if (is(i, "box") && i > 0 && (is(i - 1, "po") || punct(i - 1, '.')) && num(i + 1)) {
        size_t s = i - 1;
        while (s > 0 && (is(s - 1, "p") || is(s - 1, "o") || punct(s - 1, '.')) && joined(s)) --s;
        add_tok(s, i + 1, Category::kStreet, 0.9f, 8);
    }
    if (!word(i)) return;
    // "City, ST 12345", "City, State", "City, New York 10001"
    size_t state_first = i;
    static const WordTable state_tails{"york",   "carolina", "dakota", "hampshire",
                                       "jersey", "mexico",   "island", "virginia"};
    if (flag(i, kCap) && i >= 3 && cap_word(i - 1) && state_tails.has(w(i)) &&
        (is(i - 1, "new") || is(i - 1, "north") || is(i - 1, "south") || is(i - 1, "west") ||
         is(i - 1, "rhode"))) {
        state_first = i - 1;
    }
    if ((has(i, kFStates) || state_first != i) && flag(i, kCap) && state_first >= 2) {
        size_t st = state_first;
        bool abbr = len(i) == 2 && st == i;
        if (abbr && !flag(i, kAllCaps)) return;
        size_t z = i + 1;
        bool zip = num(z) && len(z) == 5 && !newline_before(z);
        size_t c = st - 1;
        bool comma = punct(c, ',');
        if (abbr && !comma && !zip) return;
        if (abbr && !zip && has(i, kFCredentials)) return;  // "Jane Doe, MD" is a doctor
        if (comma && c > 0) --c;
        if (!comma && !abbr) return;
        size_t first = SIZE_MAX;
        for (int k = 0; k < 3; ++k) {
            if (!(cap_word(c) || flag(c, kAllCaps)) || has(c, kFNotName) || has(c, kFUnitWords) ||
                (k > 0 && has(c, kFStreetSuffixes) && c > 0 && (num(c - 1) || cap_word(c - 1)) &&
                 !newline_before(c))) {
                break;
            }
            first = c;
            if (c >= 2 && punct(c - 1, '-') && joined(c) && joined(c - 1) && cap_word(c - 2)) {
                first = c - 2;  // Winston-Salem
                c -= 2;
            }
            if (c == 0 || newline_before(c) || !flag(c, kSpace)) break;
            --c;
        }
        if (first != SIZE_MAX) {
            add(toks_[first].s, toks_[comma ? st - 2 : st - 1].e, Category::kCity, 0.85f, 6);
            // "8713 The Hawthorns Apt 15C, Baltimore, TX": the street before the city
            if (first >= 3 && punct(first - 1, ',') && comma) {
                size_t b = first - 2;
                for (int k = 0; k < 8 && b > 0; ++k) {
                    if (newline_before(b) || num(b)) break;
                    if (!(word(b) || punct(b, '.') || punct(b, '#'))) break;
                    --b;
                }
                if (num(b) && len(b) <= 6 && b + 1 < first - 1 && cap_word(b + 1) &&
                    !newline_before(b + 1)) {
                    add(toks_[b].s, toks_[first - 2].e, Category::kStreet, 0.8f, 7);
                }
            }
        }
        if (zip) {
            size_t e = z;
            if (punct(z + 1, '-') && num(z + 2) && len(z + 2) == 4 && joined(z + 1)) e = z + 2;
            add_tok(z, e, Category::kZip, 0.9f, 9);
        }
        return;
    }
    if ((is(i, "zip") || is(i, "zipcode") || is(i, "postal")) && i + 1 < n()) {
        size_t j = i + 1;
        while (j < n() && (is(j, "code") || punct(j, ':') || punct(j, '#'))) ++j;
        if (num(j) && len(j) == 5) add_tok(j, j, Category::kZip, 0.9f, 9);
        return;
    }
    // "X County"
    if (is(i, "county") && flag(i, kCap) && i > 0 && cap_word(i - 1) && !has(i - 1, kFNotName)) {
        size_t s = i - 1;
        if (s > 0 && cap_word(s - 1) && flag(s, kSpace) && !newline_before(s) &&
            !has(s - 1, kFNotName) && !has(s - 1, kFPlacePreps)) {
            --s;
        }
        add_tok(s, i, Category::kLocation, 0.85f, 7);
        return;
    }
    // Facilities: a run of capitalised words ending in a facility head word
    if (cap_word(i) && has(i, kFFacilityHeads) && i > 0) {
        size_t s = i;
        bool proper = false;
        size_t k = i;
        while (k > 0) {
            size_t p = k - 1;
            if (newline_before(k)) break;
            // "of" only inside names like "University of Chicago Medical Center"
            bool of_inside = is(p, "of") && p > 0 &&
                             (is(p - 1, "university") || is(p - 1, "college") ||
                              is(p - 1, "institute") || is(p - 1, "hospital"));
            if (cap_word(p) || of_inside || punct(p, '&')) {
                if (is(p, "The") || is(p, "the")) break;
                if (cap_word(p) && has(p, kFNotName) && !has(p, kFFacilityGeneric)) break;
                s = p;
                k = p;
                if (cap_word(p) && !has(p, kFFacilityGeneric)) proper = true;
                continue;
            }
            if (punct(p, '.') && p > 0 && is(p - 1, "st") && joined(p)) {  // St. Mary's
                s = p - 1;
                k = p - 1;
                continue;
            }
            if (is(p, "s") && p > 1 && punct(p - 1, '\'') && cap_word(p - 2) && joined(p) &&
                joined(p - 1)) {
                if (!has(p - 2, kFFacilityGeneric)) proper = true;
                s = p - 2;
                k = p - 2;
                continue;
            }
            break;
        }
        while (s < i && (is(s, "of") || punct(s, '&'))) ++s;
        // extend forward over generic words: "Mayo Clinic Health System"
        size_t e = i;
        while (e + 1 < n() && cap_word(e + 1) && flag(e + 1, kSpace) && !newline_before(e + 1) &&
               (has(e + 1, kFFacilityHeads) || has(e + 1, kFFacilityGeneric))) {
            ++e;
        }
        if (proper && s < i) {
            // head: the first generic word after the last proper word
            size_t h = i;
            while (h > s && has(h - 1, kFFacilityGeneric)) --h;
            add(toks_[s].s, toks_[e].e, Category::kFacility, 0.85f, 7, -1,
                static_cast<uint16_t>(std::min<size_t>(toks_[h].s - toks_[s].s, 65535)));
        }
        return;
    }
    // Cities from the lexicon after a preposition, or any place after "lives in"
    if (has(i, kFPlacePreps) && i + 1 < n() && cap_word(i + 1) && !newline_before(i + 1)) {
        size_t j = i + 1;
        bool residence =
            i > 0 && (has(i - 1, kFResidenceVerbs) ||
                      (is(i - 1, "up") && i > 1 && (is(i - 2, "grew") || is(i - 2, "grown"))));
        size_t e = SIZE_MAX;
        // up to three words, longest lexicon match first
        for (size_t k = std::min(j + 2, n() - 1); k + 1 > j; --k) {
            bool ok = true;
            for (size_t m = j; m <= k; ++m) ok = ok && cap_word(m) && !newline_before(m);
            if (!ok) continue;
            std::string_view phrase = text_.substr(toks_[j].s, toks_[k].e - toks_[j].s);
            if (lex_.cities.contains(phrase) && !english(j)) {
                e = k;
                break;
            }
        }
        bool multi = cap_word(j + 1) && flag(j + 1, kSpace) && !newline_before(j + 1) &&
                     !english(j + 1) && !has(j + 1, kFNotName);
        if (e == SIZE_MAX && residence && (!english(j) || multi) && !clinical(j) &&
            !has(j, kFNotName)) {
            e = j;
            if (cap_word(j + 1) && flag(j + 1, kSpace) && !newline_before(j + 1) &&
                !has(j + 1, kFNotName) && !has(j + 1, kFFacilityHeads)) {
                e = j + 1;
                if (cap_word(j + 2) && flag(j + 2, kSpace) && !newline_before(j + 2) &&
                    !has(j + 2, kFNotName) && !has(j + 2, kFFacilityHeads)) {
                    e = j + 2;  // "West Valley City"
                }
            }
        }
        if (e != SIZE_MAX && !(cap_word(e + 1) && has(e + 1, kFFacilityHeads))) {
            add_tok(j, e, Category::kCity, residence ? 0.85f : 0.75f, 5);
        }
    }
}

void ChunkDetector::run_rules() {
    for (size_t i = 0; i < n(); ++i) {
        rule_structured(i);
        rule_written_date(i);
        rule_keyword_id(i);
        rule_places(i);
        rule_names(i);
        rule_half_known_names(i);
        rule_name_before_verb(i);
    }
    extend_names();
}

// A name found with strong evidence reaches over its neighbours: the unknown given name before
// a known surname ("S: Ingrid Barta feels ..."), the other half after it, and the given name of
// a "Label: Last, First" header ("Pt: Rajtek, Mica") even when that name is an English word.
void ChunkDetector::extend_names() {
    const uint64_t kNotPart = kFNotName | kFCredentials | kFTitles | kFRelations | kFFacilityHeads |
                              kFFacilityGeneric | kFStreetSuffixes | kFStates | kFColonLabels |
                              kFMonth | kFWeekday;
    auto could_be_part = [&](size_t j) {
        return j < n() && name_like(j) && !flag(j, kAllCaps) && len(j) >= 2 && !clinical(j) &&
               !has(j, kNotPart) && (!english(j) || has(j, kFFirstNames | kFLastNames));
    };
    const std::vector<size_t> strong = strong_tokens_;
    for (size_t i : strong) {
        if (i > 0 && flag(i, kSpace) && !newline_before(i) && could_be_part(i - 1)) {
            name_tok(i - 1, 0.75f, false);
        }
        if (flag(i + 1, kSpace) && !newline_before(i + 1) && could_be_part(i + 1)) {
            name_tok(i + 1, 0.75f, false);
        }
        const bool header = i > 0 && punct(i - 1, ':');
        if (header && punct(i + 1, ',') && !newline_before(i + 2) && i + 2 < n() &&
            name_like(i + 2) && !clinical(i + 2) && !has(i + 2, kNotPart) &&
            (i + 3 >= n() || newline_before(i + 3) || !word(i + 3) || flag(i + 3, kCap))) {
            name_tok(i + 2, 0.75f, false);
        }
    }
}

void ChunkDetector::propagate(const std::vector<uint64_t>& strong) {
    if (strong.empty()) return;
    auto in_strong = [&](size_t k) {
        return k < n() && std::binary_search(strong.begin(), strong.end(), toks_[k].hash);
    };
    for (size_t i = 0; i < n(); ++i) {
        if (!word(i) || flag(i, kDigit) || len(i) < 2) continue;
        if (!(flag(i, kCap))) continue;
        if (!in_strong(i)) continue;
        if (has(i, kFNotName) || eponym_use(i)) continue;
        if (clinical(i) && !(i > 0 && has(i > 1 && punct(i - 1, '.') ? i - 2 : i - 1, kFTitles))) {
            // a clinical word is a name elsewhere only next to another name
            bool next_to_name = (i > 0 && in_strong(i - 1) && cap_word(i - 1)) ||
                                (cap_word(i + 1) && in_strong(i + 1)) ||
                                (word(i + 1) && has(i + 1, kFPersonVerbs));
            if (!next_to_name) continue;
        }
        add_tok(i, i, Category::kName, 0.8f, 5);
    }
}

// Picks non-overlapping spans: higher priority wins, then the longer span.
void resolve(std::string_view text, std::vector<Candidate>& c, float min_confidence) {
    c.erase(std::remove_if(c.begin(), c.end(),
                           [&](const Candidate& x) { return x.confidence < min_confidence; }),
            c.end());
    std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
        if (a.start != b.start) return a.start < b.start;
        return a.end > b.end;
    });
    std::vector<Candidate> kept;
    kept.reserve(c.size());
    auto better = [](const Candidate& a, const Candidate& b) {
        if (a.priority != b.priority) return a.priority > b.priority;
        return (a.end - a.start) > (b.end - b.start);
    };
    for (const Candidate& x : c) {
        if (kept.empty() || x.start >= kept.back().end) {
            kept.push_back(x);
            continue;
        }
        Candidate& last = kept.back();
        if (x.category == last.category && x.category == Category::kName) {
            last.end = std::max(last.end, x.end);  // pieces of one name
            last.confidence = std::max(last.confidence, x.confidence);
            continue;
        }
        if (better(x, last)) {
            // x may also overlap spans before `last`? No: they end before last.start <= x.start.
            last = x;
        }
    }
    // merge names separated only by spaces or a period of an initial ("J. Smith")
    c.clear();
    for (const Candidate& x : kept) {
        bool close = false;
        if (!c.empty() && c.back().category == Category::kName && x.category == Category::kName &&
            x.start >= c.back().end && x.start - c.back().end <= 2) {
            close = true;
            for (size_t b = c.back().end; b < x.start; ++b) close = close && text[b] == ' ';
        }
        if (close) {
            c.back().confidence = std::min(c.back().confidence, x.confidence);
            c.back().end = x.end;
            continue;
        }
        c.push_back(x);
    }
}

}  // namespace

Detection detect_all(std::string_view text, const Lexicons& lex, float min_confidence) {
    Detection out;
    // Chunks of about 1 MiB, cut at a line break (or a space) so rules see whole lines.
    constexpr size_t kChunk = 1u << 20;
    std::vector<std::pair<size_t, size_t>> chunks;
    for (size_t s = 0; s < text.size();) {
        size_t e = std::min(text.size(), s + kChunk);
        if (e < text.size()) {
            size_t cut = text.rfind('\n', e);
            if (cut == std::string_view::npos || cut <= s) cut = text.rfind(' ', e);
            if (cut == std::string_view::npos || cut <= s) {
                cut = e;
                while (cut > s && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;
                if (cut == s) cut = e;
            }
            e = cut;
        }
        chunks.emplace_back(s, e);
        s = e;
    }
    std::vector<uint64_t> strong;
    auto sort_unique = [](std::vector<uint64_t>& v) {
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
    };
    std::vector<Candidate> all;
    if (chunks.size() == 1) {
        ChunkDetector d(text, lex, out);
        d.run_rules();
        d.collect_strong(strong);
        sort_unique(strong);
        d.propagate(strong);
        all = std::move(d.candidates());
    } else {
        for (auto [s, e] : chunks) {
            ChunkDetector d(text.substr(s, e - s), lex, out);
            d.run_rules();
            d.collect_strong(strong);
            for (Candidate c : d.candidates()) {
                c.start += s;
                c.end += s;
                all.push_back(c);
            }
        }
        sort_unique(strong);
        for (auto [s, e] : chunks) {
            ChunkDetector d(text.substr(s, e - s), lex, out);
            d.propagate(strong);
            for (Candidate c : d.candidates()) {
                c.start += s;
                c.end += s;
                all.push_back(c);
            }
        }
    }
    resolve(text, all, min_confidence);
    // Trim trailing periods from names ("Smith." at the end of a sentence is not an initial).
    for (Candidate& c : all) {
        if (c.category == Category::kName && c.end - c.start > 2 && text[c.end - 1] == '.' &&
            text[c.end - 3] != ' ' && text[c.end - 3] != '.') {
            --c.end;
        }
    }
    out.spans = std::move(all);
    return out;
}

}  // namespace ward::deid::internal
