//! The gap alarm: a court's sequence gap open for longer than the CJN's operation setting
//! (`cjn.set_gap_alarm_after`) holds every later message of that court unapplied, so it is an
//! error for the operator, logged when it appears or changes and until it is filled. The same
//! alarm is in `cjn.court_health.gap_alarm` and in `cjn-ingest status` (`gap_alarms`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info, warn};

use crate::Shared;
use crate::store::Store;

/// One court's alarm: the missing sequence numbers and the messages held behind them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GapAlarm {
    missing: Vec<i64>,
    held: i64,
}

/// The task: runs until the daemon stops.
pub(crate) async fn run(shared: Arc<Shared>) {
    let every = Duration::from_secs(shared.config.ingest.gap_check_secs.max(1));
    let mut store: Option<Store> = None;
    let mut known: BTreeMap<String, GapAlarm> = BTreeMap::new();
    let mut last_reminder = tokio::time::Instant::now();
    loop {
        if store.as_ref().is_none_or(Store::is_closed) {
            store = Store::connect(&shared.config.database).await.ok();
        }
        if let Some(s) = &store {
            match s.gap_alarms().await {
                Ok(rows) => {
                    let now: BTreeMap<String, GapAlarm> = rows
                        .into_iter()
                        .map(|(court, missing, held)| (court, GapAlarm { missing, held }))
                        .collect();
                    let remind = last_reminder.elapsed() >= Duration::from_secs(3600);
                    for (court, a) in &now {
                        if remind || known.get(court) != Some(a) {
                            error!(court = %court, missing_seqs = ?a.missing, held_messages = a.held, "A sequence gap is open for longer than the alarm delay: the court's later messages are held unapplied until the missing ones arrive (cjn.court_health, xmjuris reconcile).");
                        }
                    }
                    for court in known.keys().filter(|c| !now.contains_key(*c)) {
                        info!(court = %court, "Sequence gap alarm cleared.");
                    }
                    if remind {
                        last_reminder = tokio::time::Instant::now();
                    }
                    known = now;
                }
                Err(e) => warn!(error = %e, "Cannot read the sequence gap alarms; will retry."),
            }
        }
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
