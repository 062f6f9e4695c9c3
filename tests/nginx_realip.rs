//! Differential test against real nginx `realip` (issue #13,
//! `issues show 13`: "agreement with nginx
//! realip on ordinary chains stays exact, and becomes exact for `:0` ports and
//! quoted tokens").
//!
//! nginx (Debian's 1.22) runs from a scratch directory under target/ with its
//! own config, on loopback only:
//! `set_real_ip_from <trusted>; real_ip_header X-Forwarded-For; real_ip_recursive on;`
//! and answers `$remote_addr` as the body. Every chain of a deterministic
//! corpus (a few thousand, by category) goes to nginx from a trusted peer
//! (127.0.0.1, ::1) or an untrusted one (127.0.0.3), and through EdgeGuard's
//! core (`Pipeline`, `OwnedRequest`) for the same peer; the `X-Real-IP`
//! EdgeGuard sets must be nginx's `$remote_addr`, byte for byte.
//!
//! Without nginx the test prints why and passes, unless
//! `EDGEGUARD_REQUIRE_NGINX=1` (set by .ci/run, which installs nginx).
//! nginx is killed when the test ends, failed or not.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgeguard::{Decision, HeaderEdit, OwnedRequest, Pipeline};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// What both sides trust. 127.0.0.1 and ::1 are the trusted peers the test
/// connects from; 127.0.0.3 is not trusted.
const TRUSTED: [&str; 5] = ["127.0.0.1/32", "::1/128", "10.0.0.0/8", "192.168.0.0/16", "2001:db8:ffff::/48"];
const UNTRUSTED_PEER: &str = "127.0.0.3";

// --- nginx -------------------------------------------------------------------

fn nginx_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NGINX") {
        return Some(path.into());
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nginx"));
    on_path.into_iter().find(|p| p.is_file())
}

/// nginx running from its own scratch directory; killed on drop (also while
/// a failed assertion unwinds).
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Nginx {
    fn start(binary: &Path) -> Self {
        let dir =
            tempfile::Builder::new().prefix("nginx-realip-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.path().display();
        let trusted: String = TRUSTED.iter().map(|t| format!("        set_real_ip_from {t};\n")).collect();
        // One process in the foreground, nothing read from /etc/nginx, every
        // file in the scratch directory, listening on loopback only.
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n    access_log off;\n    client_body_temp_path {d}/tmp;\n    proxy_temp_path {d}/tmp;\n    \
             fastcgi_temp_path {d}/tmp;\n    uwsgi_temp_path {d}/tmp;\n    scgi_temp_path {d}/tmp;\n    \
             keepalive_requests 1000000;\n    keepalive_timeout 120s;\n\
             server {{\n        listen 127.0.0.1:{port};\n        listen [::1]:{port};\n{trusted}        \
             real_ip_header X-Forwarded-For;\n        real_ip_recursive on;\n        \
             location / {{ default_type text/plain; return 200 \"$remote_addr\"; }}\n    }}\n}}\n"
        );
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut nginx = Self { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited ({status}):\n{}", nginx.log());
            }
            assert!(Instant::now() < deadline, "nginx not listening within 20 s:\n{}", nginx.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        read("error.log") + &read("stderr.log")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One keep-alive connection from `source`; every case from that peer goes over it.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Connection {
    async fn open(source: IpAddr, port: u16) -> Self {
        let target = SocketAddr::new(
            if source.is_ipv4() { [127, 0, 0, 1].into() } else { Ipv6Addr::LOCALHOST.into() },
            port,
        );
        let socket =
            if source.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
                .unwrap();
        socket.bind(SocketAddr::new(source, 0)).unwrap();
        let stream = socket.connect(target).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        Self { sender }
    }

    /// nginx's `$remote_addr` for a request carrying `lines` as X-Forwarded-For.
    async fn remote_addr(&mut self, lines: &[String]) -> Result<String, String> {
        let mut req = hyper::Request::get("/").header("host", "nginx.test");
        for line in lines {
            req = req.header("x-forwarded-for", line.as_str());
        }
        let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self.sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if status != 200 { Err(format!("nginx answered {status}: {body}")) } else { Ok(body) }
    }
}

// --- EdgeGuard -----------------------------------------------------------------

fn edgeguard_real_ip(pipeline: &Pipeline, peer: &str, lines: &[String]) -> Result<String, String> {
    let mut req = OwnedRequest::new(peer);
    for line in lines {
        req = req.header("X-Forwarded-For", line);
    }
    match pipeline.handle(&req) {
        Decision::Forward(edits) => edits
            .iter()
            .rev()
            .find_map(|e| match e {
                HeaderEdit::Set(name, value) if name.eq_ignore_ascii_case("X-Real-IP") => Some(value.clone()),
                _ => None,
            })
            .ok_or_else(|| format!("no X-Real-IP set: {edits:?}")),
        Decision::Respond(refusal) => Err(format!("answered {}", refusal.status())),
    }
}

// --- the corpus ------------------------------------------------------------------

/// SplitMix64: a fixed, dependency-free generator, so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// An IPv4 address as both sides spell it: dotted decimal, no leading zeros.
///
/// Excluded (deliberate differences, docs/client-ip.md): nginx's `inet_aton`-
/// style parser also takes leading zeros (`010.0.0.1` = 10.0.0.1) and empty
/// octets (`1..2.3` = 1.0.2.3, `1.2.3.` = 1.2.3.0), which EdgeGuard refuses as
/// ambiguous spellings; and nginx refuses `255.255.255.255` (its INADDR_NONE
/// sentinel), which EdgeGuard accepts. So no generated octet has a leading
/// zero and the broadcast address is never generated.
fn v4(rng: &mut Rng, trusted: bool) -> String {
    let [a, b, c, d] = (rng.next() as u32).to_be_bytes();
    if trusted {
        if rng.chance(70) { format!("10.{b}.{c}.{d}") } else { format!("192.168.{c}.{d}") }
    } else {
        match rng.below(4) {
            0 => format!("203.0.113.{d}"),
            1 => format!("198.51.100.{d}"),
            2 => format!("192.0.2.{d}"),
            // Anywhere outside the trusted ranges.
            _ if a == 10 || a == 127 || (a == 192 && b == 168) || [a, b, c, d] == [255; 4] => {
                format!("203.0.113.{d}")
            }
            _ => format!("{a}.{b}.{c}.{d}"),
        }
    }
}

/// An IPv6 address, in the canonical, uncompressed or upper-case spelling.
///
/// Excluded (deliberate difference, docs/client-ip.md): IPv4-mapped
/// `::ffff:a.b.c.d` is IPv4 to EdgeGuard (trust and output); nginx keeps the
/// IPv6 form. Also excluded: IPv4-compatible `::a.b.c.d` (::/96), which nginx
/// prints in dotted form and EdgeGuard in hex; the address is the same.
fn v6(rng: &mut Rng, trusted: bool) -> String {
    let mut segments = [0u16; 8];
    for s in &mut segments {
        *s = rng.next() as u16;
    }
    if trusted {
        segments[..3].copy_from_slice(&[0x2001, 0xdb8, 0xffff]);
    } else if rng.chance(50) {
        segments[..2].copy_from_slice(&[0x2001, 0xdb8]);
        if segments[2] == 0xffff {
            segments[2] = 1;
        }
    } else if segments[0] == 0 {
        segments[0] = 0x2a00; // never ::/96 or ::ffff:0:0/96
    }
    // Runs of zeros, so `::` appears in the canonical form.
    if rng.chance(50) {
        let start = 3 + rng.below(4) as usize;
        let len = 1 + rng.below((8 - start) as u64) as usize;
        segments[start..start + len].fill(0);
    }
    let ip = Ipv6Addr::from(segments);
    match rng.below(4) {
        0 => segments.iter().map(|s| format!("{s:04x}")).collect::<Vec<_>>().join(":"),
        1 => ip.to_string().to_ascii_uppercase(),
        _ => ip.to_string(),
    }
}

/// A port both sides accept: 1–65535, sometimes with leading zeros (nginx's
/// `ngx_atoi` takes `0080`).
fn port(rng: &mut Rng) -> String {
    let p = 1 + rng.below(65535);
    if rng.chance(10) { format!("{p:05}") } else { p.to_string() }
}

/// One valid hop, with or without a port.
fn hop(rng: &mut Rng, trusted: bool, ipv6_percent: u64, port_percent: u64) -> String {
    let with_port = rng.chance(port_percent);
    if rng.chance(ipv6_percent) {
        let ip = v6(rng, trusted);
        if with_port { format!("[{ip}]:{}", port(rng)) } else { ip }
    } else {
        let ip = v4(rng, trusted);
        if with_port { format!("{ip}:{}", port(rng)) } else { ip }
    }
}

/// Tokens neither side takes as an address. `:0` ports and quoted tokens must
/// now agree exactly (issue #13); the others always did.
const INVALID: &[&str] = &[
    "unknown",
    "UNKNOWN",
    "_hidden",
    "garbage",
    "evil.example",
    "203.0.113.7:0",
    "203.0.113.7:00000",
    "[2001:db8::7]:0",
    "\"203.0.113.7\"",
    "\"[2001:db8::7]:443\"",
    "\"10.0.0.7\"",
    "203.0.113.9%evil",
    "fe80::1%eth0",
    "[fe80::1%eth0]:80",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "203.0.113.7:65536",
    "203.0.113.7:",
    "203.0.113.7:80:90",
    "203.0.113.7:_p",
    "[2001:db8::7",
    "2001:db8::7]",
    "2001:db8:::7",
    ":80",
    "for=203.0.113.7",
];

/// Separators between entries: nginx splits on `,` and ` `, and skips empty entries.
const SEPARATORS: &[&str] = &[", ", ",", " ", "  ", " , ", ",,", ", ,", ",  ,", " ,, "];

struct Case {
    category: &'static str,
    peer: IpAddr,
    lines: Vec<String>,
}

/// `n` hops, `trusted_percent` of them trusted (the right end decides most).
fn hops(rng: &mut Rng, n: usize, trusted_percent: u64, ipv6: u64, ports: u64) -> Vec<String> {
    (0..n)
        .map(|_| {
            let trusted = rng.chance(trusted_percent);
            hop(rng, trusted, ipv6, ports)
        })
        .collect()
}

fn join(rng: &mut Rng, hops: &[String], separators: &[&str]) -> String {
    let mut line = String::new();
    for (i, h) in hops.iter().enumerate() {
        if i > 0 {
            let separator = rng.pick::<&str>(separators);
            line.push_str(separator);
        }
        line.push_str(h);
    }
    line
}

fn corpus() -> Vec<Case> {
    let mut rng = Rng(0x1337_e4e6_0a2d_0013);
    let mut cases = Vec::new();
    let trusted_v4: IpAddr = [127, 0, 0, 1].into();
    let trusted_v6: IpAddr = Ipv6Addr::LOCALHOST.into();
    let untrusted: IpAddr = UNTRUSTED_PEER.parse().unwrap();
    let mut add =
        |category: &'static str, peer: IpAddr, lines: Vec<String>| cases.push(Case { category, peer, lines });
    let peer = |rng: &mut Rng| if rng.chance(25) { trusted_v6 } else { trusted_v4 };

    // Ordinary chains: valid IPv4 and IPv6 hops, with and without ports,
    // trusted and untrusted, joined the way proxies write them.
    for _ in 0..700 {
        let n = 1 + rng.below(12) as usize;
        let h = hops(&mut rng, n, 50, 0, 0);
        let line = h.join(", ");
        add("ipv4", peer(&mut rng), vec![line]);
    }
    for _ in 0..500 {
        let n = 1 + rng.below(12) as usize;
        let h = hops(&mut rng, n, 50, 0, 60);
        let line = h.join(", ");
        add("ipv4-ports", peer(&mut rng), vec![line]);
    }
    for _ in 0..500 {
        let n = 1 + rng.below(10) as usize;
        let h = hops(&mut rng, n, 50, 100, 40);
        let line = h.join(", ");
        add("ipv6", peer(&mut rng), vec![line]);
    }
    for _ in 0..500 {
        let n = 1 + rng.below(16) as usize;
        let h = hops(&mut rng, n, 60, 40, 40);
        let line = join(&mut rng, &h, SEPARATORS);
        add("mixed-separators", peer(&mut rng), vec![line]);
    }
    // Every hop trusted: the leftmost is the answer (chains stay under maxHops 32).
    for _ in 0..200 {
        let n = 1 + rng.below(20) as usize;
        let h = hops(&mut rng, n, 100, 30, 30);
        let line = join(&mut rng, &h, SEPARATORS);
        add("all-trusted", peer(&mut rng), vec![line]);
    }
    // An invalid token somewhere (the walk stops there), incl. `:0` ports and quotes.
    for _ in 0..700 {
        let n = 1 + rng.below(10) as usize;
        let mut h = hops(&mut rng, n, 60, 30, 30);
        let at = rng.below(h.len() as u64 + 1) as usize;
        h.insert(at, rng.pick(INVALID).to_string());
        let line = join(&mut rng, &h, SEPARATORS);
        add("invalid-hop", peer(&mut rng), vec![line]);
    }
    // Trailing separators and empty elements between entries.
    for _ in 0..200 {
        let n = 1 + rng.below(8) as usize;
        let h = hops(&mut rng, n, 50, 30, 30);
        let mut line = join(&mut rng, &h, SEPARATORS);
        let trailing = rng.pick::<&str>(&[",", ", ,", ",,", " ,"]);
        line.push_str(trailing);
        add("empty-elements", peer(&mut rng), vec![line]);
    }
    // Several header lines (nginx 1.22 walks them last to first).
    for _ in 0..300 {
        let lines: Vec<String> = (0..2 + rng.below(2))
            .map(|_| {
                let n = 1 + rng.below(5) as usize;
                let h = hops(&mut rng, n, 60, 30, 30);
                h.join(", ")
            })
            .collect();
        add("multiple-lines", peer(&mut rng), lines);
    }
    // From an untrusted peer nothing counts: both answer the peer.
    for _ in 0..200 {
        let n = 1 + rng.below(8) as usize;
        let mut h = hops(&mut rng, n, 50, 30, 30);
        if rng.chance(30) {
            let at = rng.below(h.len() as u64 + 1) as usize;
            h.insert(at, rng.pick(INVALID).to_string());
        }
        let line = join(&mut rng, &h, SEPARATORS);
        add("untrusted-peer", untrusted, vec![line]);
    }
    // Spellings real proxies do not write but a client can, where nginx's
    // parser has its own opinion. docs/client-ip.md does not list them as
    // deliberate differences, so they are compared like the rest:
    // - `[2001:db8::1]` without a port: nginx's ngx_parse_addr_port refuses it;
    // - `[203.0.113.7]:80`: nginx takes an IPv4 address in brackets with a port;
    // - a line starting with `,`: nginx never treats the first byte of a line
    //   as a separator, so `,203.0.113.7` is one invalid token;
    // - a tab next to a separator: nginx splits on `,` and ` ` only, so
    //   `\t10.0.0.2` is one invalid token.
    for _ in 0..100 {
        let n = 1 + rng.below(4) as usize;
        let mut h = hops(&mut rng, n, 50, 0, 0);
        let trusted = rng.chance(50);
        h.push(format!("[{}]", v6(&mut rng, trusted)));
        let len = h.len();
        h.swap(rng.below(len as u64) as usize, len - 1);
        add("ipv6-brackets-without-port", peer(&mut rng), vec![h.join(", ")]);
    }
    for _ in 0..100 {
        let n = 1 + rng.below(4) as usize;
        let mut h = hops(&mut rng, n, 50, 0, 0);
        let [.., a, b, c, d] = rng.next().to_be_bytes();
        let at = rng.below(h.len() as u64 + 1) as usize;
        h.insert(at, format!("[{a}.{b}.{c}.{}]:{}", d.max(1), port(&mut rng)));
        add("ipv4-in-brackets-with-port", peer(&mut rng), vec![h.join(", ")]);
    }
    for _ in 0..100 {
        let n = 1 + rng.below(4) as usize;
        let h = hops(&mut rng, n, 50, 20, 20);
        add("leading-comma", peer(&mut rng), vec![format!(",{}", h.join(", "))]);
    }
    for _ in 0..100 {
        let n = 2 + rng.below(4) as usize;
        let h = hops(&mut rng, n, 50, 20, 20);
        add("tab-separator", peer(&mut rng), vec![join(&mut rng, &h, &[",\t", "\t,", ", \t"])]);
    }
    cases
}

#[test]
fn x_real_ip_agrees_with_nginx_realip_on_the_corpus() {
    let Some(binary) = nginx_binary() else {
        let msg =
            "nginx is not installed (apt-get install nginx): the nginx realip differential test is skipped";
        assert!(
            std::env::var_os("EDGEGUARD_REQUIRE_NGINX").is_none(),
            "EDGEGUARD_REQUIRE_NGINX is set but {msg}"
        );
        println!("{msg}");
        return;
    };
    let nginx = Nginx::start(&binary);
    let config = serde_json::json!({"clientIp": {"trustedProxies": TRUSTED}});
    let pipeline = Pipeline::from_json(config.to_string().as_bytes()).unwrap();
    let corpus = corpus();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut mismatches: Vec<(&str, String)> = Vec::new();
    let mut per_category: Vec<(&str, usize, usize)> = Vec::new();
    rt.block_on(async {
        let mut connections: Vec<(IpAddr, Connection)> = Vec::new();
        for case in &corpus {
            if !connections.iter().any(|(p, _)| *p == case.peer) {
                connections.push((case.peer, Connection::open(case.peer, nginx.port).await));
            }
            let conn = &mut connections.iter_mut().find(|(p, _)| *p == case.peer).unwrap().1;
            let ours =
                edgeguard_real_ip(&pipeline, &SocketAddr::new(case.peer, 40000).to_string(), &case.lines);
            let theirs = conn.remote_addr(&case.lines).await;
            let entry = match per_category.iter_mut().find(|(c, ..)| *c == case.category) {
                Some(entry) => entry,
                None => {
                    per_category.push((case.category, 0, 0));
                    per_category.last_mut().unwrap()
                }
            };
            entry.1 += 1;
            if ours != theirs {
                entry.2 += 1;
                mismatches.push((
                    case.category,
                    format!(
                        "peer {} X-Forwarded-For {:?}: nginx {theirs:?}, EdgeGuard {ours:?}",
                        case.peer, case.lines
                    ),
                ));
            }
        }
    });
    let mut summary = String::new();
    for (category, total, differ) in &per_category {
        let _ = writeln!(summary, "  {category:<28} {total:>5} chains, {differ:>4} differ");
    }
    println!("nginx {} realip vs EdgeGuard X-Real-IP, {} chains:\n{summary}", binary.display(), corpus.len());
    // Up to six examples per category that differs.
    let mut shown = String::new();
    for (category, ..) in per_category.iter().filter(|(.., differ)| *differ > 0) {
        for (_, line) in mismatches.iter().filter(|(c, _)| c == category).take(6) {
            let _ = writeln!(shown, "  [{category}] {line}");
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} chains differ from nginx realip:\n{summary}first ones:\n{shown}nginx log:\n{}",
        mismatches.len(),
        corpus.len(),
        nginx.log()
    );
}
