#!/usr/bin/env python3
"""Generates Ward's synthetic de-identification test corpus: tests/deid/data/corpus.jsonl.

Deterministic (fixed seed, no network): python3 make_corpus.py <repo root>.
Every note is made up; every PHI value is fake (names from the lexicons and from held-out
names the lexicons do not contain, invented addresses, numbers and dates).

Output: one JSON object per line, {"id", "patient", "type", "split", "text", "spans":
[{"start", "end", "category"}]}, offsets in characters (code points) of "text".

Annotation conventions (docs/deid.md): titles (Dr., Mrs.) and credentials (MD, RN) are not
part of a NAME; a possessive "'s" is not part of the NAME; a DATE covers the whole date
including its year; an AGE covers the number only; a state name or abbreviation is not PHI;
a STREET covers number, street and unit.

"split" is "dev" for the note styles used while developing the detectors and "heldout" for
styles kept out of sight during tuning (letters, telephone encounters, psychiatry, dental
recall notes, ED triage notes); the tests report both.
"""
import datetime as dt
import json
import pathlib
import random
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
R = random.Random(20261127)


def lines(p):
    out = []
    for s in open(p, encoding="utf-8"):
        s = s.strip()
        if s and not s.startswith("#"):
            out.append(s)
    return out


COMMON = set(lines(ROOT / "src/deid/data/common_words.txt"))
CLIN = set()
for s in lines(ROOT / "src/deid/data/clinical_words.txt"):
    CLIN.update(w.lower() for w in s.split())


def usable(names):
    return [n for n in names if n.lower() not in COMMON and n.lower() not in CLIN
            and " " not in n and "-" not in n and len(n) > 2]


FIRST = usable(lines(ROOT / "src/deid/data/first_names.txt"))
LAST = usable(lines(ROOT / "src/deid/data/last_names.txt"))
HFIRST = usable(lines(ROOT / "tests/deid/data/heldout_first_names.txt"))
HLAST = usable(lines(ROOT / "tests/deid/data/heldout_last_names.txt"))
CITIES = [c for c in lines(ROOT / "src/deid/data/cities.txt") if c.lower() not in COMMON]
STREETS = lines(ROOT / "src/deid/data/street_names.txt")
# Invented towns (not in any lexicon) so that places must be found by context.
TOWN_A = ["North", "South", "East", "West", "Port", "Lake", "New", "Fort", "Mount", "Glen"]
TOWN_B = ["haven", "ville", "burgh", "field", "ford", "mouth", "ton", "side", "dale", "view"]
STATES = [("IL", "Illinois"), ("OH", "Ohio"), ("TX", "Texas"), ("CA", "California"),
          ("NY", "New York"), ("PA", "Pennsylvania"), ("MN", "Minnesota"), ("GA", "Georgia"),
          ("WA", "Washington"), ("MA", "Massachusetts"), ("NC", "North Carolina"), ("AZ", "Arizona")]
EPONYM_SURNAMES = ["Parkinson", "Wilson", "Bell", "Graves", "Turner", "Hunter", "Murphy", "Allen"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def pick(xs):
    return xs[R.randrange(len(xs))]


def first_name():
    return pick(HFIRST) if R.random() < 0.25 else pick(FIRST)


def last_name():
    return pick(HLAST) if R.random() < 0.25 else pick(LAST)


def town():
    if R.random() < 0.6:
        return pick(CITIES)
    return pick(TOWN_A) + " " + pick(LAST) + pick(TOWN_B) if R.random() < 0.4 else \
        pick(LAST) + pick(TOWN_B)


def digits(n):
    return "".join(str(R.randrange(10)) for _ in range(n))


def letters(n):
    return "".join(chr(65 + R.randrange(26)) for _ in range(n))


class Note:
    def __init__(self):
        self.parts = []
        self.spans = []
        self.n = 0

    def t(self, s):
        self.parts.append(s)
        self.n += len(s)
        return self

    def p(self, s, cat):
        self.spans.append({"start": self.n, "end": self.n + len(s), "category": cat})
        return self.t(s)

    def text(self):
        return "".join(self.parts)


class Person:
    def __init__(self, last=None):
        self.first = first_name()
        self.last = last or last_name()
        self.mi = chr(65 + R.randrange(26))
        self.sex = R.choice("MF")


def name(n, person, style=None):
    """Writes a person's name in one of the styles real notes use."""
    style = style or R.choice(["full", "full", "lastfirst", "caps", "initial", "mi", "last"])
    if style == "full":
        n.p(person.first, "NAME").t(" ").p(person.last, "NAME")
    elif style == "lastfirst":
        n.p(person.last, "NAME").t(", ").p(person.first, "NAME")
    elif style == "caps":
        n.p(person.last.upper(), "NAME").t(", ").p(person.first.upper(), "NAME")
    elif style == "initial":
        n.p(person.first[0] + ".", "NAME").t(" ").p(person.last, "NAME")
    elif style == "mi":
        n.p(person.first, "NAME").t(" ").p(person.mi + ".", "NAME").t(" ").p(person.last, "NAME")
    elif style == "first":
        n.p(person.first, "NAME")
    else:
        n.p(person.last, "NAME")
    return n


def titled(n, person, doctor=False):
    if doctor:
        n.t("Dr. ")
        return name(n, person, R.choice(["full", "last", "last", "initial"]))
    n.t({"M": R.choice(["Mr. ", "Mr "]), "F": R.choice(["Mrs. ", "Ms. ", "Ms "])}[person.sex])
    return n.p(person.last, "NAME")


def signed(n, person, cred):
    name(n, person, R.choice(["full", "mi", "full"]))
    return n.t(", " + cred)


def date_str(d, style=None):
    style = style or R.choice(["us", "us", "short", "iso", "dmy", "long", "long", "longth",
                               "abbr", "mdy2", "dotted"])
    if style == "us":
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style == "short":
        return f"{d.month}/{d.day}/{d.year}"
    if style == "mdy2":
        return f"{d.month}/{d.day}/{d.year % 100:02d}"
    if style == "iso":
        return d.isoformat()
    if style == "dmy":
        return f"{d.day:02d}-{MONTHS[d.month - 1][:3]}-{d.year}"
    if style == "long":
        return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"
    if style == "longth":
        sfx = "th" if 11 <= d.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
        return f"{MONTHS[d.month - 1]} {d.day}{sfx}"
    if style == "abbr":
        return f"{MONTHS[d.month - 1][:3]} {d.day}"
    if style == "dotted":
        return f"{d.day:02d}.{d.month:02d}.{d.year}"
    if style == "nodate":
        return f"{d.month}/{d.day}"
    if style == "dm":
        return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
    raise ValueError(style)


def date(n, d, style=None):
    return n.p(date_str(d, style), "DATE")


def phone_str():
    a, b, c = digits(3), digits(3), digits(4)
    a = str(R.randrange(2, 10)) + a[1:]
    return R.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}",
                     f"{a}-{b}-{c} ext. {digits(3)}", f"({a}){b}-{c}"])


class Patient:
    def __init__(self, i):
        self.i = i
        surname = pick(EPONYM_SURNAMES) if i % 11 == 3 else None
        self.p = Person(surname)
        self.age = R.choice([R.randrange(18, 89), R.randrange(18, 89), R.randrange(90, 104)])
        self.admit = dt.date(2019, 1, 1) + dt.timedelta(days=R.randrange(0, 2400))
        self.dob = self.admit - dt.timedelta(days=self.age * 365 + R.randrange(0, 360))
        self.mrn = R.choice([digits(8), digits(7), "00" + digits(6), letters(2) + digits(6)])
        self.ssn = f"{digits(3)}-{digits(2)}-{digits(4)}"
        self.phone = phone_str()
        self.street_no = str(R.randrange(1, 9999))
        self.street = pick(STREETS)
        self.unit = R.choice(["", "", "", f" Apt {R.randrange(1, 40)}{R.choice('ABCD')}",
                              f" Unit {R.randrange(1, 300)}", f", Apt. {R.randrange(1, 90)}"])
        self.city = town()
        self.state = pick(STATES)
        self.zip = digits(5)
        self.email = (self.p.first[0] + self.p.last).lower().encode("ascii", "ignore").decode() + \
            digits(2) + "@" + R.choice(["gmail.com", "yahoo.com", "outlook.com", "mail.net"])
        self.plan = R.choice([letters(3) + digits(9), "W" + digits(9), digits(3) + letters(2) +
                              digits(5)])
        self.acct = R.choice([digits(9), "A" + digits(7), digits(4) + "-" + digits(5)])
        self.spouse = Person(self.p.last if R.random() < 0.6 else None)
        self.child = Person(self.p.last)
        self.pcp = Person()
        self.attending = Person()
        self.nurse = Person()
        self.facility = facility()


def facility():
    k = R.random()
    if k < 0.3:
        return pick(LAST) + " Memorial Hospital"
    if k < 0.5:
        return "St. " + pick(FIRST) + "'s Medical Center"
    if k < 0.7:
        return pick(CITIES) + " General Hospital"
    if k < 0.85:
        return pick(LAST) + " Regional Medical Center"
    return pick(CITIES) + " Community Clinic"


def he(pt):
    return "He" if pt.p.sex == "M" else "She"


def his(pt):
    return "his" if pt.p.sex == "M" else "her"


def address(n, pt, multiline=False):
    n.p(f"{pt.street_no} {pt.street}{pt.unit}", "STREET")
    n.t("\n" if multiline else ", ")
    n.p(pt.city, "CITY").t(", " + R.choice(pt.state) + " ").p(pt.zip, "ZIP")
    return n


def distractors(n, pt):
    """Clinical text that must stay: eponyms, drugs, doses, years, young ages, scores."""
    opts = [
        "History of Parkinson's disease, on carbidopa-levodopa 25/100 mg three times daily. ",
        "Family history of Alzheimer's dementia in her father in his 70s. ",
        "Remote Hodgkin lymphoma in 2009, treated with ABVD. ",
        "Left-sided Bell's palsy in 2015, resolved. ",
        "Crohn's disease managed with infliximab 5 mg/kg every 8 weeks. ",
        "Graves' disease s/p radioactive iodine ablation. ",
        "Foley catheter placed, draining clear yellow urine. ",
        "Glasgow Coma Scale 15. Romberg negative. Babinski downgoing bilaterally. ",
        "Gleason 3+4=7 adenocarcinoma of the prostate, PSA 6.2 ng/mL. ",
        "Positive Murphy's sign; RUQ ultrasound ordered. ",
        "Takes Tylenol 650 mg PRN and lisinopril 10 mg daily. ",
        "Labs: Na 138, K 4.1, Cr 0.9, WBC 7.2, Hgb 13.1, Plt 245. ",
        "Vitals: BP 132/84, HR 78, RR 16, T 98.6 F, SpO2 97% on room air. ",
        "Smoked 1 ppd for 20 years, quit in 2012. ",
        "Cushing's syndrome was ruled out with a dexamethasone suppression test. ",
        "Down syndrome with moderate intellectual disability. ",
        "Wilson's disease was considered; ceruloplasmin normal. ",
        "Mallampati class II. ASA 2. ",
        "Apgar scores were 8 and 9. ",
        "Turner syndrome karyotype 45,X. ",
        "Hashimoto thyroiditis on levothyroxine 75 mcg. ",
        "Raynaud phenomenon of the fingers in cold weather. ",
        "ECOG performance status 1. ",
        "Fitzpatrick skin type II. ",
        "PHQ-9 score 14, GAD-7 score 9. ",
        "Tooth #14 with mesial caries. ",
        "MoCA 24/30. ",
        "Her brother, age 58, has type 2 diabetes. ",
        "Ejection fraction 45% on echo in 2021. ",
        "Started Eliquis 5 mg BID for atrial fibrillation. ",
    ]
    for _ in range(R.randrange(1, 4)):
        n.t(pick(opts))


def header(n, pt, kind):
    st = R.randrange(4)
    if st == 0:
        n.t("PATIENT: ").p(pt.p.last.upper(), "NAME").t(", ").p(pt.p.first.upper(), "NAME")
        n.t("    MRN: ").p(pt.mrn, "MRN").t("\nDOB: ")
        date(n, pt.dob, R.choice(["us", "short", "iso"]))
        n.t("    DATE OF SERVICE: ")
        date(n, pt.admit, "us")
        n.t(f"\n{kind.upper()}\n\n")
    elif st == 1:
        n.t("Name: ")
        name(n, pt.p, R.choice(["full", "lastfirst", "mi"]))
        n.t("\nMedical Record #: ").p(pt.mrn, "MRN").t("\nDate of Birth: ")
        date(n, pt.dob)
        n.t("\nDate: ")
        date(n, pt.admit)
        n.t(f"\n\n{kind}\n\n")
    elif st == 2:
        n.t(f"{kind}\n").p(pt.facility, "FACILITY").t("\nPt: ")
        name(n, pt.p, "lastfirst")
        n.t("  MR# ").p(pt.mrn, "MRN").t("  Acct: ").p(pt.acct, "ACCOUNT").t("\n")
        n.t("Admit date: ")
        date(n, pt.admit, R.choice(["us", "dmy", "iso"]))
        n.t("\n\n")
    else:
        n.t(f"{kind} - ")
        name(n, pt.p, "full")
        n.t(f" (MRN ").p(pt.mrn, "MRN").t(", DOB ")
        date(n, pt.dob, R.choice(["short", "us", "mdy2"]))
        n.t(")\n\n")


def age_phrase(n, pt):
    if pt.age >= 90:
        form = R.choice(["{}-year-old", "{} year old", "{} yo", "{} y/o", "aged {}"])
        pre, post = form.split("{}")
        n.t(pre).p(str(pt.age), "AGE").t(post)
    else:
        n.t(R.choice(["{}-year-old", "{} yo", "{} year old"]).format(pt.age))


def signature(n, doc, cred="MD"):
    st = R.randrange(3)
    if st == 0:
        n.t("\n\nElectronically signed by: ")
        signed(n, doc, cred)
        n.t(" on ")
        date(n, dt.date(2019, 1, 1) + dt.timedelta(days=R.randrange(2400)), "us")
        n.t(" 14:32\n")
    elif st == 1:
        n.t("\n\n")
        signed(n, doc, cred)
        n.t("\n")
    else:
        n.t("\n\nDictated by ")
        n.t("Dr. ")
        name(n, doc, R.choice(["full", "last"]))
        n.t(R.choice([", transcribed by jt", "", ". D: ", "\n"]))
        n.t("\n")


# --- note types ---------------------------------------------------------------------------

def admission(pt, d):
    n = Note()
    header(n, pt, "Admission History and Physical")
    n.t("CHIEF COMPLAINT: chest pain.\n\nHPI: ")
    titled(n, pt.p)
    n.t(" is a ")
    age_phrase(n, pt)
    n.t(f" {'man' if pt.p.sex == 'M' else 'woman'} who presented to the ")
    n.p(pt.facility, "FACILITY").t(" emergency department on ")
    date(n, d)
    n.t(" with substernal chest pain that began the evening of ")
    date(n, d - dt.timedelta(days=1), R.choice(["abbr", "longth", "nodate"]))
    n.t(". ")
    distractors(n, pt)
    n.t(f"{he(pt)} was seen by ")
    titled(n, pt.pcp, doctor=True)
    n.t(" in clinic on ")
    date(n, d - dt.timedelta(days=R.randrange(5, 60)))
    n.t(".\n\nSOCIAL HISTORY: Lives with ")
    n.t(his(pt) + R.choice([" wife ", " husband ", " partner "]))
    name(n, pt.spouse, R.choice(["full", "first"]))
    n.t(" at ")
    address(n, pt)
    n.t(". Retired machinist.\n\nPHYSICAL EXAM: ")
    distractors(n, pt)
    n.t("\n\nASSESSMENT AND PLAN: Rule out ACS. Serial troponins. Cardiology consult with ")
    titled(n, pt.attending, doctor=True)
    n.t(".\n")
    signature(n, pt.attending)
    return n


def discharge(pt, d):
    n = Note()
    header(n, pt, "Discharge Summary")
    out = d + dt.timedelta(days=R.randrange(2, 9))
    n.t("Admission Date: ")
    date(n, d)
    n.t("\nDischarge Date: ")
    date(n, out)
    n.t("\nAttending: ")
    name(n, pt.attending, R.choice(["full", "lastfirst", "mi"]))
    n.t(", MD\nPrimary Care: Dr. ")
    name(n, pt.pcp, R.choice(["full", "last"]))
    n.t("\n\nHOSPITAL COURSE: ")
    titled(n, pt.p)
    n.t(" was admitted with community-acquired pneumonia and treated with ceftriaxone and "
        "azithromycin. ")
    distractors(n, pt)
    n.t("On hospital day 3 (")
    date(n, d + dt.timedelta(days=2), R.choice(["nodate", "abbr", "us"]))
    n.t(f") {he(pt).lower()} was afebrile. ")
    n.p(pt.p.last, "NAME").t("'s daughter ")
    name(n, pt.child, "first")
    n.t(" (cell ").p(pt.phone, "PHONE").t(") was updated at the bedside.\n\n")
    n.t("DISPOSITION: Home with services. Follow up with Dr. ")
    n.p(pt.pcp.last, "NAME").t(" on ")
    date(n, out + dt.timedelta(days=R.randrange(5, 15)), R.choice(["longth", "long", "us"]))
    k = R.randrange(3)
    if k == 0:
        n.t(" at 10:30 AM")
    elif k == 1:
        n.t(" (").p(WEEKDAYS[R.randrange(7)], "DATE").t(")")
    n.t(".\nInsurance: Blue Cross member ID ").p(pt.plan, "HEALTH_PLAN").t("\n")
    signature(n, pt.attending)
    return n


def oncology(pt, d):
    n = Note()
    header(n, pt, "Hematology/Oncology Consultation")
    n.t("Referring physician: ")
    name(n, pt.pcp, R.choice(["full", "lastfirst"]))
    n.t(", MD\n\nHISTORY: ")
    name(n, pt.p, "full")
    n.t(" is a ")
    age_phrase(n, pt)
    n.t(" with stage IIIA adenocarcinoma of the left breast, ER+/PR+/HER2-, diagnosed on "
        "core biopsy at ")
    n.p(pt.facility, "FACILITY").t(" on ")
    date(n, d - dt.timedelta(days=R.randrange(20, 90)))
    n.t(". Cycle 1 of AC was given ")
    date(n, d - dt.timedelta(days=14), R.choice(["nodate", "abbr", "dmy"]))
    n.t(" and cycle 2 on ")
    date(n, d, R.choice(["nodate", "abbr", "us"]))
    n.t(". ")
    distractors(n, pt)
    n.t("Port-a-cath (serial no. ").p("PC" + digits(7), "DEVICE").t(") placed by Dr. ")
    n.p(pt.attending.last, "NAME").t(".\n\nPLAN: Continue dose-dense AC then paclitaxel. "
                                     "Tumor board ")
    date(n, d + dt.timedelta(days=7), R.choice(["longth", "long"]))
    n.t(". Genetic counseling referral to ")
    name(n, pt.nurse, "full")
    n.t(", MS, CGC.\n")
    signature(n, pt.attending)
    return n


def dermatology(pt, d):
    n = Note()
    header(n, pt, "Dermatology Clinic Note")
    n.t("S: ")
    name(n, pt.p, "first")
    n.t(" returns for a full skin exam. Last seen ")
    date(n, d - dt.timedelta(days=R.randrange(90, 400)), R.choice(["us", "long", "dmy"]))
    n.t(". Reports a changing mole on the left shoulder noticed by ")
    n.t(his(pt) + " " + R.choice(["wife", "husband", "sister", "friend"]) + " ")
    name(n, pt.spouse, "first")
    n.t(". ")
    distractors(n, pt)
    n.t("\nO: 7 mm irregular pigmented macule, left posterior shoulder. Dermoscopy with "
        "atypical network. Photographs uploaded to ")
    url = f"https://derm.{pt.facility.split()[0].lower().replace('.', '')}health.org/img/{digits(6)}"
    n.p(url, "URL").t("\nA/P: Rule out melanoma. Shave biopsy today. Mohs surgery with Dr. ")
    name(n, pt.attending, R.choice(["last", "full"]))
    n.t(" if positive. Pathology to ")
    n.p(pt.facility, "FACILITY").t(".\n")
    signature(n, pt.attending, R.choice(["MD", "DO", "PA-C"]))
    return n


def dental(pt, d):
    n = Note()
    header(n, pt, "Dental Progress Note")
    n.t("Patient ")
    name(n, pt.p, R.choice(["full", "mi"]))
    n.t(" presented for scaling and root planing, UR and LR quadrants. Medical history "
        "reviewed; ")
    distractors(n, pt)
    n.t("Local anesthesia: 2% lidocaine with 1:100,000 epinephrine, 2 carpules. Tooth #30 "
        "with fractured MOD amalgam. Next visit ")
    date(n, d + dt.timedelta(days=R.randrange(7, 30)), R.choice(["us", "long", "abbr"]))
    n.t(". Insurance: Delta Dental subscriber ID ").p(pt.plan, "HEALTH_PLAN").t(".\nHygienist: ")
    name(n, pt.nurse, "full")
    n.t(", RDH\n")
    signature(n, pt.attending, R.choice(["DDS", "DMD"]))
    return n


def neurology(pt, d):
    n = Note()
    header(n, pt, "Neurology Consultation")
    n.t("Reason for consult: tremor and gait change.\n\n")
    titled(n, pt.p)
    n.t(" is a ")
    age_phrase(n, pt)
    n.t(" right-handed " + ("man" if pt.p.sex == "M" else "woman") + " referred by Dr. ")
    name(n, pt.pcp, "full")
    n.t(". Symptoms began in ")
    n.p(MONTHS[R.randrange(12)] + " " + str(pt.admit.year - 1), "DATE").t(". ")
    n.p(pt.p.last, "NAME").t(" reports micrographia. ")
    distractors(n, pt)
    n.t("MRI brain on ")
    date(n, d - dt.timedelta(days=21))
    n.t(" at ").p(pt.facility, "FACILITY").t(" showed mild small vessel disease. DaTscan "
                                              "scheduled for ")
    date(n, d + dt.timedelta(days=10), R.choice(["longth", "dm"]))
    n.t(".\nImpression: idiopathic Parkinson's disease, Hoehn and Yahr stage 2. Start "
        "carbidopa-levodopa. DBS device (Medtronic, serial ").p("NVR" + digits(6) + letters(1), "DEVICE")
    n.t(") not indicated.\n")
    signature(n, pt.attending)
    return n


def psychiatry(pt, d):
    n = Note()
    header(n, pt, "Psychiatric Evaluation")
    n.t("Identifying data: ")
    name(n, pt.p, "first")
    n.t(" is a ")
    age_phrase(n, pt)
    n.t(" " + R.choice(["divorced", "married", "single"]) + " " +
        ("man" if pt.p.sex == "M" else "woman") + " living in ")
    n.p(pt.city, "CITY").t(", brought in by ")
    n.t(his(pt) + " " + R.choice(["brother", "sister", "son", "daughter", "mother"]) + ", ")
    name(n, pt.child, R.choice(["full", "first"]))
    n.t(". Since ")
    date(n, d - dt.timedelta(days=R.randrange(5, 40)), R.choice(["abbr", "longth", "nodate"]))
    n.t(" " + his(pt) + " mood has been low with passive SI, no plan. Previously followed "
        "by therapist ")
    name(n, pt.nurse, R.choice(["full", "lastfirst"]))
    n.t(", LCSW, at ").p(pt.facility, "FACILITY").t(". ")
    distractors(n, pt)
    n.t("\nMSE: Appears stated age, psychomotor slowing, mood \"empty\", affect constricted.\n"
        "Plan: Start sertraline 50 mg daily. Safety plan reviewed. Crisis line 988. "
        "Emergency contact: ")
    name(n, pt.child, "full")
    n.t(", ").p(pt.phone, "PHONE").t(". Return ")
    n.p(WEEKDAYS[R.randrange(7)], "DATE").t(" ")
    date(n, d + dt.timedelta(days=7), R.choice(["nodate", "abbr"]))
    n.t(".\n")
    signature(n, pt.attending)
    return n


def nursing(pt, d):
    n = Note()
    n.t(R.choice(["NURSING NOTE", "Nursing Progress Note", "RN shift note"]) + "  ")
    date(n, d, R.choice(["us", "short"]))
    n.t(" 0700-1900\nPt: ")
    name(n, pt.p, R.choice(["caps", "lastfirst", "full"]))
    n.t("  Rm 4").t(str(R.randrange(10, 60))).t("\n")
    n.t("Alert and oriented x3. Ambulated in hall with walker x2. Foley removed at 0600, "
        "voided 300 mL. ")
    distractors(n, pt)
    n.t("Wife ")
    name(n, pt.spouse, "first")
    n.t(" at bedside, asking about discharge; told to call ").p(pt.phone, "PHONE")
    n.t(" ").t(R.choice(["", "(home)"])).t(". Dr. ")
    n.p(pt.attending.last, "NAME").t(" paged re: BP 168/92, hydralazine 10 mg IV given.\n")
    n.t(R.choice(["-- ", ""]))
    name(n, pt.nurse, R.choice(["full", "initial"]))
    n.t(", RN\n")
    return n


def letter(pt, d):
    n = Note()
    n.p(pt.facility, "FACILITY").t("\n")
    n.p(f"{R.randrange(100, 9999)} {pick(STREETS)}", "STREET").t("\n")
    n.p(town(), "CITY").t(", " + pick(STATES)[0] + " ").p(digits(5), "ZIP").t("\n")
    n.t("Phone ").p(phone_str(), "PHONE").t("   Fax ").p(phone_str(), "FAX").t("\n\n")
    date(n, d, R.choice(["long", "dm"]))
    n.t("\n\nDr. ")
    name(n, pt.pcp, "full")
    n.t("\n")
    n.p(pick(CITIES) + " Family Medicine", "FACILITY").t("\n\nRe: ")
    name(n, pt.p, "full")
    n.t(", DOB ")
    date(n, pt.dob, "us")
    n.t("\n\nDear Dr. ")
    n.p(pt.pcp.last, "NAME").t(",\n\nThank you for referring ")
    titled(n, pt.p)
    n.t(", whom I saw in clinic on ")
    date(n, d - dt.timedelta(days=3), R.choice(["long", "longth", "us"]))
    n.t(". ")
    distractors(n, pt)
    n.t(f"{he(pt)} can be reached at ").p(pt.email, "EMAIL").t(" or ")
    n.p(pt.phone, "PHONE").t(". I have asked ").p(pt.p.last, "NAME")
    n.t(" to return in six weeks.\n\nSincerely,\n\n")
    name(n, pt.attending, "full")
    n.t(", MD\n")
    return n


def telephone(pt, d):
    n = Note()
    n.t("TELEPHONE ENCOUNTER ")
    date(n, d, R.choice(["us", "short", "iso"]))
    n.t("\nCaller: ")
    name(n, pt.spouse, R.choice(["full", "first"]))
    n.t(" (spouse) at ").p(pt.phone, "PHONE").t("\nRe: ")
    name(n, pt.p, R.choice(["lastfirst", "full", "caps"]))
    n.t(", MRN ").p(pt.mrn, "MRN").t("\n")
    n.t("Reports the patient fell at home on ")
    n.p(WEEKDAYS[R.randrange(7)], "DATE").t(", no head strike. ")
    distractors(n, pt)
    n.t("Advised ED evaluation at ").p(pt.facility, "FACILITY").t(" if worse. Verified "
                                                                  "identity with SSN ")
    n.p(pt.ssn, "SSN").t(". Patient portal: ").p(
        f"https://mychart.example-health.org/u/{digits(8)}", "URL").t("\n")
    name(n, pt.nurse, "full")
    n.t(", RN\n")
    return n


def ed_triage(pt, d):
    n = Note()
    n.t("ED TRIAGE  ")
    date(n, d, R.choice(["us", "dmy", "iso"]))
    n.t(f" {R.randrange(0, 24):02d}:{R.randrange(0, 60):02d}\n")
    age_phrase(n, pt)
    n.t(f" {pt.p.sex} BIBA from home (")
    address(n, pt)
    n.t(") after MVC. Driver of vehicle, plate ").p(
        f"{R.randrange(1, 9)}{letters(3)}{digits(3)}", "VEHICLE").t(", VIN ")
    n.p(letters(1) + digits(1) + letters(3) + digits(2) + letters(1) + digits(9), "VEHICLE")
    n.t(". ")
    distractors(n, pt)
    n.t("Driver license ").p(letters(1) + digits(7), "LICENSE").t(". ID band verified: ")
    name(n, pt.p, "caps")
    n.t(". Registration workstation IP ").p(
        f"10.{R.randrange(256)}.{R.randrange(256)}.{R.randrange(1, 255)}", "IP").t(". EMS: ")
    name(n, pt.nurse, "full")
    n.t(", paramedic.\n")
    return n


def progress(pt, d):
    n = Note()
    n.t("PROGRESS NOTE - ")
    date(n, d, R.choice(["long", "us", "dmy"]))
    n.t("\n")
    n.p(pt.facility, "FACILITY").t(", Internal Medicine\n\nS: ")
    n.p(pt.p.first, "NAME").t(" ").p(pt.p.last, "NAME")
    n.t(" feels better today. Ate breakfast. ")
    distractors(n, pt)
    n.t("\nO: ")
    distractors(n, pt)
    n.t("\nA/P: ")
    age_phrase(n, pt)
    n.t(" with CHF exacerbation, improving on IV furosemide. Transition to oral torsemide "
        "tomorrow. Discussed with ")
    n.t(his(pt) + " son ")
    name(n, pt.child, R.choice(["full", "first"]))
    n.t(". Account ").p(pt.acct, "ACCOUNT").t(". Code status: full.\n")
    signature(n, pt.attending, R.choice(["MD", "DO"]))
    return n


def radiology(pt, d):
    n = Note()
    n.t("RADIOLOGY REPORT\nExam: CT chest with contrast\nPatient: ")
    name(n, pt.p, R.choice(["caps", "lastfirst"]))
    n.t("   Accession: ").p(digits(10), "ID").t("\nExam date: ")
    date(n, d, R.choice(["us", "iso"]))
    n.t("\nOrdering: ")
    name(n, pt.pcp, "lastfirst")
    n.t(", MD\n\nCOMPARISON: CT ")
    date(n, d - dt.timedelta(days=R.randrange(60, 500)), R.choice(["us", "short", "mdy2"]))
    n.t(".\nFINDINGS: 8 mm spiculated nodule in the right upper lobe, previously 5 mm. No "
        "mediastinal lymphadenopathy. Small hiatal hernia.\nIMPRESSION: Enlarging nodule, "
        "Lung-RADS 4B. Findings discussed with Dr. ")
    n.p(pt.pcp.last, "NAME").t(" by phone at 15:20 on ")
    date(n, d, R.choice(["nodate", "abbr"]))
    n.t(".\n")
    signature(n, pt.attending)
    return n


TYPES = [
    ("admission", admission, "dev"), ("discharge", discharge, "dev"),
    ("oncology", oncology, "dev"), ("dermatology", dermatology, "dev"),
    ("dental", dental, "heldout"), ("neurology", neurology, "dev"),
    ("psychiatry", psychiatry, "heldout"), ("nursing", nursing, "dev"),
    ("letter", letter, "heldout"), ("telephone", telephone, "heldout"),
    ("ed_triage", ed_triage, "heldout"), ("progress", progress, "dev"),
    ("radiology", radiology, "dev"),
]


def main():
    patients = [Patient(i) for i in range(96)]
    out = []
    k = 0
    for pt in patients:
        for j in range(R.choice([3, 3, 4, 4])):
            kind, fn, split = TYPES[k % len(TYPES)]
            k += 1
            d = pt.admit + dt.timedelta(days=j * R.randrange(20, 90))
            note = fn(pt, d)
            out.append({"id": f"note-{len(out) + 1:04d}", "patient": f"patient-{pt.i:03d}",
                        "type": kind, "split": split, "text": note.text(),
                        "spans": note.spans})
    path = ROOT / "tests/deid/data/corpus.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for o in out:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    print(len(out), "notes,", sum(len(o["spans"]) for o in out), "spans ->", path)


main()
