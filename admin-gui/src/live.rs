//! The session's second connection, which only listens: `LISTEN xmjuris_outbox` (a fiche
//! signed, rectified or withdrawn, a request for an extract made) and `LISTEN
//! xmjuris_transmission` (the listener stored a receipt, a refusal, an answer, a defect, or
//! sent something). A notification carries no data: it only tells the database thread to read
//! again what a screen watches ([`crate::queries::Watched`]). Notifications are lost while
//! nobody listens, so the connection's (re)opening counts as one, and the database thread also
//! polls slowly: nothing depends on a notification being delivered.
//!
//! The connection is its own task on the database thread's runtime, reconnecting with a
//! growing delay (0.5 s to 30 s) while the session lasts; it is aborted at logout.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Connection, NoTls};

use crate::backend::Secret;
use crate::config::{ServerSettings, TlsMode};

/// The channels listened to.
pub const CHANNELS: [&str; 2] = ["xmjuris_outbox", "xmjuris_transmission"];

/// What the listening connection tells the database thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveEvent {
    /// Listening (again): what happened meanwhile is unknown, read again.
    Up,
    /// Something changed.
    Notified,
    /// The connection is lost; trying again.
    Down,
}

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Starts listening for the session; the task runs until aborted.
pub fn spawn(
    server: ServerSettings,
    login: String,
    password: Secret,
    events: mpsc::UnboundedSender<LiveEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut delay = FIRST_RETRY;
        loop {
            match open(&server, &login, &password).await {
                Ok((client, mut notes)) => {
                    delay = FIRST_RETRY;
                    if events.send(LiveEvent::Up).is_err() {
                        return;
                    }
                    // The client must live as long as the connection listens.
                    while notes.recv().await.is_some() {
                        if events.send(LiveEvent::Notified).is_err() {
                            return;
                        }
                    }
                    drop(client);
                    tracing::debug!("The listening connection ended; reconnecting.");
                    if events.send(LiveEvent::Down).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "Cannot open the listening connection."),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RETRY);
        }
    })
}

/// Opens the connection and listens; the receiver yields one `()` per notification and ends
/// with the connection.
async fn open(
    server: &ServerSettings,
    login: &str,
    password: &Secret,
) -> Result<(Client, mpsc::UnboundedReceiver<()>), String> {
    let mut config = crate::backend::pg_config(server, login, password);
    config.application_name("xmjuris-gui-listen");
    let (tx, rx) = mpsc::unbounded_channel();
    let client = match server.tls {
        TlsMode::Disable => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            let (client, connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
            drive(connection, tx);
            client
        }
        TlsMode::Require | TlsMode::VerifyFull => {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            let tls = crate::backend::tls_connector(server).map_err(|e| e.detail)?;
            let (client, connection) = config.connect(tls).await.map_err(|e| e.to_string())?;
            drive(connection, tx);
            client
        }
    };
    let listen: String = CHANNELS.iter().map(|c| format!("listen {c};")).collect();
    client
        .batch_execute(&listen)
        .await
        .map_err(|e| e.to_string())?;
    Ok((client, rx))
}

/// Drives the connection, forwarding its notifications until it ends.
fn drive<S, T>(mut connection: Connection<S, T>, tx: mpsc::UnboundedSender<()>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    if tx.send(()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "The listening connection failed.");
                    return;
                }
                None => return,
            }
        }
    });
}
