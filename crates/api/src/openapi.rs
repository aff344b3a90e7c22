//! The OpenAPI 3.1 document for `/v1`.

use serde_json::{Value, json};

fn problem_responses() -> Value {
    json!({
        "400": { "$ref": "#/components/responses/Problem" },
        "404": { "$ref": "#/components/responses/Problem" },
        "500": { "$ref": "#/components/responses/Problem" },
        "503": { "$ref": "#/components/responses/Problem" }
    })
}

fn with_problems(mut ok: Value) -> Value {
    if let (Some(map), Value::Object(problems)) = (ok.as_object_mut(), problem_responses()) {
        map.extend(problems);
    }
    ok
}

/// The document.
pub fn openapi() -> Value {
    let hex = |description: &str| json!({ "type": "string", "pattern": "^[0-9a-f]*$", "description": description });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "medchain API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A permissioned healthcare blockchain node. Every state answer can carry a proof that verifies offline against the genesis validator keys (`medchain verify`)."
        },
        "paths": {
            "/v1/status": { "get": {
                "summary": "Chain id, latest finalized block, validator set, mempool size",
                "operationId": "status",
                "responses": with_problems(json!({ "200": { "description": "Status", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Status" } } } } }))
            }},
            "/v1/transactions": { "post": {
                "summary": "Submit a signed transaction",
                "operationId": "submitTransaction",
                "description": "Send the transaction as JSON (`SignedTransaction`) or as its canonical binary encoding (`application/octet-stream`). It is checked statelessly (size, chain id, strict Ed25519 signature) and against current state (known signer, current key, unused nonce, and a dry run of what it does) before it enters the mempool. A transaction the credential policy refuses is not dropped: it commits as `denied`, using its nonce and recording an `action_denied` event, so the attempt is on the record.",
                "parameters": [
                    { "name": "wait", "in": "query", "schema": { "type": "boolean" }, "description": "Wait until the transaction commits or is rejected." },
                    { "name": "wait_ms", "in": "query", "schema": { "type": "integer", "maximum": 60000 }, "description": "How long to wait (default 10000)." }
                ],
                "requestBody": { "required": true, "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/SignedTransaction" } },
                    "application/octet-stream": { "schema": { "type": "string", "format": "binary" } }
                }},
                "responses": with_problems(json!({
                    "200": { "description": "Committed", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TxStatus" } } } },
                    "202": { "description": "Accepted, pending", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TxStatus" } } } },
                    "403": { "description": "Denied by the credential policy (committed, with an `action_denied` event), as a TxStatus; or refused at submission (unknown signer, wrong key, missing role), as a Problem", "content": { "application/json": { "schema": { "oneOf": [ { "$ref": "#/components/schemas/TxStatus" }, { "$ref": "#/components/schemas/Problem" } ] } } } },
                    "409": { "$ref": "#/components/responses/Problem" },
                    "413": { "$ref": "#/components/responses/Problem" },
                    "415": { "$ref": "#/components/responses/Problem" },
                    "422": { "description": "Rejected", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TxStatus" } } } }
                }))
            }},
            "/v1/transactions/batch": { "post": {
                "summary": "Submit up to 10,000 signed transactions at once",
                "operationId": "submitTransactions",
                "description": "The body is a JSON array of `SignedTransaction`, or the canonical encoding of a list of transactions (`application/octet-stream`). Each is checked as a single submission would be; signatures are verified in parallel. The answer lists, in order, each transaction's hash and, if it was refused, the problem.",
                "requestBody": { "required": true, "content": {
                    "application/json": { "schema": { "type": "array", "maxItems": 10000, "items": { "$ref": "#/components/schemas/SignedTransaction" } } },
                    "application/octet-stream": { "schema": { "type": "string", "format": "binary" } }
                }},
                "responses": with_problems(json!({
                    "200": { "description": "Per-transaction outcomes", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/BatchResult" } } } },
                    "413": { "$ref": "#/components/responses/Problem" },
                    "415": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/transactions/{hash}": { "get": {
                "summary": "A transaction's status, receipt and events",
                "operationId": "transactionStatus",
                "parameters": [ { "name": "hash", "in": "path", "required": true, "schema": hex("Transaction hash (64 hex characters)") } ],
                "responses": with_problems(json!({ "200": { "description": "Status", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TxStatus" } } } } }))
            }},
            "/v1/blocks/latest": { "get": {
                "summary": "The latest finalized block",
                "operationId": "latestBlock",
                "responses": with_problems(json!({ "200": { "description": "Block", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Block" } } } } }))
            }},
            "/v1/blocks/{height}": { "get": {
                "summary": "A finalized block with its finalization certificate",
                "operationId": "block",
                "parameters": [ { "name": "height", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 0 } } ],
                "responses": with_problems(json!({ "200": { "description": "Block", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Block" } } } } }))
            }},
            "/v1/state/{key}": { "get": {
                "summary": "A state entry, optionally with a proof",
                "operationId": "state",
                "description": "Keys: `genesis`, `governance`, `party/<id>`, `key/<public key>`, `receipt/<tx hash>`, `proposal/<n>`, `attestation/<party>/<subject>`, `credential/<id>`, `accreditation/<issuer>`, `requirement/<action>`, `record/<id>`, `record-version/<id>/<n>`, `record-author/<id>/<party>`, `grant/<id>`, `break-glass/<id>`, `list/<records|grants|granted|access|break-glass>/<owner>[/<seq>]` (a list's count, or one item: a patient's access log is `list/access/<patient>/<n>`), `raw/<hex>`. With `proof=true` the answer carries a proof of the value (or of its absence) against the state root of a finalized block, that block's header, and a finalization certificate.",
                "parameters": [
                    { "name": "key", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "Entry", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/State" } } } } }))
            }},
            "/v1/parties/{id}": { "get": {
                "summary": "A party, optionally with a proof",
                "operationId": "party",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": hex("Party id") },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "Party", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/State" } } } } }))
            }},
            "/v1/credentials/check": { "get": {
                "summary": "Does a party hold a valid credential of a type (in a jurisdiction) at a time?",
                "operationId": "credentialCheck",
                "description": "Public, no account needed. Lists every credential of the type the party holds (a jurisdiction matches its subdivisions), each with its issuer, status history and standing at `at_ms` (default: the latest block's time), and whether any is valid. With `proof=true`, `entries` holds every state entry the answer rests on (the holder index, then each credential it lists), each with a proof against one finalized block (`height`): a client recomputes the answer from them rather than trusting it.",
                "parameters": [
                    { "name": "party", "in": "query", "required": true, "schema": hex("Party id") },
                    { "name": "type", "in": "query", "required": true, "schema": { "type": "string" } },
                    { "name": "jurisdiction", "in": "query", "schema": { "type": "string" } },
                    { "name": "at_ms", "in": "query", "schema": { "type": "integer" } },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "Answer", "content": { "application/json": { "schema": { "type": "object" } } } } }))
            }},
            "/v1/supply/verify": { "get": {
                "summary": "Verify a scanned pack, case or pallet",
                "operationId": "verifyPack",
                "description": "Public, no account needed. `scan` is what a scanner read: a GS1 element string (FNC1 sent as GS, 0x1D, perhaps after a symbology identifier such as `]d2`), the human-readable form (`(01)...(21)...(17)...(10)...`) or a GS1 Digital Link URI; a pack is named by GTIN and serial, a case or pallet by SSCC. The answer has a verdict (`genuine`, `unknown_serial`, `illegitimate`, `suspect`, `mismatch` (the printed lot or expiry differs from the record), `decommissioned`, `consumed`, `recalled`, `dispensed`, `expired`; the most serious), every finding in words, who holds it and where it is heading, the containers it is in, its chain of custody (its own steps and those of the containers it travelled in), and the state entries it rests on; with `proof=true` each entry has a proof against a finalized block (an unknown serial's absence is proven). A malformed scan is a 422 naming what was wrong.",
                "parameters": [
                    { "name": "scan", "in": "query", "required": true, "schema": { "type": "string" } },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "Verdict", "content": { "application/json": { "schema": { "type": "object", "required": ["scan", "verdict", "findings", "height", "custody", "entries"] } } } } }))
            }},
            "/v1/supply/alerts": { "get": {
                "summary": "Suspect-product alerts",
                "operationId": "supplyAlerts",
                "description": "Public, like the ledger. A refused supply operation that points at counterfeiting or diversion (a second commissioning of a serial, a move or dispensing by someone who does not hold the object, a receipt by someone it was not sent to, a second dispensing, an unknown serial, a recalled, expired or flagged unit dispensed) is committed as denied and raises an alert: kind, who attempted what on which object, the reason, and the block. `manufacturer` (party id) pages that manufacturer's products' alerts; without it, every alert (what regulators watch). `from` (default 0) and `limit` (1 to 1000, default 100); `count` is the list's length. With `proof=true` each list entry has a proof against a finalized block.",
                "parameters": [
                    { "name": "manufacturer", "in": "query", "schema": hex("Party id") },
                    { "name": "from", "in": "query", "schema": { "type": "integer", "minimum": 0 } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "Alerts", "content": { "application/json": { "schema": { "type": "object", "required": ["count", "from", "alerts", "entries"] } } } } }))
            }},
            "/v1/supply/holdings": { "get": {
                "summary": "Where the units of a lot are (for a recall)",
                "operationId": "lotHoldings",
                "description": "Public. The lot (its expiry and recall notice), and for each of its units in commissioning order: serial, status, who holds it (a packed unit's outermost container's holder), where it is heading while in transit, and the containers it is in (innermost first), so a custodian finds each recalled pack down to its case. `custodian` keeps the units a party holds or is being sent; `in_chain=true` keeps units not yet dispensed, decommissioned or consumed. A page looks at `limit` units from position `from` (1 to 10,000, default 1,000; 1 to 1,000 with `proof=true`); `next` is where the next page starts. With `proof=true` the answer carries every state entry it read, each with a proof. An unknown lot is a 404.",
                "parameters": [
                    { "name": "gtin", "in": "query", "required": true, "schema": { "type": "string", "pattern": "^[0-9]{8,14}$" } },
                    { "name": "lot", "in": "query", "required": true, "schema": { "type": "string", "minLength": 1, "maxLength": 20 } },
                    { "name": "custodian", "in": "query", "schema": hex("Party id") },
                    { "name": "in_chain", "in": "query", "schema": { "type": "boolean" } },
                    { "name": "from", "in": "query", "schema": { "type": "integer", "minimum": 0 } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 10000 } },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "Holdings", "content": { "application/json": { "schema": { "type": "object", "required": ["lot", "in_chain_only", "height", "from", "units", "entries"] } } } } }))
            }},
            "/v1/supply/lineage": { "get": {
                "summary": "A unit's ancestry through transformations",
                "operationId": "lineage",
                "description": "Public. `scan` names a serialized unit (element string, human-readable form or Digital Link). The answer lists the unit and its ancestors breadth first: each with its lot, its generation (0 the unit asked about, 1 its inputs, ...), and the transformation that made it (who, when, its inputs, the transaction). At most 1,000 units (`truncated` says more exist). With `proof=true` every state entry read comes with a proof. An unknown serial is a 404.",
                "parameters": [
                    { "name": "scan", "in": "query", "required": true, "schema": { "type": "string" } },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "Lineage", "content": { "application/json": { "schema": { "type": "object", "required": ["height", "ancestry", "truncated", "entries"] } } } } }))
            }},
            "/epcis/events": { "get": {
                "summary": "EPCIS 2.0 query: supply events as an EPCISQueryDocument",
                "operationId": "epcisEvents",
                "description": "Public. A SimpleEventQuery as query parameters (GS1 EPCIS 2.0 REST binding); several values of one parameter are separated by `|`. Name what to find: `MATCH_anyEPC` (events naming a unit or container in any EPC field), `MATCH_epc` (in epcList or childEPCs), `MATCH_anyEPCClass` / `MATCH_epcClass` (a lot, `https://id.gs1.org/01/{gtin}/10/{lot}` or `urn:epc:class:lgtin:...`: its recall and the events commissioning or making its units), or `GE_eventTime` (with `LT_eventTime`; at most 366 days). Filters: `eventType`, `EQ_bizStep`, `GE_/LT_eventTime`, `GE_/LT_recordTime`. Identifiers may be GS1 Digital Link URIs on any domain or EPC URNs. Each event carries its GS1 CBV 2.0 event hash id as `eventID` and its block's time as `recordTime`; EPCs are canonical Digital Link. `perPage` (1 to 1000, default 100); a further page is linked in the `Link: <...>; rel=\"next\"` header (`nextPageToken`). Answers carry `GS1-EPCIS-Version: 2.0` and `GS1-CBV-Version: 2.0`. An unknown parameter is a 400 `query_parameter` naming it.",
                "parameters": [
                    { "name": "MATCH_anyEPC", "in": "query", "schema": { "type": "string" } },
                    { "name": "MATCH_epc", "in": "query", "schema": { "type": "string" } },
                    { "name": "MATCH_anyEPCClass", "in": "query", "schema": { "type": "string" } },
                    { "name": "MATCH_epcClass", "in": "query", "schema": { "type": "string" } },
                    { "name": "eventType", "in": "query", "schema": { "type": "string" } },
                    { "name": "EQ_bizStep", "in": "query", "schema": { "type": "string" } },
                    { "name": "GE_eventTime", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                    { "name": "LT_eventTime", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                    { "name": "GE_recordTime", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                    { "name": "LT_recordTime", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                    { "name": "perPage", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } },
                    { "name": "nextPageToken", "in": "query", "schema": { "type": "string" } },
                    { "name": "proof", "in": "query", "description": "medchain's, not EPCIS's: `true` serves JSON holding the `document`, its `next_page_token`, the `height` read, every state `entries` (the indexes selecting the events, each transaction's receipt, proven at that height), the `transactions` (hex) and each of their blocks' finality (`blocks`), so a client rebuilds the document itself (`medchain_client::supply::check_epcis_events`)", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({
                    "200": { "description": "EPCISQueryDocument", "content": { "application/ld+json": { "schema": { "type": "object", "required": ["@context", "type", "schemaVersion", "epcisBody"] } } } },
                    "413": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/epcis/capture": { "post": {
                "summary": "EPCIS 2.0 capture for a custodial account",
                "operationId": "epcisCapture",
                "description": "Signed (RFC 9421, `hmac-sha256`) under a custodial session (POST /v1/custodial/sign-in); a party with its own key captures with the SDK (`supply::capture_transactions`), which signs locally. The body is an EPCISDocument (JSON or JSON-LD, at most 1,000 events) of ObjectEvents, AggregationEvents and TransformationEvents with CBV 2.0 business steps: commissioning (ADD, ILMD `cbvmda:lotNumber` and `cbvmda:itemExpirationDate`), packing (ADD) and unpacking (DELETE), shipping (the receiver as `{\"type\": \"owning_party\", \"destination\": \"urn:medchain:party:<id>\"}`; disposition `returned` for a return), receiving, dispensing, decommissioning, destroying and sampling (DELETE), holding with disposition `recalled` (the lot in `quantityList`, `medchain:reason`), inspecting with `medchain:flag`. Every field is kept and served back; an event that would be served with another CBV 2.0 hash, or whose `ni:///` eventID is not its hash, is refused. Each event becomes one transaction signed with the account's key; all are run in order against current state and submitted only if every one would apply (`GS1-Capture-Error-Behaviour: rollback`; other behaviours are a 501); an account with transactions still pending is answered 409 `capture_pending`, to capture again once they commit. 400 `epcis_validation` names the event and the fault; 409 `epcis_capture_refused` names the event the chain would refuse and why.",
                "security": [ { "httpSignature": [] } ],
                "requestBody": { "required": true, "content": { "application/ld+json": { "schema": { "type": "object" } }, "application/json": { "schema": { "type": "object" } } } },
                "responses": with_problems(json!({
                    "202": { "description": "Accepted: `captureID`, each event's `eventIDs` and `transactions`; `Location: /epcis/capture/{captureID}`", "content": { "application/ld+json": { "schema": { "type": "object", "required": ["captureID", "eventIDs", "transactions"] } } } },
                    "403": { "$ref": "#/components/responses/Problem" },
                    "501": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/epcis/capture/{captureID}": { "get": {
                "summary": "An EPCIS capture job",
                "operationId": "epcisCaptureJob",
                "description": "`running` while any of its transactions is pending; then `success`, and `errors` for events the chain did not record. Each event's `eventID`, `transaction` and `status`. A node remembers its last 4,096 jobs.",
                "parameters": [ { "name": "captureID", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "responses": with_problems(json!({ "200": { "description": "Capture job", "content": { "application/ld+json": { "schema": { "type": "object", "required": ["captureID", "running", "errors"] } } } } }))
            }},
            "/v1/credentials/{id}": { "get": {
                "summary": "A credential, optionally with a proof",
                "operationId": "credential",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": hex("Credential id") },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "Credential", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/State" } } } } }))
            }},
            "/v1/blobs": { "post": {
                "summary": "Upload sealed record content to this custodian",
                "operationId": "uploadBlob",
                "description": "Signed (RFC 9421, label `medchain`, covering `@method`, `@authority`, `@path`, `@query` and `content-digest`, with `created`, `expires`, `nonce`, `keyid` = the signer's party id, `alg=\"ed25519\"`). The body is content sealed by the client (ChaCha20-Poly1305 under a fresh data key); the node cannot read it. It is kept pending until a finalized record version anchors its SHA-256, and deleted if none does within an hour.",
                "security": [ { "httpSignature": [] } ],
                "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary", "maxLength": 16777216 } } } },
                "responses": with_problems(json!({
                    "201": { "description": "Stored", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/BlobUpload" } } } },
                    "401": { "$ref": "#/components/responses/Problem" },
                    "413": { "$ref": "#/components/responses/Problem" },
                    "429": { "$ref": "#/components/responses/Problem" },
                    "507": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/records/{id}/versions/{version}/keys/{recipient}": { "put": {
                "summary": "Share a record version's data key, wrapped for a party",
                "operationId": "putWrappedKey",
                "description": "Signed (RFC 9421) by the patient, the record's organisation or the version's author. The body is 144 bytes: the data key wrapped for `recipient` with HPKE (RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305; 32-byte enc then 48-byte sealed key), then the sharer's Ed25519 signature over `medchain/wrapped-key/v1 || record || version || recipient || wrapped`. The custodian passes it to the version's other custodians.",
                "security": [ { "httpSignature": [] } ],
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": hex("Record id") },
                    { "name": "version", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } },
                    { "name": "recipient", "in": "path", "required": true, "schema": hex("Party id") }
                ],
                "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary", "minLength": 144, "maxLength": 144 } } } },
                "responses": with_problems(json!({
                    "204": { "description": "Stored" },
                    "401": { "$ref": "#/components/responses/Problem" },
                    "403": { "$ref": "#/components/responses/Problem" },
                    "409": { "$ref": "#/components/responses/Problem" },
                    "410": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/records/{id}/read": { "post": {
                "summary": "An audited read of a record",
                "operationId": "readRecord",
                "description": "Signed (RFC 9421) by the reader. The body is the reader's signed transaction `{type: record, op: access, record, version (0 = latest), basis, purpose, custodian}` naming this custodian. The custodian commits it and waits for its block: the chain decides the read against the patient's grants (or authorship, or an in-force break-glass) and enters it in the patient's access log, granted or denied. Only a granted read returns the sealed content and the data key wrapped for the reader; a denied one answers 403 with the reason and the log entry.",
                "security": [ { "httpSignature": [] } ],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": hex("Record id") } ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SignedTransaction" } } } },
                "responses": with_problems(json!({
                    "200": { "description": "Granted and served", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RecordRead" } } } },
                    "401": { "$ref": "#/components/responses/Problem" },
                    "403": { "$ref": "#/components/responses/Problem" },
                    "409": { "$ref": "#/components/responses/Problem" },
                    "422": { "$ref": "#/components/responses/Problem" },
                    "504": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/sessions": { "post": {
                "summary": "Open a request-signing session on this node",
                "operationId": "openSession",
                "description": "Signed (RFC 9421) with the party's own Ed25519 key. Opens a session of `lifetime_secs` (60 to 3,600; default 900) and answers its id and its 32-byte secret wrapped for the party's encryption key (HPKE base mode as for record keys, `info` = `medchain/session-secret/v1 || session id`, associated data = the party id). Later requests to this node may then be signed with `alg=\"hmac-sha256\"` (RFC 9421 section 3.3.3) and `keyid` = the session id, which saves an Ed25519 signature and verification per request. The session ends when it expires, when the party ends it, when the party opens a 17th, or at once if the party's signing key changes. It authenticates requests to this node only; transactions stay signed with the party's key.",
                "security": [ { "httpSignature": [] } ],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "lifetime_secs": { "type": "integer", "minimum": 60, "maximum": 3600 } }, "additionalProperties": false } } } },
                "responses": with_problems(json!({
                    "201": { "description": "Opened", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Session" } } } },
                    "401": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/sessions/{id}": { "delete": {
                "summary": "End a request-signing session",
                "operationId": "endSession",
                "description": "Signed by the session's party, with its key or with the session itself.",
                "security": [ { "httpSignature": [] } ],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": hex("Session id (32 hex digits)") } ],
                "responses": with_problems(json!({
                    "204": { "description": "Ended" },
                    "401": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/custodial/accounts": {
                "post": {
                    "summary": "Open a custodial account (the node makes and keeps the user's keys)",
                    "operationId": "inviteAccount",
                    "description": "CUSTODIAL MODE. Signed (RFC 9421) by the organisation whose custodial key this node keeps. The node generates the user's Ed25519 and X25519 keys and seals them (ChaCha20-Poly1305) under a key derived from a one-time activation code (Argon2id, 64 MiB, 3 passes) and the node's account key (derived from the organisation's custodial key). The answer carries the party id and public keys, which the organisation registers on chain (`RegisterParty`), and the activation code, shown once and valid for 7 days. 404 `no_custodial_accounts` on a node without a custodial keystore.",
                    "security": [ { "httpSignature": [] } ],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["username", "kind"], "properties": {
                        "username": { "type": "string", "pattern": "^[a-z0-9_@-][a-z0-9._@-]{2,63}$" },
                        "kind": { "type": "string", "enum": ["patient", "practitioner", "device"] } }, "additionalProperties": false } } } },
                    "responses": with_problems(json!({
                        "201": { "description": "Opened", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AccountInvited" } } } },
                        "401": { "$ref": "#/components/responses/Problem" },
                        "403": { "$ref": "#/components/responses/Problem" },
                        "409": { "$ref": "#/components/responses/Problem" }
                    }))
                },
                "get": {
                    "summary": "The node's custodial accounts, without secrets",
                    "operationId": "listAccounts",
                    "description": "Signed by the organisation whose accounts they are.",
                    "security": [ { "httpSignature": [] } ],
                    "responses": with_problems(json!({
                        "200": { "description": "Accounts by username", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/AccountSummary" } } } } },
                        "403": { "$ref": "#/components/responses/Problem" }
                    }))
                }
            },
            "/v1/custodial/activate": { "post": {
                "summary": "Activate a custodial account: activation code and a new password",
                "operationId": "activateAccount",
                "description": "Unsigned. The password (12 characters or more, at most 256 bytes, not containing the username) replaces the activation code; the answer carries the TOTP secret to enrol (RFC 6238: HMAC-SHA1, 6 digits, 30 s; as base32 and as an `otpauth://` URI) and a recovery code, both shown once. Wrong codes count towards the account lock.",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["username", "activation_code", "password"], "properties": {
                    "username": { "type": "string" }, "activation_code": { "type": "string" }, "password": { "type": "string", "format": "password" } }, "additionalProperties": false } } } },
                "responses": with_problems(json!({
                    "200": { "description": "Activated", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AccountEnrolled" } } } },
                    "401": { "$ref": "#/components/responses/Problem" },
                    "410": { "$ref": "#/components/responses/Problem" },
                    "429": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/custodial/sign-in": { "post": {
                "summary": "Sign in to a custodial account with a password and a TOTP code",
                "operationId": "signIn",
                "description": "Unsigned. Checks the password (it opens the sealed keys) and a TOTP code (the current 30-second step or one either side; each step accepted once). Opens a request-signing session holding the user's keys in memory for `lifetime_secs` (60 to 3,600; default 900) and answers its id and HMAC-SHA256 secret in clear (the user has no key to wrap it for: serve the API over TLS). One answer, 401 `wrong_credentials`, for an unknown user, a wrong password, a wrong or spent code and an account not yet activated; five failures in a row lock the account for a minute, doubling per further failure up to an hour (429 `account_locked`). 409 `not_registered` until the organisation registers the account's party. Passwords and codes over 256 bytes are refused (400) before any work; with more than 256 derivations queued the node answers 503 `busy`.",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["username", "password", "totp"], "properties": {
                    "username": { "type": "string" }, "password": { "type": "string", "format": "password" }, "totp": { "type": "string", "pattern": "^[0-9]{6}$" },
                    "lifetime_secs": { "type": "integer", "minimum": 60, "maximum": 3600 } }, "additionalProperties": false } } } },
                "responses": with_problems(json!({
                    "201": { "description": "Signed in", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CustodialSession" } } } },
                    "401": { "$ref": "#/components/responses/Problem" },
                    "409": { "$ref": "#/components/responses/Problem" },
                    "429": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/custodial/password": { "post": {
                "summary": "Change a custodial account's password",
                "operationId": "changePassword",
                "description": "Unsigned: the current password and a TOTP code prove it. Ends the user's open sessions.",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["username", "password", "totp", "new_password"], "properties": {
                    "username": { "type": "string" }, "password": { "type": "string", "format": "password" }, "totp": { "type": "string" }, "new_password": { "type": "string", "format": "password" } }, "additionalProperties": false } } } },
                "responses": with_problems(json!({
                    "204": { "description": "Changed" },
                    "401": { "$ref": "#/components/responses/Problem" },
                    "429": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/custodial/recover": { "post": {
                "summary": "Reset a custodial account's password and second factor with its recovery code",
                "operationId": "recoverAccount",
                "description": "Unsigned: the recovery code proves it (it opens a second seal of the same keys). Answers a new TOTP secret and a new recovery code; the old ones stop working, and the user's open sessions end. The user keeps their keys, and so their records.",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["username", "recovery_code", "new_password"], "properties": {
                    "username": { "type": "string" }, "recovery_code": { "type": "string" }, "new_password": { "type": "string", "format": "password" } }, "additionalProperties": false } } } },
                "responses": with_problems(json!({
                    "200": { "description": "Recovered", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AccountEnrolled" } } } },
                    "401": { "$ref": "#/components/responses/Problem" },
                    "429": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/custodial/transactions": { "post": {
                "summary": "Sign a transaction as the signed-in custodial user",
                "operationId": "custodialSign",
                "description": "Signed (RFC 9421, `hmac-sha256`) under a custodial session. Answers the transaction signed with the user's Ed25519 key, for the client to submit (or to send with an audited read). `RotateKeys` is refused (409 `custodial_rotation`): the keystore would no longer match the chain. 403 `not_custodial` under any other signature.",
                "security": [ { "httpSignature": [] } ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["nonce", "body"], "properties": {
                    "nonce": { "type": "integer" }, "body": { "type": "object", "description": "A transaction body, as in POST /v1/transactions" } }, "additionalProperties": false } } } },
                "responses": with_problems(json!({
                    "200": { "description": "The signed transaction", "content": { "application/json": { "schema": { "type": "object" } } } },
                    "403": { "$ref": "#/components/responses/Problem" },
                    "409": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/custodial/wrapped-key-signatures": { "post": {
                "summary": "Sign a wrapped data key as the signed-in custodial user",
                "operationId": "custodialSignWrappedKey",
                "description": "Signed under a custodial session. Answers the user's Ed25519 signature (domain `medchain/wrapped-key/v1`) over the record, version, recipient and wrapped key, which a custodian checks before storing the key.",
                "security": [ { "httpSignature": [] } ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["record", "version", "recipient", "wrapped"], "properties": {
                    "record": hex("Record id"), "version": { "type": "integer" }, "recipient": hex("Party id"), "wrapped": hex("The wrapped key (80 bytes)") }, "additionalProperties": false } } } },
                "responses": with_problems(json!({
                    "200": { "description": "The signature", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CustodialBytes" } } } },
                    "403": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/custodial/unwrap": { "post": {
                "summary": "Unwrap a data key wrapped for the signed-in custodial user",
                "operationId": "custodialUnwrap",
                "description": "Signed under a custodial session. Answers the 32-byte data key of a record version, if the wrapped key is addressed to the session's user for that version (else 422 `cannot_unwrap`). The client opens the content and checks it against the chain.",
                "security": [ { "httpSignature": [] } ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["record", "version", "wrapped"], "properties": {
                    "record": hex("Record id"), "version": { "type": "integer" }, "wrapped": hex("The wrapped key (80 bytes)") }, "additionalProperties": false } } } },
                "responses": with_problems(json!({
                    "200": { "description": "The data key", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CustodialBytes" } } } },
                    "403": { "$ref": "#/components/responses/Problem" },
                    "422": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/records/{id}": { "get": {
                "summary": "A record and every version, as anchored (never content)",
                "operationId": "recordHistory",
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": hex("Record id") } ],
                "responses": with_problems(json!({ "200": { "description": "The record and its versions", "content": { "application/json": { "schema": { "type": "object" } } } } }))
            }},
            "/v1/patients/{id}/disclosures": { "get": {
                "summary": "The accounting of disclosures of a patient for a period",
                "operationId": "disclosures",
                "description": "Built from the patient's access log on chain for `[from, to)`: every granted read by someone other than the patient (who, their public label, record and resource type, purpose with its HL7 PurposeOfUse code, grant or break-glass, custodian, transaction), break-glass reads flagged for review, every denied attempt with its reason, and the count of the patient's own reads. Each line names its access-log position `n`: `/v1/state/list/access/<patient>/n?proof=true` proves it. `format=html` answers a readable page. A period holding more than 20,000 log entries is refused (422).",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": hex("Patient party id") },
                    { "name": "from", "in": "query", "required": true, "schema": { "type": "string", "description": "A date (2026-01-31, UTC midnight) or an RFC 3339 time" } },
                    { "name": "to", "in": "query", "required": true, "schema": { "type": "string", "description": "A date or an RFC 3339 time (excluded)" } },
                    { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["json", "html"] } }
                ],
                "responses": with_problems(json!({
                    "200": { "description": "The report", "content": { "application/json": { "schema": { "type": "object" } }, "text/html": { "schema": { "type": "string" } } } },
                    "422": { "$ref": "#/components/responses/Problem" }
                }))
            }},
            "/v1/patients/{id}/{list}": { "get": {
                "summary": "A page of a patient's records, grants, access log or break-glass declarations",
                "operationId": "patientList",
                "description": "`list` is `records`, `grants`, `access-log` or `break-glass`. Each item names its state key (`list/<name>/<patient>/<seq>`), which `/v1/state/{key}?proof=true` serves with a proof. The access log holds every read of the patient's records, granted or denied, with reader, basis, purpose, custodian, time and transaction. With `proof=true`, `entries` holds every state entry the page rests on (the list's count, each item, and the record, grant or declaration it names), each with a proof against one finalized block (`height`): a client recomputes the page, and checks it is complete, from them.",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": hex("Patient party id") },
                    { "name": "list", "in": "path", "required": true, "schema": { "type": "string", "enum": ["records", "grants", "access-log", "break-glass"] } },
                    { "name": "from", "in": "query", "schema": { "type": "integer", "minimum": 0 } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } },
                    { "name": "proof", "in": "query", "schema": { "type": "boolean" } }
                ],
                "responses": with_problems(json!({ "200": { "description": "A page", "content": { "application/json": { "schema": { "type": "object" } } } } }))
            }},
            "/v1/openapi.json": { "get": { "summary": "This document", "operationId": "openapi", "responses": { "200": { "description": "OpenAPI document" } } } },
            "/v1/docs": { "get": { "summary": "A page that renders this document", "operationId": "docs", "responses": { "200": { "description": "HTML" } } } },
            "/healthz": { "get": { "summary": "Liveness", "operationId": "healthz", "responses": { "200": { "description": "ok" } } } },
            "/readyz": { "get": { "summary": "Readiness", "operationId": "readyz", "responses": { "200": { "description": "ready" }, "503": { "$ref": "#/components/responses/Problem" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "operationId": "metrics", "responses": { "200": { "description": "text/plain exposition" } } } }
        },
        "components": {
            "securitySchemes": {
                "httpSignature": { "type": "apiKey", "in": "header", "name": "Signature", "description": "RFC 9421 HTTP Message Signatures with Ed25519: `Signature-Input: medchain=(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-digest\");created=...;expires=...;nonce=\"...\";keyid=\"<party id>\";alg=\"ed25519\"` and `Signature: medchain=:<base64>:`, with `Content-Digest` (RFC 9530, sha-256) when there is a body. The key is the signer's current signing key on chain; a signature lives at most 5 minutes and its nonce is accepted once. Within a session opened with `POST /v1/sessions`, requests to the same node may instead carry `keyid=\"<session id>\";alg=\"hmac-sha256\"` and an HMAC-SHA256 under the session secret." }
            },
            "responses": {
                "Problem": { "description": "An RFC 9457 problem", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }
            },
            "schemas": {
                "Session": { "type": "object", "required": ["session", "party", "expires_at", "wrapped_secret"], "properties": {
                    "session": hex("Session id: the keyid of requests signed under it"),
                    "party": hex("The party it was opened for"),
                    "expires_at": { "type": "integer", "description": "Unix seconds" },
                    "wrapped_secret": hex("80 bytes: the HPKE enc (32) and the sealed 32-byte secret (48)")
                }},
                "AccountInvited": { "type": "object", "required": ["username", "party_id", "kind", "signing_key", "encryption_key", "activation_code", "activation_expires_at"], "properties": {
                    "username": { "type": "string" }, "party_id": hex("The party to register"), "kind": { "type": "string" },
                    "signing_key": hex("Ed25519 public key"), "encryption_key": hex("X25519 public key"),
                    "activation_code": { "type": "string", "description": "One-time, 160 bits in base32 groups of four; shown once" },
                    "activation_expires_at": { "type": "integer", "description": "Unix seconds" } } },
                "AccountEnrolled": { "type": "object", "required": ["username", "party_id", "totp_uri", "totp_secret", "recovery_code"], "properties": {
                    "username": { "type": "string" }, "party_id": hex("The account's party"),
                    "totp_uri": { "type": "string", "description": "otpauth://totp/... for an authenticator app" },
                    "totp_secret": { "type": "string", "description": "The TOTP secret, base32" },
                    "recovery_code": { "type": "string", "description": "One-time; resets the password and the second factor" } } },
                "AccountSummary": { "type": "object", "required": ["username", "party_id", "kind", "state", "created_at"], "properties": {
                    "username": { "type": "string" }, "party_id": hex("The account's party"), "kind": { "type": "string" },
                    "state": { "type": "string", "enum": ["invited", "active"] },
                    "created_at": { "type": "integer" }, "activated_at": { "type": ["integer", "null"] } } },
                "CustodialSession": { "type": "object", "required": ["session", "party", "expires_at", "secret"], "properties": {
                    "session": hex("Session id: the keyid of requests signed under it"), "party": hex("The user's party"),
                    "expires_at": { "type": "integer", "description": "Unix seconds" },
                    "secret": hex("The session's 32-byte HMAC-SHA256 secret") } },
                "CustodialBytes": { "type": "object", "required": ["hex"], "properties": { "hex": hex("The answer's bytes") } },
                "BlobUpload": { "type": "object", "required": ["hash", "bytes"], "properties": {
                    "hash": hex("SHA-256 of the content"), "bytes": { "type": "integer" } } },
                "RecordRead": { "type": "object", "required": ["record", "version", "media_type", "ciphertext", "ciphertext_hash", "wrapped_key", "access_seq", "access_tx"], "properties": {
                    "record": hex("Record id"), "version": { "type": "integer" }, "media_type": { "type": "string" },
                    "ciphertext": { "type": "string", "contentEncoding": "base64", "description": "The sealed content (mce1 || nonce || ciphertext || tag)" },
                    "ciphertext_hash": hex("SHA-256 of the sealed content, as anchored"),
                    "wrapped_key": hex("The data key wrapped for the reader (80 bytes)"),
                    "access_seq": { "type": "integer", "description": "The read's entry in the patient's access log (state key list/access/<patient>/<seq>)" },
                    "access_tx": hex("The access transaction") } },
                "Problem": { "type": "object", "required": ["type", "title", "status", "detail", "code"], "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                    "detail": { "type": "string" }, "code": { "type": "string" } } },
                "Header": { "type": "object", "properties": {
                    "height": { "type": "integer" }, "parent": hex("Parent block hash"), "time_ms": { "type": "integer" },
                    "tx_root": hex("Merkle root of transaction hashes"), "tx_count": { "type": "integer" },
                    "state_root": hex("Canonical state root"), "state_ops_root": hex("State operation log root"),
                    "state_ops": { "$ref": "#/components/schemas/OpRange" }, "events_root": hex("Event log root"),
                    "events": { "$ref": "#/components/schemas/OpRange" } } },
                "OpRange": { "type": "object", "properties": { "start": { "type": "integer" }, "end": { "type": "integer" } } },
                "Status": { "type": "object", "properties": {
                    "chain_id": { "type": "string" }, "genesis_digest": hex("Genesis digest"), "validator_key": hex("This node's consensus key"), "node_party": hex("The organisation running this node"),
                    "latest": { "type": "object", "properties": { "height": { "type": "integer" }, "hash": hex("Block hash"), "time_ms": { "type": "integer" }, "state_root": hex("State root") } },
                    "validators": { "type": "array", "items": hex("Validator key") }, "mempool_size": { "type": "integer" } } },
                "Transaction": { "type": "object", "required": ["chain_id", "signer", "public_key", "nonce", "body"], "properties": {
                    "chain_id": { "type": "string" }, "signer": hex("Party id"), "public_key": hex("Ed25519 public key"),
                    "nonce": { "type": "integer" },
                    "body": { "type": "object", "description": "Tagged by `type`: register_party, rotate_keys, propose, approve, attest, issue_credential, set_credential_status, record (then tagged by `op`: put, grant, revoke, access, break_glass, review_break_glass, erase, legal_hold)", "required": ["type"] } } },
                "SignedTransaction": { "type": "object", "required": ["transaction", "signature"], "properties": {
                    "transaction": { "$ref": "#/components/schemas/Transaction" }, "signature": hex("Ed25519 signature over the domain and canonical encoding") } },
                "TxStatus": { "type": "object", "required": ["hash", "status"], "properties": {
                    "hash": hex("Transaction hash"), "status": { "type": "string", "enum": ["pending", "committed", "denied", "rejected", "unknown"] },
                    "receipt": { "type": "object" }, "events": { "type": "array", "items": { "type": "object" } },
                    "rejection": { "type": "object", "properties": { "code": { "type": "string" }, "reason": { "type": "string" } } } } },
                "BatchResult": { "type": "object", "properties": {
                    "accepted": { "type": "integer" }, "refused": { "type": "integer" },
                    "results": { "type": "array", "items": { "type": "object", "properties": {
                        "hash": hex("Transaction hash"), "problem": { "$ref": "#/components/schemas/Problem" } } } } } },
                "Block": { "type": "object", "properties": {
                    "height": { "type": "integer" }, "hash": hex("Block hash"), "header": { "$ref": "#/components/schemas/Header" },
                    "context": hex("Consensus context encoding"), "transactions": { "type": "array", "items": hex("Transaction hash") },
                    "finalization": hex("Finalization certificate") } },
                "State": { "type": "object", "properties": {
                    "key": { "type": "string" }, "key_hex": hex("Raw key"), "value": hex("Value"), "decoded": { "type": "object" },
                    "height": { "type": "integer" },
                    "proof": { "type": "object", "properties": {
                        "kind": { "type": "string", "enum": ["value", "absence"] }, "proof": hex("Database proof"), "height": { "type": "integer" },
                        "finality": { "type": "object", "properties": {
                            "certified": { "type": "object" }, "finalization": hex("Certificate"), "links": { "type": "array", "items": { "type": "object" } } } } } } } }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented() {
        let document = super::openapi();
        let paths = document["paths"].as_object().expect("paths");
        for route in [
            "/v1/status",
            "/v1/transactions",
            "/v1/transactions/batch",
            "/v1/transactions/{hash}",
            "/v1/blocks/latest",
            "/v1/blocks/{height}",
            "/v1/state/{key}",
            "/v1/parties/{id}",
            "/v1/credentials/check",
            "/v1/credentials/{id}",
            "/v1/supply/verify",
            "/v1/supply/alerts",
            "/v1/supply/holdings",
            "/v1/supply/lineage",
            "/epcis/events",
            "/epcis/capture",
            "/epcis/capture/{captureID}",
            "/v1/blobs",
            "/v1/records/{id}/versions/{version}/keys/{recipient}",
            "/v1/records/{id}/read",
            "/v1/records/{id}",
            "/v1/sessions",
            "/v1/sessions/{id}",
            "/v1/custodial/accounts",
            "/v1/custodial/activate",
            "/v1/custodial/sign-in",
            "/v1/custodial/password",
            "/v1/custodial/recover",
            "/v1/custodial/transactions",
            "/v1/custodial/wrapped-key-signatures",
            "/v1/custodial/unwrap",
            "/v1/patients/{id}/disclosures",
            "/v1/patients/{id}/{list}",
            "/v1/openapi.json",
            "/v1/docs",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(
                paths.contains_key(route),
                "{route} is not in the OpenAPI document"
            );
        }
    }
}
