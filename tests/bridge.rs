//! Regional brokers bridged to the national one (Mosquitto's bridge), configured by
//! `xmjuris broker config --region` (national) and `--bridge-to` (regional): two regional
//! brokers and one national, real Mosquitto processes. A court's messages reach the CJN's
//! shared subscription through its region's bridge, the CJN's answers and the revocation list
//! come back to it, nothing is lost while the national broker is down, and a region's bridge
//! account can do nothing for a court of another region.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `xmjuris broker config …` (must succeed); the `<account> <password>` lines it printed.
fn config(out: &Path, data: &Path, port: u16, extra: &[&str]) -> BTreeMap<String, String> {
    let listen = format!("127.0.0.1:{port}");
    let log = out.with_extension("log");
    let mut args = vec![
        "broker",
        "config",
        "--log-file",
        log.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--listen",
        &listen,
        "--data-dir",
        data.to_str().unwrap(),
    ];
    if sandbox::running_as_root() {
        args.extend(["--user", "root"]);
    }
    args.extend(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_xmjuris"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "broker config {extra:?}: {}",
        text(&o.stderr)
    );
    text(&o.stdout)
        .lines()
        .map(|l| {
            let (a, p) = l.split_once(' ').unwrap();
            (a.to_owned(), p.to_owned())
        })
        .collect()
}

/// One Mosquitto, from a generated configuration.
struct Node {
    out: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Node {
    fn new(root: &Path, name: &str) -> Node {
        let data = root.join(format!("{name}-data"));
        std::fs::create_dir_all(&data).unwrap();
        Node {
            out: root.join(name),
            port: sandbox::free_port().unwrap(),
            child: None,
        }
    }

    fn data(&self) -> PathBuf {
        let mut d = self.out.clone().into_os_string();
        d.push("-data");
        d.into()
    }

    fn start(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.out.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "mosquitto not listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A clean stop (SIGTERM): the broker saves its sessions and queued messages.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    fn client(&self, user: &str, password: &str, id: &str) -> Vec<String> {
        ["-h", "127.0.0.1", "-p", &self.port.to_string()]
            .iter()
            .map(|s| s.to_string())
            .chain(
                ["-u", user, "-P", password, "-i", id, "-q", "1"]
                    .iter()
                    .map(|s| s.to_string()),
            )
            .collect()
    }

    fn publish(&self, who: (&str, &str, &str), topic: &str, message: &str, retain: bool) -> bool {
        let mut c = Command::new("mosquitto_pub");
        // -c: a client id's persistent session (its subscriptions) survives its publishing.
        c.args(self.client(who.0, who.1, who.2))
            .args(["-c", "-t", topic, "-m", message]);
        if retain {
            c.arg("-r");
        }
        c.output().unwrap().status.success()
    }

    /// Creates a persistent session subscribed to `topic` (exits once the broker answered).
    fn subscribe(&self, who: (&str, &str, &str), topic: &str, v5: bool) -> Output {
        let mut c = Command::new("mosquitto_sub");
        c.args(self.client(who.0, who.1, who.2))
            .args(["-c", "-t", topic, "-E", "-W", "10"]);
        if v5 {
            c.args(["-V", "mqttv5"]);
        }
        c.output().unwrap()
    }

    /// The `topic message` lines received in the persistent session of `who` on `topic`, until
    /// `count` arrived (or 15 s; 3 s when none is expected).
    fn receive(&self, who: (&str, &str, &str), topic: &str, count: usize, v5: bool) -> Vec<String> {
        self.receive_within(who, topic, count, v5, 15)
    }

    fn receive_within(
        &self,
        who: (&str, &str, &str),
        topic: &str,
        count: usize,
        v5: bool,
        secs: u32,
    ) -> Vec<String> {
        let mut c = Command::new("mosquitto_sub");
        c.args(self.client(who.0, who.1, who.2)).args([
            "-c",
            "-v",
            "-t",
            topic,
            "-C",
            &count.to_string(),
            "-W",
            &secs.to_string(),
        ]);
        if v5 {
            c.args(["-V", "mqttv5"]);
        }
        let mut lines: Vec<String> = text(&c.output().unwrap().stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const CJN_GROUP: &str = "$share/cjn/xmjuris/v1/+/up";

#[test]
fn courts_behind_two_regional_brokers_reach_the_cjn_and_nothing_crosses_regions() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let file = |name: &str, body: &str| {
        let p = root.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let direct = file("direct.txt", "10003\n");
    let north = file("north.txt", "10001\n");
    let south = file("south.txt", "10002\n");

    // The national broker: court 10003 connects to it directly; regions 1 and 2 bridge theirs.
    let mut national = Node::new(root, "national");
    let r1 = format!("1={north}");
    let r2 = format!("2={south}");
    let nat_pw = config(
        &national.out,
        &national.data(),
        national.port,
        &["--courts", &direct, "--region", &r1, "--region", &r2],
    );
    assert_eq!(
        nat_pw.keys().collect::<Vec<_>>(),
        ["10003", "cjn-1", "region-1", "region-2"]
    );
    let dynsec = std::fs::read_to_string(national.out.join("dynamic-security.json")).unwrap();
    assert!(!dynsec.contains(&nat_pw["region-1"]), "a clear password");

    // The regional brokers, each with its courts and the bridge's password.
    let to = format!("127.0.0.1:{}", national.port);
    let mut regional = Vec::new();
    let mut court_pw = BTreeMap::new();
    for (n, courts) in [("1", &north), ("2", &south)] {
        let node = Node::new(root, &format!("region{n}"));
        let pw_file = file(&format!("region{n}.pw"), &nat_pw[&format!("region-{n}")]);
        let printed = config(
            &node.out,
            &node.data(),
            node.port,
            &[
                "--courts",
                courts,
                "--bridge-to",
                &to,
                "--bridge-region",
                n,
                "--bridge-password-file",
                &pw_file,
            ],
        );
        assert_eq!(printed.len(), 1, "only the region's court: {printed:?}");
        court_pw.extend(printed);
        let conf = std::fs::read_to_string(node.out.join("mosquitto.conf")).unwrap();
        assert!(
            conf.contains(&format!("remote_username region-{n}")),
            "{conf}"
        );
        regional.push(node);
    }
    // A second run changes nothing (the bridge's section included).
    let again = config(
        &regional[0].out,
        &regional[0].data(),
        regional[0].port,
        &[
            "--courts",
            &north,
            "--bridge-to",
            &to,
            "--bridge-region",
            "1",
            "--bridge-password-file",
            &file("region1.pw", &nat_pw["region-1"]),
        ],
    );
    assert!(again.is_empty());

    national.start();
    let cjn = ("cjn-1", nat_pw["cjn-1"].as_str(), "cjn-1");
    let sub = national.subscribe(cjn, CJN_GROUP, true);
    assert!(sub.status.success(), "{}", text(&sub.stderr));

    // Before the regional brokers run: region 1's account, at the national broker, may do
    // nothing for region 2's court nor join the CJN's group.
    let region1 = ("region-1", nat_pw["region-1"].as_str(), "region-1");
    assert!(national.publish(region1, "xmjuris/v1/10002/up", "forged", false));
    let denied = national.subscribe(region1, "xmjuris/v1/10002/down", false);
    assert!(
        !denied.status.success() || text(&denied.stderr).contains("denied"),
        "region 1 read region 2's answers: {}",
        text(&denied.stderr)
    );
    let group = national.subscribe(region1, CJN_GROUP, true);
    assert!(
        text(&group.stdout).contains("denied") || text(&group.stderr).contains("denied"),
        "region 1 joined the CJN's group: {}",
        text(&group.stderr)
    );

    for node in &mut regional {
        node.start();
    }
    let c1 = ("10001", court_pw["10001"].as_str(), "court-10001");
    let c2 = ("10002", court_pw["10002"].as_str(), "court-10002");
    let c3 = ("10003", nat_pw["10003"].as_str(), "court-10003");
    // The courts' sessions for their answers.
    for (node, who, code) in [
        (&regional[0], c1, "10001"),
        (&regional[1], c2, "10002"),
        (&national, c3, "10003"),
    ] {
        let s = node.subscribe(who, &format!("xmjuris/v1/{code}/down"), false);
        assert!(s.status.success(), "{code}: {}", text(&s.stderr));
    }

    // Up: each court publishes to its own broker; the CJN's group receives all three, and not
    // the message region 1 forged for court 10002.
    assert!(regional[0].publish(c1, "xmjuris/v1/10001/up", "north-1", false));
    assert!(regional[1].publish(c2, "xmjuris/v1/10002/up", "south-1", false));
    assert!(national.publish(c3, "xmjuris/v1/10003/up", "direct-1", false));
    assert_eq!(
        national.receive(cjn, CJN_GROUP, 3, true),
        [
            "xmjuris/v1/10001/up north-1",
            "xmjuris/v1/10002/up south-1",
            "xmjuris/v1/10003/up direct-1"
        ]
    );
    // A court of region 1 cannot publish for a court of region 2 at its own broker.
    assert!(regional[0].publish(c1, "xmjuris/v1/10002/up", "cross", false));

    // Down: the CJN answers each court and publishes the revocation list (retained); each
    // court gets its own answer and the list, at its own broker.
    for code in ["10001", "10002", "10003"] {
        assert!(national.publish(
            cjn,
            &format!("xmjuris/v1/{code}/down"),
            &format!("receipt-{code}"),
            false
        ));
    }
    assert!(national.publish(cjn, "xmjuris/v1/revocations", "crl-1", true));
    assert_eq!(
        regional[0].receive(c1, "xmjuris/v1/10001/down", 1, false),
        ["xmjuris/v1/10001/down receipt-10001"]
    );
    assert_eq!(
        regional[1].receive(c2, "xmjuris/v1/10002/down", 1, false),
        ["xmjuris/v1/10002/down receipt-10002"]
    );
    assert_eq!(
        national.receive(c3, "xmjuris/v1/10003/down", 1, false),
        ["xmjuris/v1/10003/down receipt-10003"]
    );
    assert_eq!(
        regional[1].receive(
            ("10002", &court_pw["10002"], "court-10002-crl"),
            "xmjuris/v1/revocations",
            1,
            false
        ),
        Vec::<String>::new(),
        "a second client id for a court's account"
    );
    let crl = Command::new("mosquitto_sub")
        .args(regional[1].client("10002", &court_pw["10002"], "court-10002"))
        .args(["-v", "-t", "xmjuris/v1/revocations", "-C", "1", "-W", "15"])
        .output()
        .unwrap();
    assert_eq!(text(&crl.stdout).trim(), "xmjuris/v1/revocations crl-1");

    // The national broker is down: court 10001 goes on publishing at its regional broker,
    // which keeps the messages; once the national broker is back, the CJN gets them, once.
    national.stop();
    assert!(regional[0].publish(c1, "xmjuris/v1/10001/up", "north-2", false));
    assert!(regional[0].publish(c1, "xmjuris/v1/10001/up", "north-3", false));
    national.start();
    assert_eq!(
        national.receive(cjn, CJN_GROUP, 2, true),
        ["xmjuris/v1/10001/up north-2", "xmjuris/v1/10001/up north-3"]
    );
    // Nothing else waits for the CJN: no forged or cross-region message, no duplicate.
    assert_eq!(
        national.receive_within(cjn, CJN_GROUP, 1, true, 3),
        Vec::<String>::new()
    );
}
