//! The accounting of disclosures: a patient's access log for a period, as a report (JSON, and a
//! readable HTML page). Built from public state only (the access log, parties' public labels,
//! records' resource types), so the node (`GET /v1/patients/{id}/disclosures`) and the SDK
//! build the same report.

use crate::{
    Party, PartyId,
    records::{AccessBasis, AccessEntry, AccessOutcome, Purpose, RecordId},
    time::rfc3339,
};
use std::collections::{BTreeSet, HashMap};

/// One line of an accounting of disclosures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Disclosure {
    /// Position in the patient's access log (its proof is `list/access/<patient>/<seq>`).
    pub seq: u64,
    /// When, RFC 3339 (UTC).
    pub time: String,
    pub time_ms: u64,
    /// Who received it: party id, and the public label of the reader or its organisation.
    pub recipient: PartyId,
    pub recipient_label: String,
    pub record: RecordId,
    pub version: u32,
    /// What kind of record (never its content).
    pub resource_type: String,
    pub purpose: Purpose,
    /// The HL7 v3 PurposeOfUse code.
    pub purpose_code: String,
    /// Under what: `grant <id>`, `break-glass <id>`, `authorship`.
    pub basis: String,
    /// Emergency access, for the patient's review.
    pub break_glass: bool,
    /// The custodian that released it.
    pub custodian: PartyId,
    pub tx: crate::TxHash,
}

/// A denied attempt, listed beside the disclosures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeniedAttempt {
    pub seq: u64,
    pub time: String,
    pub reader: PartyId,
    pub reader_label: String,
    pub record: RecordId,
    pub purpose: Purpose,
    pub code: String,
    pub reason: String,
}

/// An accounting of disclosures for a period: every granted read by someone other than the
/// patient, and every denied attempt, taken from the patient's access log on chain. Built by
/// [`build`] from the log's entries, the public labels of the parties in it and the resource
/// types of the records.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DisclosureReport {
    pub patient: PartyId,
    pub chain_id: String,
    pub from: String,
    pub to: String,
    /// Finalized height the log was read at.
    pub as_of_height: u64,
    pub disclosures: Vec<Disclosure>,
    pub denied: Vec<DeniedAttempt>,
    /// How many reads by the patient themselves the period holds (not disclosures).
    pub own_reads: u64,
    /// How many times the patient opened a record to share its key under one of their grants
    /// (`consent grant`): not reads, and not disclosures until the grantee reads.
    #[serde(default)]
    pub keys_shared: u64,
}

/// The period and provenance of a report.
#[derive(Clone, Debug)]
pub struct Period {
    pub patient: PartyId,
    pub chain_id: String,
    /// `[from_ms, to_ms)`, milliseconds since the Unix epoch.
    pub from_ms: u64,
    pub to_ms: u64,
    /// The finalized height the log was read at.
    pub as_of_height: u64,
}

/// The parties whose labels, and the records whose resource types, a report over `entries`
/// names (entries outside the period are skipped by [`build`] and need nothing).
pub fn lookups(
    period: &Period,
    entries: &[AccessEntry],
) -> (BTreeSet<PartyId>, BTreeSet<RecordId>) {
    let mut parties = BTreeSet::new();
    let mut records = BTreeSet::new();
    for entry in entries.iter().filter(|e| in_period(period, e)) {
        match entry.outcome {
            AccessOutcome::Granted if entry.reader == period.patient => {}
            AccessOutcome::Granted => {
                parties.insert(entry.reader);
                records.insert(entry.record);
            }
            AccessOutcome::Denied { .. } => {
                parties.insert(entry.reader);
            }
        }
    }
    (parties, records)
}

fn in_period(period: &Period, entry: &AccessEntry) -> bool {
    entry.time_ms >= period.from_ms && entry.time_ms < period.to_ms
}

/// A party's public label for a report: its own label, or (for patients and devices, which
/// have none) its kind and its organisation's label.
pub fn label(party: Option<&Party>, organisation: Option<&Party>) -> String {
    match (party, organisation) {
        (None, _) => "unknown party".into(),
        (Some(party), _) if !party.label.is_empty() => party.label.clone(),
        (Some(party), Some(organisation)) => {
            format!("{:?} of {}", party.kind, organisation.label).to_lowercase()
        }
        (Some(party), None) => format!("{:?}", party.kind).to_lowercase(),
    }
}

/// The report of `entries` within the period, with `labels` of the parties and `types` of the
/// records [`lookups`] named (a missing one reads "unknown").
pub fn build(
    period: &Period,
    entries: &[AccessEntry],
    labels: &HashMap<PartyId, String>,
    types: &HashMap<RecordId, String>,
) -> DisclosureReport {
    let label_of = |id: &PartyId| {
        labels
            .get(id)
            .cloned()
            .unwrap_or_else(|| "unknown party".into())
    };
    let mut report = DisclosureReport {
        patient: period.patient,
        chain_id: period.chain_id.clone(),
        from: rfc3339(period.from_ms),
        to: rfc3339(period.to_ms),
        as_of_height: period.as_of_height,
        disclosures: Vec::new(),
        denied: Vec::new(),
        own_reads: 0,
        keys_shared: 0,
    };
    for entry in entries.iter().filter(|e| in_period(period, e)) {
        match &entry.outcome {
            AccessOutcome::Denied { code, reason } => report.denied.push(DeniedAttempt {
                seq: entry.seq,
                time: rfc3339(entry.time_ms),
                reader: entry.reader,
                reader_label: label_of(&entry.reader),
                record: entry.record,
                purpose: entry.purpose,
                code: code.clone(),
                reason: reason.clone(),
            }),
            AccessOutcome::Granted if entry.reader == period.patient => match entry.basis {
                AccessBasis::Sharing(_) => report.keys_shared += 1,
                _ => report.own_reads += 1,
            },
            AccessOutcome::Granted => {
                let (basis, break_glass) = match entry.basis {
                    AccessBasis::Grant(id) => (format!("grant {id}"), false),
                    AccessBasis::BreakGlass(id) => (format!("break-glass {id}"), true),
                    AccessBasis::Author => ("authorship".into(), false),
                    AccessBasis::Patient => ("patient".into(), false),
                    AccessBasis::Sharing(id) => (format!("key sharing under grant {id}"), false),
                };
                report.disclosures.push(Disclosure {
                    seq: entry.seq,
                    time: rfc3339(entry.time_ms),
                    time_ms: entry.time_ms,
                    recipient: entry.reader,
                    recipient_label: label_of(&entry.reader),
                    record: entry.record,
                    version: entry.version,
                    resource_type: types
                        .get(&entry.record)
                        .cloned()
                        .unwrap_or_else(|| "unknown".into()),
                    purpose: entry.purpose,
                    purpose_code: entry.purpose.hl7_code().into(),
                    basis,
                    break_glass,
                    custodian: entry.custodian,
                    tx: entry.tx,
                });
            }
        }
    }
    report
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

impl DisclosureReport {
    /// A readable, self-contained HTML page.
    pub fn to_html(&self) -> String {
        let mut rows = String::new();
        for d in &self.disclosures {
            rows.push_str(&format!(
                "<tr{}><td>{}</td><td>{}<br><code>{}</code></td><td>{} v{}<br><code>{}</code></td><td>{} ({})</td><td>{}{}</td><td><code>#{}</code></td></tr>\n",
                if d.break_glass { " class=\"glass\"" } else { "" },
                escape(&d.time),
                escape(&d.recipient_label),
                d.recipient,
                escape(&d.resource_type),
                d.version,
                d.record,
                escape(d.purpose.name()),
                escape(&d.purpose_code),
                escape(&d.basis),
                if d.break_glass { " <strong>(emergency access: please review)</strong>" } else { "" },
                d.seq,
            ));
        }
        if self.disclosures.is_empty() {
            rows.push_str("<tr><td colspan=\"6\">No disclosures in this period.</td></tr>\n");
        }
        let mut denied = String::new();
        for d in &self.denied {
            denied.push_str(&format!(
                "<tr><td>{}</td><td>{}<br><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}: {}</td><td><code>#{}</code></td></tr>\n",
                escape(&d.time),
                escape(&d.reader_label),
                d.reader,
                d.record,
                escape(d.purpose.name()),
                escape(&d.code),
                escape(&d.reason),
                d.seq,
            ));
        }
        if self.denied.is_empty() {
            denied.push_str("<tr><td colspan=\"6\">No denied attempts in this period.</td></tr>\n");
        }
        format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Accounting of disclosures</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2rem; }}
th, td {{ border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #f2f2f2; }}
tr.glass td {{ background: #fff4e5; }}
code {{ font-size: .75rem; color: #555; word-break: break-all; }}
</style></head><body>
<h1>Accounting of disclosures</h1>
<p>Patient <code>{patient}</code> on chain <code>{chain}</code>, from {from} to {to}, as of block {height}.
Every line is an entry of the patient's access log on chain; its number (<code>#n</code>) is the
state key <code>list/access/{patient}/n</code>, which any node serves with a proof.</p>
<h2>Disclosures ({count})</h2>
<table><tr><th>When (UTC)</th><th>To</th><th>Record</th><th>Purpose</th><th>Basis</th><th>Entry</th></tr>
{rows}</table>
<h2>Denied attempts ({denied_count})</h2>
<table><tr><th>When (UTC)</th><th>Who</th><th>Record</th><th>Purpose</th><th>Why denied</th><th>Entry</th></tr>
{denied}</table>
<p>Your own reads in this period: {own}. Records you opened to share their keys under your grants: {shared}.</p>
</body></html>
"#,
            patient = self.patient,
            chain = escape(&self.chain_id),
            from = escape(&self.from),
            to = escape(&self.to),
            height = self.as_of_height,
            count = self.disclosures.len(),
            denied_count = self.denied.len(),
            own = self.own_reads,
            shared = self.keys_shared,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hash32, TxHash, records::GrantId};

    fn entry(seq: u64, reader: u8, time_ms: u64, basis: AccessBasis, denied: bool) -> AccessEntry {
        AccessEntry {
            seq,
            record: RecordId([9; 32]),
            version: if denied { 0 } else { 1 },
            reader: PartyId([reader; 32]),
            basis,
            purpose: Purpose::Treatment,
            custodian: PartyId([7; 32]),
            time_ms,
            height: seq + 1,
            tx: TxHash(Hash32([seq as u8; 32]).0),
            outcome: if denied {
                AccessOutcome::Denied {
                    code: "no_grant".into(),
                    reason: "no grant <covers> it".into(),
                }
            } else {
                AccessOutcome::Granted
            },
        }
    }

    #[test]
    fn reports_disclosures_denials_and_own_reads_within_the_period() {
        let patient = PartyId([1; 32]);
        let period = Period {
            patient,
            chain_id: "medchain-dev".into(),
            from_ms: 1_000,
            to_ms: 5_000,
            as_of_height: 10,
        };
        let entries = vec![
            entry(0, 2, 500, AccessBasis::Grant(GrantId([3; 32])), false), // before the period
            entry(1, 1, 1_000, AccessBasis::Patient, false),               // the patient's own
            entry(1, 1, 1_500, AccessBasis::Sharing(GrantId([3; 32])), false), // consent grant
            entry(2, 2, 2_000, AccessBasis::Grant(GrantId([3; 32])), false),
            entry(
                3,
                4,
                3_000,
                AccessBasis::BreakGlass(crate::records::BreakGlassId([5; 32])),
                false,
            ),
            entry(4, 6, 4_000, AccessBasis::Grant(GrantId([3; 32])), true),
            entry(5, 2, 5_000, AccessBasis::Grant(GrantId([3; 32])), false), // at the end: excluded
        ];
        let (parties, records) = lookups(&period, &entries);
        assert_eq!(
            parties.into_iter().collect::<Vec<_>>(),
            vec![PartyId([2; 32]), PartyId([4; 32]), PartyId([6; 32])]
        );
        assert_eq!(
            records.into_iter().collect::<Vec<_>>(),
            vec![RecordId([9; 32])]
        );
        let labels = HashMap::from([
            (PartyId([2; 32]), "Dr <Grant>".to_string()),
            (PartyId([4; 32]), "Dr Glass".to_string()),
        ]);
        let types = HashMap::from([(RecordId([9; 32]), "Observation".to_string())]);
        let report = build(&period, &entries, &labels, &types);
        assert_eq!((report.own_reads, report.keys_shared), (1, 1));
        assert_eq!(
            report.disclosures.iter().map(|d| d.seq).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(!report.disclosures[0].break_glass);
        assert!(report.disclosures[1].break_glass);
        assert_eq!(report.disclosures[0].resource_type, "Observation");
        assert_eq!(report.disclosures[0].purpose_code, "TREAT");
        assert_eq!(report.denied.len(), 1);
        assert_eq!(report.denied[0].reader_label, "unknown party");
        assert_eq!(report.from, "1970-01-01T00:00:01Z");
        let html = report.to_html();
        assert!(html.contains("Dr &lt;Grant&gt;"), "labels are escaped");
        assert!(
            html.contains("no grant &lt;covers&gt; it"),
            "reasons are escaped"
        );
        assert!(html.contains("emergency access"));
        assert!(!html.contains("<Grant>"));
    }
}
