"""TOTP oracle for medchain's tests: pyotp, an implementation that is not medchain's.

Reads a JSON spec from the file named by the one argument and prints JSON:
  {"uris": [{"uri": ..., "times": [...]}, ...], "generate": n, "times": [...]}
answers
  {"codes": [[code at each time] for each uri],
   "generated": [{"uri": ..., "codes": [...]}]}
where `uris` are medchain's otpauth URIs, parsed here, and `generated` are pyotp's own secrets,
as provisioning URIs, with their codes at `times`.
"""

import json
import sys

import pyotp


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    codes = []
    for item in spec["uris"]:
        otp = pyotp.parse_uri(item["uri"])
        if not isinstance(otp, pyotp.TOTP):
            raise SystemExit("not a TOTP URI: " + item["uri"])
        codes.append([otp.at(t) for t in item["times"]])
    generated = []
    for i in range(spec["generate"]):
        otp = pyotp.TOTP(pyotp.random_base32())
        generated.append({
            "uri": otp.provisioning_uri(name=f"user{i}@example.org", issuer_name="oracle"),
            "secret": otp.secret,
            "codes": [otp.at(t) for t in spec["times"]],
        })
    print(json.dumps({"codes": codes, "generated": generated}))


if __name__ == "__main__":
    main()
