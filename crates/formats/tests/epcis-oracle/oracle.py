"""EPCIS event hash oracle for medchain's tests: epcis-event-hash-generator (PyPI), GS1's
reference implementation of the CBV 2.0 event hash id, which is not medchain's.

Reads a JSON list of EPCIS documents (EPCISDocument or EPCISQueryDocument) from the file named
by the first argument, and prints JSON: a list with, for each document,
  {"hashes": ["ni:///sha-256;...?ver=CBV2.0", ...], "prehashes": ["eventType=...", ...]}
one per event, in order. The reference drops an event it cannot hash (logging an error); then
the lists are shorter than the event list, and the test notices.

Each document is hashed in a fresh process state: the reference remembers namespace prefixes
across documents in a module-level dictionary, which is cleared between documents here.
"""

import json
import logging
import sys

from epcis_event_hash_generator import hash_generator, json_to_py

logging.disable(logging.CRITICAL)

documents = json.load(open(sys.argv[1]))
out = []
for document in documents:
    json_to_py._namespaces.clear()
    body = document.get("epcisBody", {})
    if "queryResults" in body:
        document = dict(document)
        document["epcisBody"] = {"eventList": body["queryResults"]["resultsBody"]["eventList"]}
    events = json_to_py.event_list_from_epcis_document_json(document)
    prehashes = hash_generator.derive_prehashes_from_events(events)
    hashes = hash_generator.calculate_hashes_from_pre_hashes(prehashes, "sha256")
    out.append({"hashes": hashes, "prehashes": prehashes})
print(json.dumps(out))
