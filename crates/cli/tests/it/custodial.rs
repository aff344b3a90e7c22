//! Custodial accounts end to end on a dev chain (whose node keeps the demo hospital's custodial
//! key): the hospital opens an account, the user activates it, signs in with a password and a
//! TOTP code, and reads, writes and grants through the node holding their keys; misuse is
//! refused; recovery and password changes end sessions; guessing locks the account; and no
//! secret is left in clear in the account file or the node log. The `medchain custodial`
//! commands run the same flow from the command line.

use crate::{processes, records::practitioner};
use medchain_client::{
    Client, ClientError,
    custodial::{self, Holder},
    keys::PartyKeys,
    records::{self, NewGrant, NewRecord, RecordsError},
};
use medchain_types::{
    Hash32, PartyKind, Roles, TxBody,
    dev::party_id,
    records::{AccessBasis, Purpose, ResourceType, Scope},
    totp,
};
use processes::Node;
use std::time::Duration;

const PASSWORD: &str = "Synthetic-Passphrase-One";
const NEW_PASSWORD: &str = "Synthetic-Passphrase-Two";
const THIRD_PASSWORD: &str = "Synthetic-Passphrase-Three";
const MARKER: &str = "SYNTHETIC-MARKER-custodial-4be1";

fn problem_of(err: &ClientError) -> (u16, String) {
    match err {
        ClientError::Problem(problem) => (problem.status, problem.code.clone()),
        other => panic!("not a problem answer: {other}"),
    }
}

fn records_problem(err: &RecordsError) -> (u16, String) {
    match err {
        RecordsError::Client(err) => problem_of(err),
        other => panic!("not a problem answer: {other}"),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custodial_accounts_sign_in_with_password_and_totp_and_act_for_their_users() {
    let dir = processes::temp_dir("custodial");
    // Every sign-in of this test comes from loopback: a higher limit than a node's default
    // 30 a minute (the limit itself is tested in `medchain_node::accounts`).
    let node = Node::dev_with(&dir, &["--sign-in-attempts-per-minute", "600"]);
    let client = node.client().await;
    processes::wait_for_height(&client, 1, Duration::from_secs(60)).await;
    let hospital = PartyKeys::dev("hospital");
    let hospital_id = party_id("hospital");

    // Only the organisation the node keeps accounts for opens them.
    let err = custodial::invite(
        &client,
        &PartyKeys::dev("clinic"),
        "pat.one",
        PartyKind::Patient,
        "",
        Roles::default(),
    )
    .await
    .expect_err("another organisation");
    assert_eq!(records_problem(&err), (403, "not_the_organisation".into()));
    let invited = custodial::invite(
        &client,
        &hospital,
        "pat.one",
        PartyKind::Patient,
        "",
        Roles::default(),
    )
    .await
    .expect("the hospital opens an account");
    let on_chain = client
        .state(&format!("party/{}", invited.party_id), false)
        .await
        .expect("state");
    assert!(
        on_chain.value.is_some(),
        "the account's party is registered"
    );
    let err = custodial::invite(
        &client,
        &hospital,
        "pat.one",
        PartyKind::Patient,
        "",
        Roles::default(),
    )
    .await
    .expect_err("taken");
    assert_eq!(records_problem(&err), (409, "username_taken".into()));

    // Activation: the code, and a password that is long enough.
    let err = custodial::sign_in(&client, "pat.one", PASSWORD, "123456", None)
        .await
        .expect_err("not active yet");
    assert_eq!(problem_of(&err), (401, "wrong_credentials".into()));
    let err = custodial::activate(&client, "pat.one", "AAAA-BBBB-CCCC", PASSWORD)
        .await
        .expect_err("wrong code");
    assert_eq!(problem_of(&err), (401, "wrong_credentials".into()));
    let err = custodial::activate(&client, "pat.one", &invited.activation_code, "short")
        .await
        .expect_err("weak password");
    assert_eq!(problem_of(&err), (400, "invalid_password".into()));
    let enrolled = custodial::activate(&client, "pat.one", &invited.activation_code, PASSWORD)
        .await
        .expect("activates");
    let secret = totp::base32_decode(&enrolled.totp_secret).expect("base32");
    assert!(enrolled.totp_uri.contains(&enrolled.totp_secret));

    // Sign-in: password and a current code, each code once.
    let now = now_secs();
    let code = totp::code(&secret, now);
    let err = custodial::sign_in(&client, "pat.one", "Wrong-Passphrase-000", &code, None)
        .await
        .expect_err("wrong password");
    assert_eq!(problem_of(&err), (401, "wrong_credentials".into()));
    let user = custodial::sign_in(&client, "pat.one", PASSWORD, &code, Some(600))
        .await
        .expect("signs in");
    assert_eq!(user.party_id(), invited.party_id);
    let err = custodial::sign_in(&client, "pat.one", PASSWORD, &code, None)
        .await
        .expect_err("the code is spent");
    assert_eq!(problem_of(&err), (401, "wrong_credentials".into()));

    // A practitioner writes for the custodial patient; the patient reads through the node.
    let author = practitioner(&client, "hospital").await;
    let observation = ResourceType::new("Observation").expect("valid");
    let content = format!(r#"{{"resourceType":"Observation","code":{{"text":"{MARKER}"}}}}"#);
    let (written, _) = records::put(
        &client,
        &author,
        None,
        &NewRecord {
            patient: user.party_id(),
            resource_type: observation.clone(),
            category: None,
            media_type: "application/fhir+json".into(),
            content: content.clone().into_bytes(),
            custodians: vec![hospital_id],
        },
        None,
    )
    .await
    .expect("written");
    let read = records::read(
        &client,
        &user,
        &written,
        0,
        AccessBasis::Patient,
        Purpose::PatientRequest,
        hospital_id,
    )
    .await
    .expect("the custodial patient reads");
    assert_eq!(read.content, content.as_bytes());

    // The patient writes their own record and grants a clinic practitioner, who reads it.
    let note = b"self-reported: synthetic headache diary".to_vec();
    let (own, _) = records::put(
        &client,
        &user,
        None,
        &NewRecord {
            patient: user.party_id(),
            resource_type: ResourceType::new("DocumentReference").expect("valid"),
            category: None,
            media_type: "text/plain".into(),
            content: note.clone(),
            custodians: vec![hospital_id],
        },
        None,
    )
    .await
    .expect("the custodial patient writes");
    let grantee = practitioner(&client, "clinic").await;
    let chain_now = client.status().await.expect("status").latest.time_ms;
    let grant = records::grant(
        &client,
        &user,
        &NewGrant {
            grantee: grantee.party_id,
            scope: Scope::All,
            read: true,
            write: false,
            purpose: Purpose::Treatment,
            valid_from_ms: chain_now,
            valid_until_ms: chain_now + 3_600_000,
            condition: None,
        },
        hospital_id,
    )
    .await
    .expect("the custodial patient grants");
    for (record, expected) in [(own, note.clone()), (written, content.clone().into_bytes())] {
        let read = records::read(
            &client,
            &grantee,
            &record,
            0,
            AccessBasis::Grant(grant),
            Purpose::Treatment,
            hospital_id,
        )
        .await
        .expect("the grantee reads");
        assert_eq!(read.content, expected);
    }
    let log = records::access_log(&client, &user.party_id(), 0)
        .await
        .expect("the access log");
    assert!(
        log.iter()
            .any(|entry| entry.reader == user.party_id() && entry.basis == AccessBasis::Patient),
        "the patient's own reads are logged like anyone's"
    );
    assert!(log.iter().any(|entry| entry.reader == grantee.party_id));

    // The signing endpoints act only under a custodial session, and only for its user.
    let unwrap_body = serde_json::to_vec(&serde_json::json!({
        "record": written, "version": 1, "wrapped": "00"
    }))
    .expect("json");
    let err = client
        .signed::<medchain_types::api::CustodialBytes>(
            &author,
            reqwest::Method::POST,
            "/v1/custodial/unwrap",
            "application/json",
            unwrap_body.clone(),
        )
        .await
        .expect_err("a self-custody signature");
    assert_eq!(problem_of(&err), (403, "not_custodial".into()));
    let plain = client
        .open_session(&author, None)
        .await
        .expect("a self-custody session");
    let err = client
        .signed_as::<medchain_types::api::CustodialBytes>(
            medchain_client::http::RequestSigner::Session(&plain),
            reqwest::Method::POST,
            "/v1/custodial/unwrap",
            "application/json",
            unwrap_body,
        )
        .await
        .expect_err("a self-custody session");
    assert_eq!(problem_of(&err), (403, "not_custodial".into()));
    let binding = medchain_envelope::Binding {
        record: Hash32(written.0),
        version: 1,
    };
    let not_theirs = medchain_envelope::wrap(
        &grantee.encryption_key(),
        &grantee.party_id,
        &medchain_envelope::DataKey::generate().expect("key"),
        &binding,
    )
    .expect("wraps");
    let err = user
        .unwrap_key(&not_theirs, &binding)
        .await
        .expect_err("not wrapped for the user");
    assert_eq!(records_problem(&err), (422, "cannot_unwrap".into()));
    let chain = client.status().await.expect("status").chain_id;
    let nonce = client.next_nonce(&user.party_id()).await.expect("nonce");
    let fresh = PartyKeys::generate().expect("keys");
    let err = user
        .sign_tx(
            &chain,
            nonce,
            TxBody::RotateKeys {
                signing_key: fresh.public_key(),
                encryption_key: fresh.encryption_key(),
            },
        )
        .await
        .expect_err("no rotation by signature");
    assert_eq!(problem_of(&err), (409, "custodial_rotation".into()));

    // The organisation lists its accounts, without secrets.
    let accounts = custodial::accounts(&client, &hospital)
        .await
        .expect("lists");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username, "pat.one");
    assert_eq!(accounts[0].state, "active");
    let err = custodial::accounts(&client, &author)
        .await
        .expect_err("not the organisation");
    assert_eq!(problem_of(&err), (403, "not_the_organisation".into()));

    // Recovery resets both factors and ends the open session; the keys stay the same.
    let recovered = custodial::recover(&client, "pat.one", &enrolled.recovery_code, NEW_PASSWORD)
        .await
        .expect("recovers");
    let err = user
        .sign_tx(
            &chain,
            nonce,
            TxBody::Attest {
                subject: Hash32::ZERO,
                digest: Hash32::ZERO,
            },
        )
        .await
        .expect_err("the session ended");
    assert_eq!(problem_of(&err), (401, "unknown_session".into()));
    let secret = totp::base32_decode(&recovered.totp_secret).expect("base32");
    let now = now_secs();
    let err = custodial::sign_in(
        &client,
        "pat.one",
        PASSWORD,
        &totp::code(&secret, now),
        None,
    )
    .await
    .expect_err("the old password");
    assert_eq!(problem_of(&err), (401, "wrong_credentials".into()));
    let again = custodial::sign_in(
        &client,
        "pat.one",
        NEW_PASSWORD,
        &totp::code(&secret, now),
        None,
    )
    .await
    .expect("signs in after recovery");
    let reread = records::read(
        &client,
        &again,
        &own,
        0,
        AccessBasis::Patient,
        Purpose::PatientRequest,
        hospital_id,
    )
    .await
    .expect("the same keys read");
    assert_eq!(reread.content, note);

    // A password change ends sessions too.
    custodial::change_password(
        &client,
        "pat.one",
        NEW_PASSWORD,
        &totp::code(&secret, now + totp::STEP_SECS),
        THIRD_PASSWORD,
    )
    .await
    .expect("changes the password");
    let err = records::read(
        &client,
        &again,
        &own,
        0,
        AccessBasis::Patient,
        Purpose::PatientRequest,
        hospital_id,
    )
    .await
    .expect_err("the session ended");
    assert_eq!(records_problem(&err), (401, "unknown_session".into()));

    // Guessing locks the account, even against the right password afterwards.
    for _ in 0..5 {
        let err = custodial::sign_in(&client, "pat.one", "Guessed-Passphrase-1", "000000", None)
            .await
            .expect_err("a guess");
        assert_eq!(problem_of(&err), (401, "wrong_credentials".into()));
    }
    let err = custodial::sign_in(&client, "pat.one", THIRD_PASSWORD, "000000", None)
        .await
        .expect_err("locked");
    assert_eq!(problem_of(&err), (429, "account_locked".into()));

    // The CLI: open an account, activate it, sign in, and read as the user.
    cli_flow(&dir, &client).await;

    // Nothing secret in clear: not in the account files, not in the node's log.
    let account = std::fs::read_to_string(dir.join("custodial-accounts").join("pat.one.json"))
        .expect("the account file");
    assert!(account.contains("CUSTODIAL ACCOUNT"));
    let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
    for text in [&account, &log] {
        for secret in [
            PASSWORD,
            NEW_PASSWORD,
            THIRD_PASSWORD,
            recovered.totp_secret.as_str(),
            recovered.recovery_code.as_str(),
            invited.activation_code.as_str(),
            MARKER,
        ] {
            assert!(!text.contains(secret), "{secret} appears in clear");
        }
    }
}

/// Runs `medchain parts...` with `env`, off the async runtime: stdout, or stderr on failure.
pub(crate) async fn medchain(
    parts: &[&str],
    env: &[(&'static str, &str)],
) -> Result<String, String> {
    let args: Vec<String> = parts.iter().map(|part| part.to_string()).collect();
    let env: Vec<(&'static str, String)> = env.iter().map(|(k, v)| (*k, v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(processes::BIN)
            .args(&args)
            .envs(env)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("medchain runs");
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    })
    .await
    .expect("joins")
}

/// [`medchain`], expected to succeed (`what` it does) and print JSON.
pub(crate) async fn medchain_json(
    parts: &[&str],
    env: &[(&'static str, &str)],
    what: &str,
) -> serde_json::Value {
    let out = medchain(parts, env)
        .await
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    serde_json::from_str(&out).unwrap_or_else(|err| panic!("{what}: not JSON: {err}"))
}

/// The same life through `medchain custodial ...`, and `--as custodial:<session file>` on the
/// records commands.
async fn cli_flow(dir: &std::path::Path, client: &Client) {
    let url = client.base().to_string();
    let password = [("MEDCHAIN_PASSWORD", "Synthetic-Cli-Passphrase")];
    let invited = medchain_json(
        &[
            "custodial",
            "invite",
            "--as",
            "dev:hospital",
            "--username",
            "pat.cli",
            "--kind",
            "patient",
            "--node",
            &url,
        ],
        &[],
        "invites",
    )
    .await;
    let party = invited["party_id"].as_str().expect("party").to_string();
    let code = invited["activation_code"]
        .as_str()
        .expect("code")
        .to_string();
    let enrolled = medchain_json(
        &[
            "custodial",
            "activate",
            "--username",
            "pat.cli",
            "--activation-code",
            &code,
            "--node",
            &url,
        ],
        &password,
        "activates",
    )
    .await;
    let secret = enrolled["totp_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let totp = medchain(&["custodial", "totp", "--secret", &secret], &[])
        .await
        .expect("a code");
    let session = dir.join("pat.cli.session.json");
    let session_arg = format!("custodial:{}", session.display());
    medchain(
        &[
            "custodial",
            "sign-in",
            "--username",
            "pat.cli",
            "--totp",
            totp.trim(),
            "--session-file",
            &session.display().to_string(),
            "--node",
            &url,
        ],
        &password,
    )
    .await
    .expect("signs in");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&session)
            .expect("saved")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the session file is private");
    }
    let content = dir.join("diary.txt");
    std::fs::write(&content, "synthetic CLI diary entry").expect("writes");
    let written = medchain_json(
        &[
            "records",
            "put",
            "--as",
            &session_arg,
            "--patient",
            &party,
            "--type",
            "DocumentReference",
            "--media-type",
            "text/plain",
            "--file",
            &content.display().to_string(),
            "--node",
            &url,
        ],
        &[],
        "the custodial user writes",
    )
    .await;
    let record = written["record"].as_str().expect("record").to_string();
    // The README's example Observation, as shipped.
    let observation = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/observation.json"
    );
    let example = medchain_json(
        &[
            "records",
            "put",
            "--as",
            &session_arg,
            "--patient",
            &party,
            "--type",
            "Observation",
            "--category",
            "laboratory",
            "--file",
            observation,
            "--node",
            &url,
        ],
        &[],
        "the example Observation is written",
    )
    .await;
    assert!(example["record"].is_string(), "{example}");
    let out = dir.join("diary.read.txt");
    medchain(
        &[
            "records",
            "get",
            &record,
            "--as",
            &session_arg,
            "--out",
            &out.display().to_string(),
            "--node",
            &url,
        ],
        &[],
    )
    .await
    .expect("the custodial user reads");
    assert_eq!(
        std::fs::read_to_string(&out).expect("read back"),
        "synthetic CLI diary entry"
    );
    // Regression (issue 17): with no --basis, a reader reads on the basis it holds, and an
    // outsider is told that no basis covers the read and what was looked at (not
    // `not_patient`).
    let clinic_read = |purpose: &'static str| {
        let record = record.clone();
        let url = url.clone();
        async move {
            medchain(
                &[
                    "records",
                    "get",
                    &record,
                    "--as",
                    "dev:clinic",
                    "--purpose",
                    purpose,
                    "--node",
                    &url,
                ],
                &[],
            )
            .await
        }
    };
    let err = clinic_read("treatment").await.expect_err("no grant yet");
    assert!(
        err.contains("no basis you hold covers reading record")
            && err.contains("no grant of this patient's is made to you or your organisation"),
        "{err}"
    );
    let clinic = medchain_types::dev::party_id("clinic").to_string();
    medchain(
        &[
            "consent",
            "grant",
            "--grantee",
            &clinic,
            "--scope",
            "all",
            "--purpose",
            "treatment",
            "--as",
            &session_arg,
            "--node",
            &url,
        ],
        &[],
    )
    .await
    .expect("the patient grants the clinic");
    let err = clinic_read("research").await.expect_err("another purpose");
    assert!(
        err.contains("(it is for another purpose)"),
        "the error names the grant and why it does not cover the read: {err}"
    );
    let content = clinic_read("treatment").await.expect("the grant covers it");
    assert_eq!(content, "synthetic CLI diary entry");
    let listed = medchain(
        &["custodial", "list", "--as", "dev:hospital", "--node", &url],
        &[],
    )
    .await
    .expect("lists");
    assert!(listed.contains("pat.cli"));
    medchain(
        &[
            "custodial",
            "sign-out",
            "--session-file",
            &session.display().to_string(),
        ],
        &[],
    )
    .await
    .expect("signs out");
    let err = medchain(
        &[
            "records",
            "get",
            &record,
            "--as",
            &session_arg,
            "--node",
            &url,
        ],
        &[],
    )
    .await
    .expect_err("signed out");
    assert!(err.contains("cannot read the session file"), "{err}");
}
