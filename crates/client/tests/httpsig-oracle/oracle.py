"""RFC 9421 checks with an implementation that is not medchain's: the `http-message-signatures`
package (PyPI), versions pinned in requirements.txt.

    python oracle.py verify <request.json>   verify a request medchain signed
    python oracle.py sign <request.json>     sign a request, print its headers as JSON

request.json: {"method", "url", "headers": {..}, "body_hex", "public_key_hex" | "seed_hex",
"nonce", "created", "expires"}, or with "alg": "hmac-sha256" and "secret_hex" (a session).
"""
import base64
import datetime
import hashlib
import json
import sys

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)


class Keys(HTTPSignatureKeyResolver):
    def __init__(self, spec):
        self.spec = spec

    def resolve_public_key(self, key_id):
        if "secret_hex" in self.spec:
            return bytes.fromhex(self.spec["secret_hex"])
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.spec["public_key_hex"]))

    def resolve_private_key(self, key_id):
        if "secret_hex" in self.spec:
            return bytes.fromhex(self.spec["secret_hex"])
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.spec["seed_hex"]))


def algorithm(spec):
    return {"ed25519": algorithms.ED25519, "hmac-sha256": algorithms.HMAC_SHA256}[spec.get("alg", "ed25519")]


def prepared(spec):
    body = bytes.fromhex(spec.get("body_hex", ""))
    request = requests.Request(spec["method"], spec["url"], headers=dict(spec.get("headers", {})), data=body or None)
    return request.prepare(), body


def main():
    mode, path = sys.argv[1], sys.argv[2]
    spec = json.load(open(path))
    message, body = prepared(spec)
    if mode == "verify":
        if body:
            digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
            assert message.headers["Content-Digest"] == digest, "content digest mismatch"
        verifier = HTTPMessageVerifier(signature_algorithm=algorithm(spec), key_resolver=Keys(spec))
        verifier.max_clock_skew = datetime.timedelta(days=36500)
        results = verifier.verify(message, max_age=datetime.timedelta(days=36500))
        print(json.dumps({"verified": True, "components": [str(c) for c in results[0].covered_components]}))
    elif mode == "sign":
        if body:
            message.headers["Content-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        covered = ["@method", "@authority", "@path", "@query"] + (["content-digest"] if body else [])
        signer = HTTPMessageSigner(signature_algorithm=algorithm(spec), key_resolver=Keys(spec))
        signer.sign(
            message,
            key_id=spec["keyid"],
            created=datetime.datetime.fromtimestamp(spec["created"]),
            expires=datetime.datetime.fromtimestamp(spec["expires"]),
            nonce=spec["nonce"],
            label="medchain",
            covered_component_ids=covered,
        )
        print(json.dumps({k: v for k, v in message.headers.items() if k.lower() in ("signature", "signature-input", "content-digest")}))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
