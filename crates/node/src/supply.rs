//! Supply-chain queries, public like the ledger they read: verifying a scanned pack,
//! suspect-product alerts, where the units of a lot are (for a recall), and a unit's lineage.
//!
//! Each is the pure query of `medchain_state::supply::query`, run over finalized state
//! through a [`Recorder`], which keeps every entry read (with a proof, when asked) for the
//! answer's `entries`; a client re-runs the same query over those entries once verified.

use crate::{
    query::{Recorder, consistently},
    service::NodeService,
};
use commonware_runtime::{Clock, Spawner};
use commonware_storage::Context as StorageContext;
use medchain_formats::gs1::Scan;
use medchain_state::{QueryError, supply::query};
use medchain_types::{
    PartyId,
    api::{
        LineageResponse, LotHoldingsResponse, Problem, SupplyAlertsResponse, VerifyPackResponse,
    },
    time::Date,
};

pub use medchain_state::supply::query::{
    ALERTS_PAGE_MAX, HOLDINGS_PAGE_MAX, HOLDINGS_PROVEN_PAGE_MAX, LINEAGE_MAX,
};

/// A query's refusal as the node answers it.
pub(crate) fn problem<E: Spawner + StorageContext + Clock>(
    reads: &Recorder<'_, E>,
    err: QueryError,
) -> Problem {
    match err {
        QueryError::Refused {
            status,
            code,
            detail,
        } => Problem::new(status, code, detail),
        QueryError::State(err) => reads.problem(err),
    }
}

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// `GET /v1/supply/verify`: the verdict on a scanned pack (GS1 element string,
    /// human-readable form or Digital Link), with where it is, its chain of custody and the
    /// state entries it rests on (proven at one height, when asked).
    pub async fn verify_pack(
        &self,
        scan: &str,
        proof: bool,
    ) -> Result<VerifyPackResponse, Problem> {
        consistently(|| async move {
            let tip = self.tip();
            let parsed = Scan::parse(scan, Date::of_ms(tip.header.time_ms))
                .map_err(|err| Problem::new(422, "invalid_scan", err.to_string()))?;
            let reads = Recorder::at(self, proof, tip.height);
            let mut answer =
                query::verify_pack(&reads, parsed.summary(), tip.height, tip.header.time_ms)
                    .await
                    .map_err(|err| problem(&reads, err))?;
            answer.entries = reads.entries();
            Ok(answer)
        })
        .await
    }

    /// `GET /v1/supply/alerts`: a page of suspect-product alerts, of one manufacturer's
    /// products or of all (`None`).
    pub async fn supply_alerts(
        &self,
        manufacturer: Option<PartyId>,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<SupplyAlertsResponse, Problem> {
        consistently(|| async move {
            let reads = Recorder::at(self, proof, self.tip().height);
            let mut answer = query::alerts(&reads, manufacturer, from, limit)
                .await
                .map_err(|err| problem(&reads, err))?;
            answer.entries = reads.entries();
            Ok(answer)
        })
        .await
    }

    /// `GET /v1/supply/holdings`: where the units of a lot are, as `asked` (a page from a
    /// position in commissioning order, filtered by holder and by being in the supply chain).
    /// State entries come with the answer only when proofs are asked for.
    pub async fn lot_holdings(
        &self,
        asked: query::HoldingsQuery,
    ) -> Result<LotHoldingsResponse, Problem> {
        let proof = asked.proof;
        consistently(|| async {
            let height = self.tip().height;
            let reads = Recorder::at(self, proof, height);
            let mut answer = query::holdings(&reads, &asked, height)
                .await
                .map_err(|err| problem(&reads, err))?;
            if proof {
                answer.entries = reads.entries();
            }
            Ok(answer)
        })
        .await
    }

    /// `GET /v1/supply/lineage`: the ancestry of a scanned unit through the
    /// transformations that made it, generation by generation.
    pub async fn lineage(&self, scan: &str, proof: bool) -> Result<LineageResponse, Problem> {
        consistently(|| async move {
            let tip = self.tip();
            let parsed = Scan::parse(scan, Date::of_ms(tip.header.time_ms))
                .map_err(|err| Problem::new(422, "invalid_scan", err.to_string()))?;
            let (Some(gtin), Some(serial)) = (parsed.gtin(), parsed.serial()) else {
                return Err(Problem::new(
                    422,
                    "not_serialized",
                    "lineage is traced from a serialized unit: its GTIN (AI 01) and serial number (AI 21)",
                ));
            };
            let reads = Recorder::at(self, proof, tip.height);
            let mut answer = query::lineage(&reads, gtin, serial, tip.height)
                .await
                .map_err(|err| problem(&reads, err))?;
            answer.entries = reads.entries();
            Ok(answer)
        })
        .await
    }
}
