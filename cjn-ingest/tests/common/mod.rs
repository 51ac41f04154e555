//! Shared set-up of the daemon tests, all real parts: a CJN PostgreSQL cluster (migrated, an
//! `ingest` login, the courts registered), a court cluster with one database per court (staff
//! and listener logins), a sandbox Mosquitto with per-court accounts and ACL, the CJN's PKI,
//! the courts' listeners (the real `listener` crate) and cjn-ingest (library or binary); and the
//! helpers both daemons' suites use (the listener's includes this file as `common::real_cjn`):
//! fiches, waiting, a seeded generator, a self-signed certificate and TLS for the broker.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use protocol::pki::{self, CjnPki};
use protocol::{CourtCode, Identity, TrustStore};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use sandbox::{Broker, BrokerUser, PgCluster};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "motdepasse-test";
pub const INGEST_PASSWORD: &str = "ingest-secret";
pub const CJN_BROKER_PASSWORD: &str = "cjn-broker-secret";

pub fn broker_password(code: &str) -> String {
    format!("broker-{code}")
}

/// The CJN's broker accounts (client id = user name), one per cjn-ingest instance.
pub const CJN_ACCOUNTS: &[&str] = &["cjn-1", "cjn-2"];

/// A court's second broker account (same rights as its own), for a test that acts as the court
/// beside its listener: the broker binds each account to one client id.
pub fn spare_account(code: &str) -> String {
    format!("{code}-spare")
}

pub struct World {
    pub tmp: tempfile::TempDir,
    pub cjn_cluster: PgCluster,
    pub court_cluster: PgCluster,
    pub broker: Broker,
    pub pki: CjnPki,
    pub pki_dir: PathBuf,
    /// Courts with a database (and registered at the CJN).
    pub courts: Vec<String>,
}

impl World {
    /// `courts`: registered at the CJN, each with its court database; `others`: broker
    /// accounts only (courts the CJN does not know).
    pub async fn new(courts: &[&str], others: &[&str]) -> World {
        World::build(courts, others, None).await
    }

    /// With a TLS port on the broker too, serving this certificate and key (PEM).
    pub async fn new_tls(courts: &[&str], cert_pem: &[u8], key_pem: &[u8]) -> World {
        World::build(courts, &[], Some((cert_pem, key_pem))).await
    }

    async fn build(courts: &[&str], others: &[&str], tls: Option<(&[u8], &[u8])>) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let (cjn_cluster, court_cluster) = std::thread::scope(|s| {
            let cjn = s.spawn(|| PgCluster::start().expect("start PostgreSQL (CJN)"));
            let court = PgCluster::start().expect("start PostgreSQL (courts)");
            (cjn.join().unwrap(), court)
        });
        cjn_cluster.create_database("cjn").unwrap();
        db::migrate(&cjn_cluster.admin_url("cjn"), db::Schema::Cjn)
            .await
            .expect("migrate the CJN");
        let mut sql =
            format!("create role ingest login password '{INGEST_PASSWORD}' in role cjn_ingest;\n");
        for c in courts {
            sql.push_str(&format!(
                "select cjn.register_court('{c}', 'Tribunal {c}', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha');\n"
            ));
        }
        cjn_cluster.psql("cjn", &sql).expect("CJN set-up");
        for c in courts {
            let db = court_db(c);
            court_cluster.create_database(&db).unwrap();
            db::migrate(&court_cluster.admin_url(&db), db::Schema::Court)
                .await
                .expect("migrate a court");
            court_cluster
                .psql(
                    &db,
                    &format!(
                        "select juris.init_court('{c}', 'Tribunal {c}', 'ADAMAOUA', 'FARO ET DEO', \
                         'Biyouha', 'g{c}', 'Greffier {c}', '{v}'); \
                         select juris.create_listener_login('l{c}', '{v}');",
                        v = db::scram_verifier(PASSWORD)
                    ),
                )
                .expect("init court");
            let greffier = db::connect(&court_cluster.user_url(&format!("g{c}"), PASSWORD, &db))
                .await
                .unwrap();
            for (login, privilege) in [(format!("s{c}"), 2), (format!("a{c}"), 1)] {
                greffier
                    .execute(
                        "select juris.create_user($1, $2, $3, $4)",
                        &[
                            &login,
                            &format!("Agent {login}"),
                            &db::scram_verifier(PASSWORD),
                            &privilege,
                        ],
                    )
                    .await
                    .expect("create user");
            }
        }
        let mut users: Vec<BrokerUser> = Vec::new();
        for c in courts.iter().chain(others) {
            users.push(BrokerUser::court(c, &broker_password(c)));
            users.push(BrokerUser::court_spare(
                c,
                &spare_account(c),
                &broker_password(c),
            ));
        }
        for account in CJN_ACCOUNTS {
            users.push(BrokerUser::cjn(account, CJN_BROKER_PASSWORD));
        }
        let broker = match tls {
            Some((cert, key)) => Broker::start_with_tls(&users, cert, key),
            None => Broker::start(&users),
        }
        .expect("start mosquitto");
        let pki_dir = tmp.path().join("cjn-pki");
        let pki = CjnPki::init(&pki_dir).unwrap();
        World {
            tmp,
            cjn_cluster,
            court_cluster,
            broker,
            pki,
            pki_dir,
            courts: courts.iter().map(|c| c.to_string()).collect(),
        }
    }

    pub fn court_pki_dir(&self, code: &str) -> PathBuf {
        self.tmp.path().join(format!("court-{code}-pki"))
    }

    /// Enrolls a court in process, against the CJN's PKI directory (as `xmjuris pki` would):
    /// cjn-ingest finds its certificate in `issued/` at start.
    pub fn enroll_in_process(&self, code: &str) -> (Identity, TrustStore) {
        let court: CourtCode = code.parse().unwrap();
        let enrollment = self.pki.new_enrollment_code(court, 1).unwrap();
        let dir = self.court_pki_dir(code);
        let (c, request) = pki::court_prepare_enrollment(&dir, &enrollment.code).unwrap();
        let answer = self.pki.handle_enrollment(c, &request).unwrap();
        pki::court_complete_enrollment(&dir, c, &enrollment.ca_fingerprint, &answer).unwrap()
    }

    /// cjn-ingest's configuration with one of [`CJN_ACCOUNTS`] (its client id too).
    pub fn ingest_toml(&self, account: &str) -> String {
        assert!(
            CJN_ACCOUNTS.contains(&account),
            "{account} is not one of the CJN's broker accounts"
        );
        format!(
            r#"
[database]
url = "host=127.0.0.1 port={pg} dbname=cjn user=ingest"
password = "{INGEST_PASSWORD}"

[broker]
host = "127.0.0.1"
port = {mqtt}
username = "{account}"
password = "{CJN_BROKER_PASSWORD}"
keep_alive_secs = 30
session_expiry_secs = 3600
backoff_initial_ms = 100
backoff_max_secs = 1

[pki]
dir = "{pki}"

[ingest]
workers = 2
max_sealed_bytes = 65536
crl_check_secs = 1
crl_publish_interval_secs = 3600
once_idle_secs = 2
"#,
            pg = self.cjn_cluster.port(),
            mqtt = self.broker.port(),
            pki = self.pki_dir.display(),
        )
    }

    pub fn ingest_config(&self, account: &str) -> cjn_ingest::Config {
        cjn_ingest::Config::from_toml(&self.ingest_toml(account), []).unwrap()
    }

    pub fn listener_config(&self, code: &str) -> listener::Config {
        let toml = format!(
            r#"
[court]
code = "{code}"
pki_dir = "{pki}"

[database]
url = "host=127.0.0.1 port={pg} dbname={db} user=l{code}"
password = "{PASSWORD}"

[broker]
host = "127.0.0.1"
port = {mqtt}
password = "{bp}"
keep_alive_secs = 30
backoff_initial_ms = 100
backoff_max_secs = 1

[transmission]
max_envelope_bytes = 8192
max_batch_messages = 10
resend_after_secs = 8
poll_interval_secs = 2
once_timeout_secs = 60
"#,
            pki = self.court_pki_dir(code).display(),
            pg = self.court_cluster.port(),
            db = court_db(code),
            mqtt = self.broker.port(),
            bp = broker_password(code),
        );
        listener::Config::from_toml(&toml, []).unwrap()
    }

    pub async fn cjn(&self) -> tokio_postgres::Client {
        db::connect(&self.cjn_cluster.admin_url("cjn"))
            .await
            .unwrap()
    }

    pub async fn court_admin(&self, code: &str) -> tokio_postgres::Client {
        db::connect(&self.court_cluster.admin_url(&court_db(code)))
            .await
            .unwrap()
    }

    async fn court_login(&self, code: &str, login: &str) -> tokio_postgres::Client {
        db::connect(
            &self
                .court_cluster
                .user_url(login, PASSWORD, &court_db(code)),
        )
        .await
        .unwrap()
    }

    /// Saves, submits and verifies `n` fiches at a court; returns their ids.
    pub async fn verified_fiches(&self, code: &str, n: usize) -> Vec<i64> {
        let agent = self.court_login(code, &format!("a{code}")).await;
        let sec = self.court_login(code, &format!("s{code}")).await;
        verify_fiches(&agent, &sec, n).await
    }

    /// The greffier signs these fiches (`juris.sign_fiche`), in one transaction; their NIUs.
    pub async fn sign(&self, code: &str, ids: &[i64]) -> Vec<String> {
        let mut g = self.court_login(code, &format!("g{code}")).await;
        let tx = g.transaction().await.unwrap();
        let mut nius = Vec::new();
        for id in ids {
            nius.push(
                tx.query_one("select juris.sign_fiche($1)", &[id])
                    .await
                    .expect("sign")
                    .get(0),
            );
        }
        tx.commit().await.unwrap();
        nius
    }

    /// The greffier's session at a court.
    pub async fn greffier(&self, code: &str) -> tokio_postgres::Client {
        self.court_login(code, &format!("g{code}")).await
    }

    /// The secrétaire's session at a court.
    pub async fn secretaire(&self, code: &str) -> tokio_postgres::Client {
        self.court_login(code, &format!("s{code}")).await
    }

    /// Status of each fiche, by id.
    pub async fn statuses(&self, code: &str, ids: &[i64]) -> Vec<String> {
        let admin = self.court_admin(code).await;
        let rows = admin
            .query(
                "select status::text from court.fiche where fiche_id = any($1) order by fiche_id",
                &[&ids],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    /// Waits until every fiche is archived (status 4) at its court.
    pub async fn wait_archived(&self, code: &str, ids: &[i64], secs: u64) {
        let start = Instant::now();
        loop {
            let s = self.statuses(code, ids).await;
            if s.len() == ids.len() && s.iter().all(|s| s == "archivee") {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "court {code}: {} of {} fiches not archived after {secs} s",
                s.iter().filter(|s| *s != "archivee").count(),
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A plain MQTT client with a court's second account (to play a faulty court or watch its
    /// topics, beside its listener); the messages it receives arrive on the channel.
    pub async fn court_mqtt(
        &self,
        code: &str,
        subscribe: &[String],
    ) -> (AsyncClient, mpsc::UnboundedReceiver<Publish>) {
        let account = spare_account(code);
        let mut o = MqttOptions::new(&account, "127.0.0.1", self.broker.port());
        o.set_credentials(&account, broker_password(code));
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(2 << 20, 2 << 20);
        mqtt_client(o, subscribe).await
    }
}

/// Connects, subscribes, waits for the SUBACKs, and forwards what arrives.
pub async fn mqtt_client(
    options: MqttOptions,
    subscribe: &[String],
) -> (AsyncClient, mpsc::UnboundedReceiver<Publish>) {
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    for t in subscribe {
        client.subscribe(t, QoS::AtLeastOnce).await.unwrap();
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let mut acks = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while acks < subscribe.len() {
            match eventloop.poll().await.unwrap() {
                Event::Incoming(Packet::SubAck(_)) => acks += 1,
                // A retained message may come before the last SUBACK.
                Event::Incoming(Packet::Publish(p)) => {
                    let _ = tx.send(p);
                }
                _ => {}
            }
        }
    })
    .await
    .expect("subscribed");
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    (client, rx)
}

/// Publishes with QoS 1 and returns (the PUBACK is the event loop's business).
pub async fn publish(client: &AsyncClient, topic: &str, payload: Vec<u8>) {
    client
        .publish(topic, QoS::AtLeastOnce, false, payload)
        .await
        .unwrap();
}

pub fn court_db(code: &str) -> String {
    format!("court_{code}")
}

/// Runs the real listener of a court in this process until the token is cancelled.
pub fn spawn_listener(config: listener::Config) -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if let Err(e) = listener::run(config, t).await {
            eprintln!("listener stopped: {e}");
        }
    });
    token
}

/// Runs cjn-ingest in this process until the token is cancelled; returns once it is
/// subscribed.
pub async fn spawn_ingest(
    config: cjn_ingest::Config,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<cjn_ingest::Report, cjn_ingest::Error>>,
) {
    let token = CancellationToken::new();
    let t = token.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(async move { cjn_ingest::run_notifying(config, t, tx).await });
    tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("cjn-ingest subscribed")
        .expect("cjn-ingest running");
    (token, handle)
}

/// Polls `check` until it holds (or panics after `secs`, naming `what`).
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "not after {secs} s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Polls `get` until its value satisfies `ok` (or panics after `secs`, naming `what` and the
/// last value); returns that value.
pub async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut get: F, ok: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
    T: std::fmt::Debug,
{
    let start = Instant::now();
    loop {
        let v = get().await;
        if ok(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "not after {secs} s: {what}; last seen: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Saves `n` varied fiches as `agent`, submits them, and verifies them as `secretary`; their ids.
pub async fn verify_fiches(
    agent: &tokio_postgres::Client,
    secretary: &tokio_postgres::Client,
    n: usize,
) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(verify_fiche(agent, secretary, &varied_fiche(i)).await);
    }
    ids
}

/// Saves `fiche` as `agent`, submits it, and verifies it as `secretary`; its id.
pub async fn verify_fiche(
    agent: &tokio_postgres::Client,
    secretary: &tokio_postgres::Client,
    fiche: &serde_json::Value,
) -> i64 {
    let id: i64 = agent
        .query_one("select juris.save_fiche($1)", &[fiche])
        .await
        .expect("save")
        .get(0);
    agent
        .execute("select juris.submit_fiche($1)", &[&id])
        .await
        .expect("submit");
    secretary
        .execute("select juris.verify_fiche($1)", &[&id])
        .await
        .expect("verify");
    id
}

/// One integer from a query.
pub async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

pub fn sample_fiche(surname: &str) -> serde_json::Value {
    serde_json::json!({
        "reference": "103/SD/Just/2018",
        "justiciable": {
            "surname": surname, "given_names": "Mangué", "birth_date": "1987-04-17",
            "birth_place": "Ekouk", "sex": "M", "father": "Bikoula Mendomo", "mother": "Atouba Fabienne",
            "profession": "Agriculteur", "civil_status": "celibataire", "domicile": "Tsinga",
            "nationality": "Camerounaise"
        },
        "condamnation": {
            "conviction_date": "2018-06-18", "offence_date": "2017-09-15",
            "offence_nature": "Détournement de fonds publics", "offence_category": "ATT_BIENS_PUBLICS",
            "offence_class": "delit", "warrants": "Aucun", "sentence_type": "emprisonnement",
            "sentence_months": 24, "suspended_months": 12
        }
    })
}

/// A fiche that differs from its neighbours (names, dates, places, offence).
pub fn varied_fiche(i: usize) -> serde_json::Value {
    const SURNAMES: &[&str] = &[
        "Kobila", "Ngono", "Abena", "Fouda", "Tchoupo", "Mbida", "Owona", "Nkoulou", "Essama",
        "Atangana", "Djomo", "Ewane", "Kamga",
    ];
    const GIVEN: &[&str] = &[
        "Mangué",
        "Pierre",
        "Aïssatou",
        "Jean-Claude",
        "Béatrice",
        "Hamadou",
        "Clarisse",
    ];
    const PLACES: &[&str] = &[
        "Ekouk",
        "Garoua",
        "Bertoua",
        "Ngaoundéré",
        "Maroua",
        "Kribi",
    ];
    const NATURES: &[&str] = &[
        "Détournement de fonds publics",
        "Vol aggravé",
        "Abus de confiance",
        "Escroquerie",
        "Recel",
    ];
    let pick = |list: &[&'static str], k: usize| list[(i * k + i / 3) % list.len()];
    let mut f = sample_fiche(&format!("{} {}", pick(SURNAMES, 7), pick(SURNAMES, 3)));
    f["reference"] = format!("{}/SD/Just/{}", 100 + i, 2010 + i % 9).into();
    let j = &mut f["justiciable"];
    j["given_names"] = format!("{} {}", pick(GIVEN, 5), pick(GIVEN, 2)).into();
    j["birth_date"] = format!(
        "19{}-{:02}-{:02}",
        60 + i % 35,
        1 + i % 12,
        1 + (i * 7) % 28
    )
    .into();
    j["birth_place"] = pick(PLACES, 3).into();
    j["father"] = format!("{} {}", pick(SURNAMES, 11), pick(GIVEN, 3)).into();
    j["mother"] = format!("{} {}", pick(GIVEN, 4), pick(SURNAMES, 5)).into();
    let c = &mut f["condamnation"];
    c["offence_nature"] = pick(NATURES, 3).into();
    c["sentence_months"] = (6 + i % 60).into();
    c["suspended_months"] = (i % 6).into();
    f
}

/// A self-signed P-256 certificate for 127.0.0.1 (PEM certificate, PEM key).
pub fn self_signed_localhost() -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509Builder, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "127.0.0.1").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (
        b.build().to_pem().unwrap(),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
}

/// A daemon's configuration (`toml`) turned to the broker's TLS port, trusting `cert_pem` (the
/// broker's certificate, written to `dir/broker-ca.pem`).
pub fn broker_tls_toml(toml: &str, broker: &Broker, cert_pem: &[u8], dir: &Path) -> String {
    let ca = dir.join("broker-ca.pem");
    std::fs::write(&ca, cert_pem).unwrap();
    toml.replace(
        &format!("port = {}\n", broker.port()),
        &format!(
            "port = {}\ntls = true\ntls_ca_file = \"{}\"\n",
            broker.tls_port().unwrap(),
            ca.display()
        ),
    )
}

/// A small deterministic generator (xorshift), seeded and printed by the test.
pub struct Rng(pub u64);

impl Rng {
    pub fn seeded() -> Rng {
        let seed = std::env::var("XMJURIS_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("seed {seed} (XMJURIS_TEST_SEED={seed} replays it)");
        Rng(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
