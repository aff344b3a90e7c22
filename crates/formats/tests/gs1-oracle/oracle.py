"""GS1 oracle for medchain's tests: biip (PyPI), a GS1 barcode parser that is not medchain's.

Reads a JSON list of extra scans from the file named by the first argument; the second argument
is a directory to keep biip's source distribution in. Prints JSON:
  {"corpus": [every string literal in biip's own test suite],
   "verdicts": [{"scan": s, "ok": true, "elements": [[ai, value, date or null]], "gtin": ...,
                 "serial": ..., "lot": ..., "expiry": ..., "sscc": ...}
                or {"scan": s, "ok": false, "error": "..."} for each corpus string, then each
                extra scan]}

A scan is read the way medchain reads one: surrounding whitespace is dropped; a symbology
identifier (ISO/IEC 15424) may come first; what follows is a Digital Link URI if it starts with
"http", the human-readable form if it starts with "(", else an element string. biip decides
each. biip records a bad GTIN, SSCC or GLN check digit as an error on the element rather than
failing the parse; a scan with such an error counts as refused here, as medchain refuses it.

biip reads the human-readable form by finding every "(digits)text" in it and ignoring what is
between them, so "(240)(x)ABC(17)270101" loses "(240)" and "(x)ABC" without a word. medchain
refuses a human-readable string it cannot read in full; such a verdict is marked "skipped_text".
"""

import ast
import glob
import json
import os
import re
import subprocess
import sys
import tarfile

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message
from biip.symbology import SymbologyIdentifier

ELEMENT_STRING_SYMBOLOGIES = {"C1", "e0", "d2", "Q3", "J1"}
DIGITAL_LINK_SYMBOLOGIES = {"d1", "d2", "Q1", "Q3"}


def biip_test_strings(cache):
    """Every string constant in biip 5.2.0's own tests (from its source distribution)."""
    source = os.path.join(cache, "biip-5.2.0")
    if not os.path.isdir(os.path.join(source, "tests")):
        os.makedirs(cache, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--no-binary", ":all:", "--dest", cache, "biip==5.2.0"],
            check=True,
        )
        with tarfile.open(os.path.join(cache, "biip-5.2.0.tar.gz")) as archive:
            archive.extractall(cache, filter="data")
    strings = set()
    for path in sorted(glob.glob(os.path.join(source, "tests", "**", "*.py"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
    return sorted(strings)


def verdict(scan):
    skipped_text = False
    try:
        value = scan.strip()
        if not value:
            raise ParseError("empty")
        symbology = None
        if value.startswith("]"):
            symbology = SymbologyIdentifier.extract(value)
            value = value[len(symbology):]
        is_uri = value[:5].lower() == "https" or value[:4].lower() == "http"
        if symbology is not None:
            code = symbology.value[1:]
            allowed = DIGITAL_LINK_SYMBOLOGIES if is_uri else ELEMENT_STRING_SYMBOLOGIES
            if code not in allowed:
                raise ParseError(f"symbology {symbology.value} does not carry this")
        if is_uri:
            elements = GS1DigitalLinkURI.parse(value).element_strings
        elif value.startswith("("):
            if symbology is not None:
                raise ParseError("symbology identifier before the human-readable form")
            elements = GS1Message.parse_hri(value).element_strings
            compact = "".join(value.split())
            read = "".join(f"({ai}){data}" for ai, data in re.findall(r"\((\d+)\)([^(]+)", compact))
            skipped_text = read != compact
        else:
            elements = GS1Message.parse(value).element_strings
        for e in elements:
            error = e.gtin_error or e.sscc_error or e.gln_error
            if error:
                raise ParseError(error)
    except (ParseError, ValueError) as exc:
        return {"scan": scan, "ok": False, "error": str(exc)}

    def first(ai):
        for e in elements:
            if e.ai.ai == ai:
                return e
        return None

    gtin, serial, lot, expiry, sscc = (first(ai) for ai in ("01", "21", "10", "17", "00"))
    return {
        "scan": scan,
        "ok": True,
        "skipped_text": skipped_text,
        "elements": [
            [e.ai.ai, e.value, e.date.isoformat() if e.date else None] for e in elements
        ],
        "gtin": gtin.gtin.as_gtin_14() if gtin else None,
        "serial": serial.value if serial else None,
        "lot": lot.value if lot else None,
        "expiry": expiry.date.isoformat() if expiry else None,
        "sscc": sscc.value if sscc else None,
    }


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        extra = json.load(f)
    corpus = biip_test_strings(sys.argv[2])
    print(json.dumps({
        "corpus": corpus,
        "verdicts": [verdict(s) for s in corpus + extra],
    }))


if __name__ == "__main__":
    main()
