#!/usr/bin/env python3
"""Writes the PDF fixtures of the knowledge tests by hand (no PDF library): leaflet.pdf, a
one-page PDF with an info dictionary and three paragraphs of text; broken.pdf, leaflet.pdf cut
off in the middle of its page object (no content, no xref, no trailer); encrypted.pdf, the same
leaflet encrypted with the standard security handler (RC4, 40-bit, revision 2) under the user
password "secret", so that it cannot be opened without it.

Run from this directory: python3 make_pdfs.py. The xref offsets are computed here, so the
files are valid PDF 1.4 that any reader opens."""


import hashlib

PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
FILE_ID = bytes.fromhex("5741524454455354464958545552453031")


def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def padded(password):
    return (password + PAD)[:32]


def standard_security(user, owner, permissions):
    """Revision 2 (PDF 1.7 reference, algorithms 3.2 to 3.4): the /O and /U entries and the
    file key."""
    owner_key = hashlib.md5(padded(owner)).digest()[:5]
    o_entry = rc4(owner_key, padded(user))
    digest = hashlib.md5(padded(user) + o_entry + permissions.to_bytes(4, "little", signed=True)
                         + FILE_ID).digest()
    key = digest[:5]
    return o_entry, rc4(key, PAD), key


def object_key(key, number):
    return hashlib.md5(key + number.to_bytes(3, "little") + (0).to_bytes(2, "little")).digest()[:10]


def pdf(objects, trailer_extra=b""):
    """objects: bodies of objects 1..n (bytes). Returns the file with its xref and trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R%s >>\n" % (len(objects) + 1, trailer_extra)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def text_ops(paragraphs):
    """Lines of text, 14 points apart; paragraphs separated by a 40-point gap."""
    ops = [b"BT", b"/F1 11 Tf", b"72 720 Td"]
    first = True
    for lines in paragraphs:
        if not first:
            ops.append(b"0 -40 Td")
        first = False
        for i, line in enumerate(lines):
            if i:
                ops.append(b"0 -14 Td")
            escaped = line.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
            ops.append(b"(" + escaped + b") Tj")
    ops.append(b"ET")
    return b"\n".join(ops)


def stream(content):
    return b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"


PARAGRAPHS = [
    [b"Sepsis screening leaflet for ward nurses."],
    [b"Screen every adult with a suspected infection using the early warning score.",
     b"Escalate to the sepsis team when the score is 5 or more."],
    [b"Give antibiotics within one hour of recognising septic shock (source: local policy)."],
]

LEAFLET = pdf([
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
    b" /Resources << /Font << /F1 6 0 R >> >> >>",
    stream(text_ops(PARAGRAPHS)),
    b"<< /Title (Sepsis screening leaflet) /Producer (make_pdfs.py) >>",
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
])

O_ENTRY, U_ENTRY, KEY = standard_security(b"secret", b"owner", -44)
TITLE = rc4(object_key(KEY, 5), b"Sepsis screening leaflet")
ENCRYPTED = pdf([
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
    b" /Resources << /Font << /F1 6 0 R >> >> >>",
    stream(rc4(object_key(KEY, 4), text_ops(PARAGRAPHS))),
    b"<< /Title <" + TITLE.hex().encode() + b"> >>",
    b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    b"<< /Filter /Standard /V 1 /R 2 /O <" + O_ENTRY.hex().encode() + b"> /U <"
    + U_ENTRY.hex().encode() + b"> /P -44 >>",
], b" /Encrypt 7 0 R /ID [<" + FILE_ID.hex().encode() + b"> <" + FILE_ID.hex().encode() + b">]")

with open("encrypted.pdf", "wb") as f:
    f.write(ENCRYPTED)
with open("leaflet.pdf", "wb") as f:
    f.write(LEAFLET)
with open("broken.pdf", "wb") as f:
    f.write(LEAFLET[:LEAFLET.index(b"3 0 obj") + 20])
