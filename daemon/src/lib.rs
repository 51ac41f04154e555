//! What XMJuris' two daemons share: configuration with environment overrides and redacted
//! secrets, reconnection backoff, the process skeleton (tracing, runtime, signals).
//!
//! The court's `xmjuris-listener` and the CJN's `cjn-ingest` differ in their MQTT links (3.1.1
//! and v5), their configuration sections and their engines; those stay in their crates. What is
//! here is the same for both, and nothing here knows of a court, a broker or a database:
//!
//! - [`config`]: [`Secret`] (never printed), [`ConfigError`], and TOML loading with
//!   `XMJURIS__SECTION__KEY` environment overrides into each daemon's own `Config` type;
//! - [`Backoff`]: capped exponential backoff with jitter (rumqttc has none; nor has a database
//!   outage);
//! - [`process`]: a thin `main`'s pieces: tracing to stderr, the runtime, SIGTERM/SIGINT to a
//!   cancellation token.

mod backoff;
pub mod config;
pub mod process;

pub use backoff::Backoff;
pub use config::{ConfigError, Secret};
