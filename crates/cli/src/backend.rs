//! Connects the HTTP API to a running node.

use commonware_runtime::{Metrics as _, tokio as cw};
use medchain_node::accounts::AccountStore;
use medchain_node::service::NodeService;
use medchain_types::{
    SignedTransaction, TxHash,
    api::{BlockResponse, Problem, StateResponse, StatusResponse, TxStatusResponse},
};
use std::sync::Arc;

/// The node's services, as the API's backend.
#[derive(Clone)]
pub struct NodeBackend {
    service: NodeService<cw::Context>,
    metrics: Arc<cw::Context>,
    accounts: Option<Arc<AccountStore>>,
}

impl NodeBackend {
    /// Wraps the services; `metrics` is a runtime context whose registry is exported.
    pub fn new(service: NodeService<cw::Context>, metrics: cw::Context) -> Self {
        Self {
            service,
            metrics: Arc::new(metrics),
            accounts: None,
        }
    }

    /// Keeps custodial accounts for the node's organisation.
    pub fn with_accounts(mut self, accounts: AccountStore) -> Self {
        self.accounts = Some(Arc::new(accounts));
        self
    }

    fn account_store(&self) -> Result<&AccountStore, Problem> {
        self.accounts.as_deref().ok_or_else(|| {
            Problem::new(
                404,
                "no_custodial_accounts",
                "this node keeps no custodial accounts",
            )
        })
    }
}

impl medchain_api::Backend for NodeBackend {
    fn status(&self) -> StatusResponse {
        self.service.status()
    }

    async fn submit(&self, tx: SignedTransaction) -> Result<TxHash, Problem> {
        self.service.submit(tx).await
    }

    async fn submit_many(&self, txs: Vec<SignedTransaction>) -> Vec<Result<TxHash, Problem>> {
        self.service.submit_many(txs).await
    }

    async fn tx_status(&self, hash: TxHash) -> Result<TxStatusResponse, Problem> {
        self.service.tx_status(hash).await
    }

    async fn block(&self, height: u64) -> Result<BlockResponse, Problem> {
        self.service.block(height).await
    }

    async fn state(&self, key: Vec<u8>, proof: bool) -> Result<StateResponse, Problem> {
        self.service.state(key, proof).await
    }

    async fn credential_check(
        &self,
        party: medchain_types::PartyId,
        credential_type: medchain_types::credential::CredentialType,
        jurisdiction: Option<medchain_types::credential::Jurisdiction>,
        at_ms: Option<u64>,
        proof: bool,
    ) -> Result<medchain_types::api::CredentialCheckResponse, Problem> {
        self.service
            .credential_check(party, credential_type, jurisdiction, at_ms, proof)
            .await
    }

    async fn verify_pack(
        &self,
        scan: String,
        proof: bool,
    ) -> Result<medchain_types::api::VerifyPackResponse, Problem> {
        self.service.verify_pack(&scan, proof).await
    }

    async fn supply_alerts(
        &self,
        manufacturer: Option<medchain_types::PartyId>,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<medchain_types::api::SupplyAlertsResponse, Problem> {
        self.service
            .supply_alerts(manufacturer, from, limit, proof)
            .await
    }

    async fn lot_holdings(
        &self,
        query: medchain_api::Holdings,
    ) -> Result<medchain_types::api::LotHoldingsResponse, Problem> {
        self.service.lot_holdings(query).await
    }

    async fn lineage(
        &self,
        scan: String,
        proof: bool,
    ) -> Result<medchain_types::api::LineageResponse, Problem> {
        self.service.lineage(&scan, proof).await
    }

    async fn epcis_query(
        &self,
        params: Vec<(String, String)>,
        proof: bool,
    ) -> Result<medchain_types::api::EpcisEventsAnswer, Problem> {
        self.service.epcis_query(&params, proof).await
    }

    async fn epcis_capture(
        &self,
        signer: medchain_types::PartyId,
        keypair: medchain_types::keys::Keypair,
        document: serde_json::Value,
    ) -> Result<(Vec<String>, Vec<medchain_types::TxHash>), Problem> {
        let accepted = self
            .service
            .epcis_capture(signer, &keypair, &document)
            .await?;
        Ok((accepted.event_ids, accepted.transactions))
    }

    fn metrics(&self) -> String {
        let mut text = self.metrics.encode();
        // Keep an OpenMetrics terminator last.
        let terminated = text.trim_end().ends_with("# EOF");
        if terminated {
            let cut = text.trim_end().len() - "# EOF".len();
            text.truncate(cut);
        }
        let status = self.service.status();
        text.push_str(&format!(
            "# HELP medchain_finalized_height Height of the latest finalized block.\n# TYPE medchain_finalized_height gauge\nmedchain_finalized_height {}\n",
            status.latest.height
        ));
        text.push_str(&format!(
            "# HELP medchain_mempool_transactions Transactions waiting in the mempool.\n# TYPE medchain_mempool_transactions gauge\nmedchain_mempool_transactions {}\n",
            status.mempool_size
        ));
        let (committed, blocks, rejected) = self.service.counters();
        for (name, help, value) in [
            (
                "medchain_transactions_committed",
                "Transactions in blocks finalized since start.",
                committed,
            ),
            (
                "medchain_blocks_finalized",
                "Blocks finalized since start.",
                blocks,
            ),
            (
                "medchain_transactions_rejected",
                "Transactions the mempool rejected since start.",
                rejected,
            ),
        ] {
            // OpenMetrics: the family is named without the suffix its counter sample carries.
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}_total {value}\n"
            ));
        }
        if terminated {
            text.push_str("# EOF\n");
        }
        text
    }

    fn ready(&self) -> bool {
        true
    }

    fn finalized(&self) -> tokio::sync::watch::Receiver<u64> {
        self.service.subscribe()
    }

    async fn party(
        &self,
        party: medchain_types::PartyId,
    ) -> Result<Option<medchain_types::identity::Party>, Problem> {
        self.service.party(&party).await
    }

    async fn upload_blob(
        &self,
        uploader: medchain_types::PartyId,
        bytes: Vec<u8>,
    ) -> Result<medchain_types::api::BlobUploadResponse, Problem> {
        self.service.upload_blob(uploader, bytes).await
    }

    async fn put_wrapped_key(
        &self,
        uploader: medchain_types::PartyId,
        record: medchain_types::records::RecordId,
        version: u32,
        recipient: medchain_types::PartyId,
        wrapped: Vec<u8>,
    ) -> Result<(), Problem> {
        self.service
            .put_wrapped_key(uploader, record, version, recipient, wrapped)
            .await
    }

    fn custodial_organisation(&self) -> Option<medchain_types::PartyId> {
        self.accounts.as_ref().map(|store| store.organisation())
    }

    async fn account_invite(
        &self,
        invite: medchain_types::api::AccountInvite,
    ) -> Result<medchain_types::api::AccountInvited, Problem> {
        self.account_store()?
            .invite(&invite.username, invite.kind, AccountStore::now())
            .await
            .map_err(|err| err.problem())
    }

    async fn account_activate(
        &self,
        activate: medchain_types::api::AccountActivate,
        source: Option<std::net::IpAddr>,
    ) -> Result<medchain_types::api::AccountEnrolled, Problem> {
        self.account_store()?
            .activate_from(
                source,
                &activate.username,
                &activate.activation_code,
                &activate.password,
                AccountStore::now(),
            )
            .await
            .map_err(|err| err.problem())
    }

    async fn account_sign_in(
        &self,
        username: String,
        password: String,
        totp: String,
        source: Option<std::net::IpAddr>,
    ) -> Result<medchain_envelope::PartySecrets, Problem> {
        self.account_store()?
            .sign_in_from(source, &username, &password, &totp, AccountStore::now())
            .await
            .map_err(|err| err.problem())
    }

    async fn account_change_password(
        &self,
        change: medchain_types::api::PasswordChange,
        source: Option<std::net::IpAddr>,
    ) -> Result<medchain_types::PartyId, Problem> {
        self.account_store()?
            .change_password_from(
                source,
                &change.username,
                &change.password,
                &change.totp,
                &change.new_password,
                AccountStore::now(),
            )
            .await
            .map_err(|err| err.problem())
    }

    async fn account_recover(
        &self,
        recover: medchain_types::api::AccountRecover,
        source: Option<std::net::IpAddr>,
    ) -> Result<medchain_types::api::AccountEnrolled, Problem> {
        self.account_store()?
            .recover_from(
                source,
                &recover.username,
                &recover.recovery_code,
                &recover.new_password,
                AccountStore::now(),
            )
            .await
            .map_err(|err| err.problem())
    }

    async fn accounts(&self) -> Result<Vec<medchain_types::api::AccountSummary>, Problem> {
        self.account_store()?.list().map_err(|err| err.problem())
    }

    async fn read_record(
        &self,
        reader: medchain_types::PartyId,
        record: medchain_types::records::RecordId,
        tx: SignedTransaction,
    ) -> Result<medchain_types::api::RecordReadResponse, Problem> {
        self.service.read_record(reader, record, tx).await
    }

    async fn patient_list(
        &self,
        kind: String,
        patient: medchain_types::PartyId,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<medchain_types::api::PatientListResponse, Problem> {
        self.service
            .patient_list(&kind, patient, from, limit, proof)
            .await
    }

    async fn disclosures(
        &self,
        patient: medchain_types::PartyId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<medchain_types::disclosures::DisclosureReport, Problem> {
        self.service.disclosures(patient, from_ms, to_ms).await
    }

    async fn record_history(
        &self,
        record: medchain_types::records::RecordId,
    ) -> Result<serde_json::Value, Problem> {
        self.service.record_history(record).await
    }
}
