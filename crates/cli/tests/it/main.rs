//! End-to-end tests: real `medchain` processes on loopback.

mod custodial;
mod lifecycle;
mod lying;
mod processes;
mod records;
mod supply;

use medchain_client::{Client, keys::PartyKeys, verify};
use medchain_types::{Genesis, PartyKind, Roles, TxBody, api::TxState};
use processes::{Network, Node};
use std::time::Duration;

async fn register_device(
    client: &Client,
    chain: &medchain_types::ChainId,
    nonce: u64,
) -> (PartyKeys, medchain_types::TxHash) {
    let hospital = PartyKeys::dev("hospital");
    let device = PartyKeys::generate().expect("random keys");
    let tx = hospital.sign(
        chain,
        nonce,
        TxBody::RegisterParty {
            kind: PartyKind::Device,
            signing_key: device.public_key(),
            encryption_key: device.encryption_key(),
            label: format!("e2e device {nonce}"),
            roles: Roles::default(),
        },
    );
    let answer = client.submit(&tx, true).await.expect("submission succeeds");
    assert_eq!(answer.status, TxState::Committed, "{answer:?}");
    (device, tx.hash())
}

async fn assert_proof_verifies(client: &Client, genesis: &Genesis, party: &PartyKeys) {
    // A node that is catching up answers from the state of the block it last applied, with a
    // proof for that height: wait until that state includes the party.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let key = medchain_state::keys::party(&party.party_id);
    let answer = loop {
        let answer = client
            .state(&format!("party/{}", party.party_id), true)
            .await
            .expect("state answer");
        let verified =
            verify::verify_state(genesis, &answer, &key).expect("the proof verifies offline");
        if verified.value.is_some() {
            break answer;
        }
        let tip = client.status().await.expect("status").latest.height;
        assert!(
            std::time::Instant::now() < deadline,
            "party {} is absent from the state proven at height {} (tip {tip})",
            party.party_id,
            verified.height
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut tampered = answer.clone();
    let value = tampered.value.as_mut().expect("value");
    let flipped = if value.ends_with('0') { '1' } else { '0' };
    value.pop();
    value.push(flipped);
    assert!(
        verify::verify_state(genesis, &tampered, &key).is_err(),
        "a tampered value must not verify"
    );
    let mut forged = answer.clone();
    let proof = forged.proof.as_mut().expect("proof");
    proof.finality.certified.header.state_root = medchain_types::Hash32([9; 32]);
    assert!(
        verify::verify_state(genesis, &forged, &key).is_err(),
        "a forged header must not verify"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_validator_dev_chain_commits_proves_and_survives_sigkill() {
    let dir = processes::temp_dir("dev");
    let mut node = Node::dev(&dir);
    let client = node.client().await;
    processes::wait_for_height(&client, 1, Duration::from_secs(60)).await;
    let status = client.status().await.expect("status");
    let genesis: Genesis =
        serde_json::from_str(&std::fs::read_to_string(dir.join("genesis.json")).expect("genesis"))
            .expect("json");

    let hospital = PartyKeys::dev("hospital");
    let nonce = client.next_nonce(&hospital.party_id).await.expect("nonce");
    let (device, hash) = register_device(&client, &status.chain_id, nonce).await;
    assert_proof_verifies(&client, &genesis, &device).await;

    // A replay is refused with a clear reason.
    let replay = hospital.sign(
        &status.chain_id,
        nonce,
        TxBody::Attest {
            subject: Default::default(),
            digest: Default::default(),
        },
    );
    let err = client
        .submit(&replay, false)
        .await
        .expect_err("replayed nonce");
    assert!(err.to_string().contains("nonce"), "{err}");

    processes::bad_input_gets_problems(&client, &status.chain_id).await;

    // A batch: each transaction gets its own outcome; the good ones commit.
    let next = client.next_nonce(&hospital.party_id).await.expect("nonce");
    let attest = |n: u64| TxBody::Attest {
        subject: medchain_types::Hash32([n as u8; 32]),
        digest: Default::default(),
    };
    let good_first = hospital.sign(&status.chain_id, next, attest(1));
    let good_second = hospital.sign(&status.chain_id, next + 1, attest(2));
    let mut bad = hospital.sign(&status.chain_id, next + 2, attest(3));
    bad.signature.0[0] ^= 1;
    let answer = client
        .submit_batch(&[good_first.clone(), good_second.clone(), bad])
        .await
        .expect("batch answer");
    assert_eq!((answer.accepted, answer.refused), (2, 1), "{answer:?}");
    assert_eq!(
        answer.results[2].problem.as_ref().map(|p| p.code.as_str()),
        Some("bad_signature")
    );
    for tx in [&good_first, &good_second] {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while client.tx_status(&tx.hash()).await.expect("status").status != TxState::Committed {
            assert!(
                std::time::Instant::now() < deadline,
                "batched transaction did not commit"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Metrics count what happened.
    let metrics = reqwest::get(format!("{}/metrics", client.base()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let committed: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("medchain_transactions_committed_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("the committed counter is exported");
    assert!(committed >= 3, "{committed} transactions counted");

    // Killed without warning, the node comes back with its data and keeps going.
    let height_before = client.status().await.expect("status").latest.height;
    node.kill();
    node.start();
    let client = node.client().await;
    let committed = client.tx_status(&hash).await.expect("status");
    assert_eq!(committed.status, TxState::Committed);
    processes::wait_for_height(&client, height_before + 3, Duration::from_secs(60)).await;
    let nonce = client.next_nonce(&hospital.party_id).await.expect("nonce");
    let (_, _) = register_device(&client, &status.chain_id, nonce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_keep_finalizing_without_one_and_it_catches_up() {
    let mut network = Network::testnet(4);
    let clients = network.clients().await;
    let genesis = network.genesis();
    let chain = genesis.chain_id.clone();
    for client in &clients {
        processes::wait_for_height(client, 2, Duration::from_secs(90)).await;
    }
    let hospital = PartyKeys::dev("hospital");
    let mut nonce = clients[0]
        .next_nonce(&hospital.party_id)
        .await
        .expect("nonce");
    let (first, _) = register_device(&clients[0], &chain, nonce).await;
    nonce += 1;

    // SIGKILL validator 4: three of four still finalize.
    network.nodes[3].kill();
    let (second, second_hash) = register_device(&clients[1], &chain, nonce).await;
    nonce += 1;
    let (third, _) = register_device(&clients[2], &chain, nonce).await;
    let height = clients[0].status().await.expect("status").latest.height;

    // Restarted, it catches up from its peers.
    network.nodes[3].start();
    let restarted = network.nodes[3].client().await;
    processes::wait_for_height(&restarted, height, Duration::from_secs(120)).await;
    let status = restarted.tx_status(&second_hash).await.expect("status");
    assert_eq!(
        status.status,
        TxState::Committed,
        "the restarted validator has the blocks it missed"
    );
    for client in [&clients[2], &restarted] {
        assert_proof_verifies(client, &genesis, &first).await;
        assert_proof_verifies(client, &genesis, &second).await;
        assert_proof_verifies(client, &genesis, &third).await;
    }

    // A validator whose data directory is lost rebuilds it from its peers.
    network.nodes[2].kill();
    std::fs::remove_dir_all(network.dir.join("v3").join("store")).expect("wipe v3");
    let (fourth, fourth_hash) = register_device(&clients[0], &chain, nonce + 1).await;
    let height = clients[0].status().await.expect("status").latest.height;
    network.nodes[2].start();
    let rebuilt = network.nodes[2].client().await;
    processes::wait_for_height(&rebuilt, height, Duration::from_secs(120)).await;
    let status = rebuilt.tx_status(&fourth_hash).await.expect("status");
    assert_eq!(
        status.status,
        TxState::Committed,
        "the rebuilt validator replayed the chain"
    );
    assert_proof_verifies(&rebuilt, &genesis, &fourth).await;
}

async fn submit_ok(
    client: &Client,
    keys: &PartyKeys,
    body: TxBody,
) -> medchain_types::api::TxStatusResponse {
    let chain = client.status().await.expect("status").chain_id;
    let nonce = client.next_nonce(&keys.party_id).await.expect("nonce");
    let answer = client
        .submit(&keys.sign(&chain, nonce, body), true)
        .await
        .expect("submits");
    assert_eq!(answer.status, TxState::Committed, "{answer:?}");
    answer
}

async fn govern(client: &Client, action: medchain_types::GovernanceAction) {
    let opened = submit_ok(
        client,
        &PartyKeys::dev("hospital"),
        TxBody::Propose {
            action,
            ttl_ms: 600_000,
        },
    )
    .await;
    let proposal = opened
        .events
        .iter()
        .find_map(|event| match event {
            medchain_types::Event::ProposalOpened { proposal, .. } => Some(*proposal),
            _ => None,
        })
        .expect("proposal id");
    submit_ok(
        client,
        &PartyKeys::dev("clinic"),
        TxBody::Approve { proposal },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_issued_checked_with_proofs_and_gate_registration() {
    use medchain_types::credential::{
        CredentialStatus, CredentialType, Jurisdiction, Standing, number_commitment,
    };
    let dir = processes::temp_dir("creds");
    let node = Node::dev(&dir);
    let client = node.client().await;
    processes::wait_for_height(&client, 1, Duration::from_secs(60)).await;
    let genesis: Genesis =
        serde_json::from_str(&std::fs::read_to_string(dir.join("genesis.json")).expect("genesis"))
            .expect("json");
    let board = PartyKeys::dev("licensing-board");
    let physician = CredentialType::new("physician_licence").expect("valid");
    govern(
        &client,
        medchain_types::GovernanceAction::AccreditIssuer {
            issuer: board.party_id,
            credential_types: vec![physician.clone()],
            jurisdictions: vec![Jurisdiction::new("US").expect("valid")],
        },
    )
    .await;
    govern(
        &client,
        medchain_types::GovernanceAction::SetCredentialRequirement {
            action: "register_practitioner".into(),
            requirement: Some(medchain_types::tx::CredentialRequirement {
                credential_type: physician.clone(),
                jurisdiction: Some(Jurisdiction::new("US").expect("valid")),
            }),
        },
    )
    .await;

    // Unlicensed: registration is denied, naming the reason, and the attempt is on the record.
    let doctor = PartyKeys::generate().expect("keys");
    let hospital = PartyKeys::dev("hospital");
    let register = |keys: &PartyKeys| TxBody::RegisterParty {
        kind: PartyKind::Practitioner,
        signing_key: keys.public_key(),
        encryption_key: keys.encryption_key(),
        label: "Dr E2E".into(),
        roles: Roles::new([medchain_types::Role::Provider]),
    };
    let chain = client.status().await.expect("status").chain_id;
    let nonce = client.next_nonce(&hospital.party_id).await.expect("nonce");
    let denied = client
        .submit(&hospital.sign(&chain, nonce, register(&doctor)), true)
        .await
        .expect("a denial is answered with the transaction's status");
    assert_eq!(denied.status, TxState::Denied, "{denied:?}");
    let rejection = denied.rejection.as_ref().expect("a reason");
    assert_eq!(rejection.code, "credential_required");
    assert!(
        rejection.reason.contains("physician_licence"),
        "{rejection:?}"
    );
    assert!(
        matches!(
            denied.events.as_slice(),
            [medchain_types::Event::ActionDenied { actor, party, .. }]
                if *actor == hospital.party_id && *party == doctor.party_id
        ),
        "{denied:?}"
    );
    assert_eq!(
        client.next_nonce(&hospital.party_id).await.expect("nonce"),
        nonce + 1,
        "a denial uses its nonce"
    );
    let absent = client
        .state(&format!("party/{}", doctor.party_id), true)
        .await
        .expect("state");
    assert!(
        absent.value.is_none(),
        "nothing of a denied registration is stored"
    );

    // Licensed: the check is valid, its proofs verify offline, and registration succeeds.
    let now = client.status().await.expect("status").latest.time_ms;
    let issued = submit_ok(
        &client,
        &board,
        TxBody::IssueCredential {
            subject: doctor.party_id,
            credential_type: physician.clone(),
            jurisdiction: Jurisdiction::new("US-CA").expect("valid"),
            number_commitment: number_commitment(&[7; 32], "A123456"),
            specialty: Some("cardiology".into()),
            valid_from_ms: now,
            valid_until_ms: now + 86_400_000,
        },
    )
    .await;
    let id = issued
        .events
        .iter()
        .find_map(|event| match event {
            medchain_types::Event::CredentialIssued { credential, .. } => Some(*credential),
            _ => None,
        })
        .expect("credential id");
    let check = client
        .credential_check(
            &doctor.party_id,
            "physician_licence",
            Some("US"),
            None,
            true,
        )
        .await
        .expect("check");
    assert!(check.valid);
    let valid_at = check.at_ms;
    let verifier = medchain_client::proven::Verifier::new(genesis.clone());
    let proven = medchain_client::credentials::check_proven(
        &client,
        &verifier,
        &doctor.party_id,
        &medchain_types::credential::CredentialType::new("physician_licence").expect("a type"),
        Some(&medchain_types::credential::Jurisdiction::new("US").expect("a jurisdiction")),
        Some(check.at_ms),
    )
    .await
    .expect("the check is proven");
    assert!(proven.answer.valid);
    assert_eq!(proven.answer.credentials, check.credentials);
    submit_ok(&client, &hospital, register(&doctor)).await;

    // Exported as a W3C VC, it verifies offline and against the chain.
    let on_chain = check.credentials[0].credential.clone();
    let vc = medchain_client::vc::export(&on_chain, &genesis.chain_id, &board, valid_at)
        .expect("exports");
    let verified = medchain_client::vc::verify(&vc).expect("the VC verifies offline");
    let vc_against_chain = |verified: medchain_client::vc::VerifiedVc| {
        let client = client.clone();
        let genesis = genesis.clone();
        async move {
            let credential = client
                .state(&format!("credential/{}", verified.credential), true)
                .await
                .expect("state");
            let key = client
                .state(&format!("key/{}", verified.issuer_key), true)
                .await
                .expect("state");
            let verifier = medchain_client::proven::Verifier::new(genesis);
            medchain_client::vc::verify_on_chain(&verifier, &verified, &credential, &key)
        }
    };
    vc_against_chain(verified.clone())
        .await
        .expect("the VC matches the chain and is valid");

    // The board rotates its key: the VC it made before stays good, but its old key can no
    // longer make one.
    let rotated = PartyKeys {
        party_id: board.party_id,
        ..PartyKeys::generate().expect("keys")
    };
    submit_ok(
        &client,
        &board,
        TxBody::RotateKeys {
            signing_key: rotated.public_key(),
            encryption_key: rotated.encryption_key(),
        },
    )
    .await;
    vc_against_chain(verified.clone())
        .await
        .expect("a VC made before the rotation stays valid");
    let after = client.status().await.expect("status").latest.time_ms;
    let late =
        medchain_client::vc::export(&on_chain, &genesis.chain_id, &board, after).expect("exports");
    let late = medchain_client::vc::verify(&late).expect("the signature itself is fine");
    let refused = vc_against_chain(late)
        .await
        .expect_err("a VC made with a rotated-out key is refused");
    assert!(refused.to_string().contains("rotated out"), "{refused}");
    let board = rotated;

    // Suspended: the check says so, at that time, and a second practitioner holding only a
    // suspended licence is refused.
    submit_ok(
        &client,
        &board,
        TxBody::SetCredentialStatus {
            credential: id,
            status: CredentialStatus::Suspended,
            reason: "review".into(),
        },
    )
    .await;
    let check = client
        .credential_check(&doctor.party_id, "physician_licence", None, None, false)
        .await
        .expect("check");
    assert!(!check.valid);
    assert_eq!(check.credentials[0].standing, Standing::Suspended);
    let refused = vc_against_chain(verified.clone())
        .await
        .expect_err("a suspended credential's VC is refused");
    assert!(refused.to_string().contains("suspended"), "{refused}");
    submit_ok(
        &client,
        &board,
        TxBody::SetCredentialStatus {
            credential: id,
            status: CredentialStatus::Revoked,
            reason: "struck off".into(),
        },
    )
    .await;
    let refused = vc_against_chain(verified.clone())
        .await
        .expect_err("a revoked credential's VC is refused");
    assert!(refused.to_string().contains("revoked"), "{refused}");
    // At the earlier time it was valid.
    let earlier = client
        .credential_check(
            &doctor.party_id,
            "physician_licence",
            None,
            Some(valid_at),
            false,
        )
        .await
        .expect("check");
    assert!(earlier.valid);
}

/// Regression (issue 16, low): a request whose headers never finish is disconnected once the
/// header-read timeout passes, instead of holding its connection open; a whole request on
/// another connection meanwhile is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_is_disconnected() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (_dir, _node, client) = processes::dev_chain("slowloris").await;
    let address = client.base().trim_start_matches("http://").to_string();
    let mut half = Vec::new();
    for _ in 0..50 {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connects");
        stream
            .write_all(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .expect("writes");
        half.push(stream);
    }
    client
        .status()
        .await
        .expect("a whole request is answered meanwhile");
    let started = std::time::Instant::now();
    for mut stream in half {
        let mut buffer = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buffer))
            .await
            .expect("the server closes a half-sent request within the timeout");
        // Closed (0 bytes), reset, or answered with an error status and then closed.
        if let Ok(n) = read
            && n > 0
        {
            let text = String::from_utf8_lossy(&buffer[..n]);
            assert!(
                text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 4"),
                "{text}"
            );
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// Regression (issue 16, low): a forged batch costs the node a bounded number of signature
/// checks: after the first failures, the rest is refused unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_batch_is_abandoned_after_its_first_bad_signatures() {
    let (_dir, _node, client) = processes::dev_chain("forged-batch").await;
    let chain = client.status().await.expect("status").chain_id;
    let hospital = PartyKeys::dev("hospital");
    let forger = PartyKeys::generate().expect("keys");
    let txs: Vec<_> = (0..2_000u64)
        .map(|nonce| {
            let mut tx = forger.sign(
                &chain,
                nonce,
                TxBody::Attest {
                    subject: medchain_types::Hash32::ZERO,
                    digest: medchain_types::Hash32::ZERO,
                },
            );
            // Claims the hospital's key: the signature does not verify.
            tx.transaction.signer = hospital.party_id;
            tx.transaction.public_key = hospital.public_key();
            tx
        })
        .collect();
    let answer = client.submit_batch(&txs).await.expect("answered");
    let codes: Vec<&str> = answer
        .results
        .iter()
        .map(|item| {
            item.problem
                .as_ref()
                .map_or("accepted", |p| p.code.as_str())
        })
        .collect();
    let checked = codes
        .iter()
        .filter(|code| **code == "bad_signature")
        .count();
    let abandoned = codes
        .iter()
        .filter(|code| **code == "batch_abandoned")
        .count();
    assert_eq!(checked + abandoned, txs.len(), "{codes:?}");
    assert!(
        (medchain_node::service::BATCH_BAD_SIGNATURES_MAX..200).contains(&checked),
        "{checked} signatures checked"
    );
}
