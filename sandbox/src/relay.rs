//! An emulated slow link between a client and a server on this machine: a TCP relay that
//! serialises each direction at a given bit rate and delays every byte by a fixed one-way time,
//! as a satellite link would (15 kbit/s and 300 ms each way for a remote court), and counts the
//! bytes that cross it in each direction (TCP payload: the link's own headers are not counted;
//! the chunks relayed are counted too, an estimate of the packets that carried them).
//!
//! ```no_run
//! let relay = sandbox::SlowRelay::start(1883, 15_000, std::time::Duration::from_millis(300)).unwrap();
//! // connect the client to 127.0.0.1:relay.port() instead of 1883
//! println!("{} bytes up, {} down", relay.bytes_up(), relay.bytes_down());
//! ```
//!
//! Plain threads, no async runtime: usable from any test or benchmark. The relay stops
//! accepting when dropped; connections already open run until either side closes.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Error, Result, io_err};

/// A running relay (see the module docs).
#[derive(Debug)]
pub struct SlowRelay {
    port: u16,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    chunks_up: Arc<AtomicU64>,
    chunks_down: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl SlowRelay {
    /// Listens on a free loopback port and relays each connection to `127.0.0.1:target_port`,
    /// at `bits_per_sec` in each direction with `one_way` delay.
    pub fn start(target_port: u16, bits_per_sec: u64, one_way: Duration) -> Result<SlowRelay> {
        Self::start_asymmetric(target_port, bits_per_sec, bits_per_sec, one_way)
    }

    /// As [`SlowRelay::start`], at `up_bits_per_sec` from the clients to the server and
    /// `down_bits_per_sec` back (a VSAT link: 15 kbit/s up, 60 kbit/s down).
    pub fn start_asymmetric(
        target_port: u16,
        up_bits_per_sec: u64,
        down_bits_per_sec: u64,
        one_way: Duration,
    ) -> Result<SlowRelay> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(Error::NoPort)?;
        let port = listener.local_addr().map_err(Error::NoPort)?.port();
        let relay = SlowRelay {
            port,
            up: Arc::new(AtomicU64::new(0)),
            down: Arc::new(AtomicU64::new(0)),
            chunks_up: Arc::new(AtomicU64::new(0)),
            chunks_down: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (up_rate, down_rate) = (up_bits_per_sec as f64 / 8.0, down_bits_per_sec as f64 / 8.0);
        let up = (relay.up.clone(), relay.chunks_up.clone());
        let down = (relay.down.clone(), relay.chunks_down.clone());
        let stop = relay.stop.clone();
        std::thread::Builder::new()
            .name("slow-relay".into())
            .spawn(move || {
                for inbound in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(inbound) = inbound else { continue };
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target_port)) else {
                        continue;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (Ok(i2), Ok(o2)) = (inbound.try_clone(), outbound.try_clone()) else {
                        continue;
                    };
                    slow_pipe(inbound, outbound, up_rate, one_way, up.clone());
                    slow_pipe(o2, i2, down_rate, one_way, down.clone());
                }
            })
            .map_err(io_err("starting the relay's thread"))?;
        Ok(relay)
    }

    /// The port clients connect to instead of the server's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Bytes relayed from the clients to the server so far.
    pub fn bytes_up(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    /// Bytes relayed from the server to the clients so far.
    pub fn bytes_down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }

    /// Chunks (reads of the relay, each at least one packet) relayed from the clients so far.
    pub fn chunks_up(&self) -> u64 {
        self.chunks_up.load(Ordering::Relaxed)
    }

    /// Chunks relayed from the server to the clients so far.
    pub fn chunks_down(&self) -> u64 {
        self.chunks_down.load(Ordering::Relaxed)
    }
}

impl Drop for SlowRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accepting thread up so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` to `to` as the slow link would: each chunk read leaves when the link is free,
/// takes its serialisation time, then arrives `one_way` later.
fn slow_pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    bytes_per_sec: f64,
    one_way: Duration,
    (counter, chunks): (Arc<AtomicU64>, Arc<AtomicU64>),
) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let _ = std::thread::Builder::new()
        .name("slow-relay-out".into())
        .spawn(move || {
            while let Ok((deliver_at, chunk)) = rx.recv() {
                let now = Instant::now();
                if deliver_at > now {
                    std::thread::sleep(deliver_at - now);
                }
                if to.write_all(&chunk).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    let _ = std::thread::Builder::new()
        .name("slow-relay-in".into())
        .spawn(move || {
            let mut link_free = Instant::now();
            let mut buf = vec![0u8; 4096];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                counter.fetch_add(n as u64, Ordering::Relaxed);
                chunks.fetch_add(1, Ordering::Relaxed);
                let start = link_free.max(Instant::now());
                link_free = start + Duration::from_secs_f64(n as f64 / bytes_per_sec);
                if tx.send((link_free + one_way, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
            let _ = from.shutdown(Shutdown::Read);
        });
}
