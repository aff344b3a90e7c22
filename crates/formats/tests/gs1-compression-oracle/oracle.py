"""GS1 Digital Link compression oracle for medchain's tests: gs1-compression (PyPI), a port of
GS1's Digital Link toolkit that is not medchain's.

Reads a JSON list of uncompressed Digital Link URIs from the file named by the first argument;
prints a JSON list of {"uri": u, "compressed": c} or {"uri": u, "error": "..."}. Compression is
without GS1's optimisation codes (gs1-compression 0.1.3 fails with them on), so every AI is
written with its own digits; medchain's unit tests cover the optimisation codes with links
compressed by GS1's own toolkit.
"""

import json
import sys

from gs1 import compress_gs1_digital_link


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        uris = json.load(f)
    out = []
    for uri in uris:
        try:
            compressed = compress_gs1_digital_link(
                digital_link_uri=uri,
                use_optimizations=False,
                compress_other_key_value_pairs=True,
            )
            out.append({"uri": uri, "compressed": compressed})
        except Exception as e:  # noqa: BLE001 - the oracle reports any failure as a verdict
            out.append({"uri": uri, "error": f"{type(e).__name__}: {e}"})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
