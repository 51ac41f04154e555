//! The revocation list: watched in the PKI directory (where `xmjuris pki revoke` writes it),
//! applied to the trust at once, recorded in the registry, and published retained on
//! [`protocol::topics::REVOCATIONS`] (the DER CRL, signed by the issuing CA: it needs no other
//! envelope) at start, when it changes, and every `crl_publish_interval_secs`. A CRL past half
//! its validity is signed again.

use std::sync::Arc;
use std::time::Duration;

use openssl::asn1::Asn1Time;
use rumqttc::v5::mqttbytes::QoS;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::store::Store;
use crate::{Error, Shared};

/// Reads the PKI directory's CRL, DER.
fn read_crl_der(shared: &Shared) -> Result<Vec<u8>, Error> {
    let crl = shared
        .pki
        .crl()
        .map_err(|e| Error::Pki(format!("reading the CRL: {e}")))?;
    // Signed again when less than half of its validity is left.
    let half = Asn1Time::days_from_now(protocol::pki::CRL_DAYS / 2)
        .map_err(|e| Error::Pki(format!("time: {e}")))?;
    let stale = crl
        .next_update()
        .is_none_or(|next| next.compare(&half).is_ok_and(|o| o.is_lt()));
    let crl = if stale {
        let fresh = shared
            .pki
            .write_crl()
            .map_err(|e| Error::Pki(format!("signing the CRL again: {e}")))?;
        info!("CRL signed again (past half its validity).");
        fresh
    } else {
        crl
    };
    crl.to_der()
        .map_err(|e| Error::Pki(format!("CRL DER: {e}")))
}

async fn publish(shared: &Shared) {
    let der = shared.trust.crl_der();
    if der.is_empty() {
        return;
    }
    let bytes = der.len();
    match shared
        .client
        .publish(protocol::topics::REVOCATIONS, QoS::AtLeastOnce, true, der)
        .await
    {
        Ok(()) => info!(bytes, "Revocation list published (retained)."),
        Err(e) => warn!(error = %e, "Revocation list not published; will retry."),
    }
}

/// The CRL task: runs until the daemon stops.
pub(crate) async fn run(shared: Arc<Shared>) {
    publish(&shared).await;
    let check = Duration::from_secs(shared.config.ingest.crl_check_secs.max(1));
    let republish = Duration::from_secs(shared.config.ingest.crl_publish_interval_secs.max(1));
    let mut last_publish = Instant::now();
    let mut store: Option<Store> = None;
    let mut pending: Vec<(String, time::OffsetDateTime)> = Vec::new();
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(check) => {}
        }
        let der = match tokio::task::spawn_blocking({
            let shared = shared.clone();
            move || read_crl_der(&shared)
        })
        .await
        {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                error!(error = %e, "Cannot read the CRL of the PKI directory.");
                continue;
            }
            Err(e) => {
                error!(error = %e, "CRL task failed.");
                continue;
            }
        };
        match shared.trust.set_crl(&der) {
            Ok(Some(entries)) => {
                info!(
                    revoked = entries.len(),
                    "New revocation list applied: certificates it lists are refused from now on."
                );
                pending = entries;
                publish(&shared).await;
                last_publish = Instant::now();
            }
            Ok(None) => {
                if last_publish.elapsed() >= republish {
                    publish(&shared).await;
                    last_publish = Instant::now();
                }
            }
            Err(e) => error!(error = %e, "The PKI directory's CRL is refused."),
        }
        if !pending.is_empty() {
            if store.as_ref().is_none_or(Store::is_closed) {
                store = Store::connect(&shared.config.database).await.ok();
            }
            if let Some(s) = &store {
                match s.record_revocations(&pending).await {
                    Ok(changed) => {
                        if changed > 0 {
                            info!(changed, "Revocations recorded in the registry.");
                        }
                        pending.clear();
                    }
                    Err(e) => warn!(error = %e, "Revocations not recorded yet; will retry."),
                }
            }
        }
    }
}
