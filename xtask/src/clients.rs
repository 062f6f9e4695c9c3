//! Client addresses for `cargo xtask bench-traefik`: real traffic has many
//! clients, and the plugin's cost depends on how many of them it sees.
//!
//! The pool is 100 000 IPv4 addresses drawn from the networks a real
//! GeoLite2-City database has data for (every address is a lookup that finds
//! a record, as most real clients do), with a fixed seed, so every run sends
//! the same requests. Three mixes are written as wrk request sequences (one
//! address per line): one client; Zipf (s = 1) over the pool, the usual
//! shape of client popularity; and a uniform rotation in which no two
//! consecutive requests share a /16, the worst case for any cache.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{Context, Result, ensure};

/// Distinct addresses in the pool.
pub const POOL: usize = 100_000;
/// Requests in the Zipf sequence before it repeats (wrk threads start at different points).
const ZIPF_REQUESTS: usize = 1 << 18;
/// Fixed seed: the same pool and sequences on every run.
const SEED: u64 = 14;
/// The one client of the one-client mix (Gamlingay, GB in GeoLite2-City).
pub const ONE_CLIENT: &str = "81.2.69.142";

/// A traffic mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    One,
    Zipf,
    Uniform,
}

impl Mix {
    pub const ALL: [Mix; 3] = [Mix::One, Mix::Zipf, Mix::Uniform];

    pub fn key(self) -> &'static str {
        match self {
            Mix::One => "one",
            Mix::Zipf => "zipf",
            Mix::Uniform => "uniform",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Mix::One => "one client",
            Mix::Zipf => "Zipf s=1, 100k clients",
            Mix::Uniform => "uniform rotation, 100k clients",
        }
    }

    pub fn parse(key: &str) -> Option<Mix> {
        Mix::ALL.into_iter().find(|m| m.key() == key)
    }
}

/// splitmix64: a tiny deterministic generator (quality is ample for sampling).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The IPv4 networks with data in the database at `path`: `(first address, prefix length)`.
fn networks(path: &Path) -> Result<Vec<(u32, u8)>> {
    let reader =
        maxminddb::Reader::open_readfile(path).with_context(|| format!("opening {}", path.display()))?;
    let meta = reader.metadata();
    let (node_count, record_size) = (meta.node_count, u32::from(meta.record_size));
    let bytes = std::fs::read(path)?;
    let node_bytes = (record_size / 4) as usize;
    let node = |n: u32| -> [u32; 2] {
        let b = &bytes[n as usize * node_bytes..][..node_bytes];
        let be = |s: &[u8]| s.iter().fold(0u32, |acc, &x| acc << 8 | u32::from(x));
        match record_size {
            24 => [be(&b[0..3]), be(&b[3..6])],
            28 => [u32::from(b[3] >> 4) << 24 | be(&b[0..3]), u32::from(b[3] & 0x0F) << 24 | be(&b[4..7])],
            _ => [be(&b[0..4]), be(&b[4..8])],
        }
    };
    // IPv4 addresses start after 96 zero bits in an IPv6 tree.
    let mut start = 0;
    if meta.ip_version == 6 {
        for _ in 0..96 {
            start = node(start)[0];
            ensure!(start < node_count, "no IPv4 subtree in {}", path.display());
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![(start, 0u8, 0u32)];
    while let Some((n, depth, prefix)) = stack.pop() {
        for (bit, record) in node(n).into_iter().enumerate() {
            let prefix = prefix | (bit as u32) << (31 - depth);
            if record < node_count && depth < 31 {
                stack.push((record, depth + 1, prefix));
            } else if record > node_count {
                out.push((prefix, depth + 1));
            }
        }
    }
    ensure!(!out.is_empty(), "no IPv4 networks with data in {}", path.display());
    Ok(out)
}

/// [`POOL`] addresses, each in a network chosen uniformly among those with
/// data, at a random host inside it; private and reserved space excluded.
fn pool(path: &Path) -> Result<Vec<Ipv4Addr>> {
    let nets = networks(path)?;
    let mut rng = Rng(SEED);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(POOL);
    while out.len() < POOL {
        let (first, len) = nets[rng.below(nets.len() as u64) as usize];
        let host = if len >= 32 { 0 } else { rng.next() as u32 & (u32::MAX >> len) };
        let ip = Ipv4Addr::from(first | host);
        let special = ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_documentation();
        if !special && !ip.is_unspecified() && ip.octets()[3] != 0 && seen.insert(ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

fn slash16(ip: Ipv4Addr) -> u16 {
    let [a, b, _, _] = ip.octets();
    u16::from(a) << 8 | u16::from(b)
}

/// Writes `clients-{one,zipf,uniform}.txt` into `out` from the database at `db`.
pub fn write_sequences(db: &Path, out: &Path) -> Result<()> {
    let pool = pool(db)?;
    let mut rng = Rng(SEED ^ 0x5EED);

    // Zipf, s = 1: rank r (1-based) with probability ∝ 1/r, by inverse CDF.
    let cdf: Vec<f64> = pool
        .iter()
        .enumerate()
        .scan(0.0, |acc, (i, _)| {
            *acc += 1.0 / (i + 1) as f64;
            Some(*acc)
        })
        .collect();
    let total = cdf.last().copied().unwrap_or(1.0);
    let mut zipf = String::new();
    for _ in 0..ZIPF_REQUESTS {
        let u = rng.unit() * total;
        let rank = cdf.partition_point(|&c| c < u).min(pool.len() - 1);
        writeln!(zipf, "{}", pool[rank])?;
    }

    // Uniform rotation: a shuffle, then swaps so that neighbours never share a /16.
    let mut order = pool.clone();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for i in 1..order.len() {
        if slash16(order[i]) == slash16(order[i - 1]) {
            let j = (i + 1..order.len())
                .find(|&j| slash16(order[j]) != slash16(order[i - 1]))
                .context("cannot separate the /16s")?;
            order.swap(i, j);
        }
    }
    // The sequence wraps around: its last and first addresses are neighbours too.
    if slash16(order[0]) == slash16(order[order.len() - 1]) {
        order.rotate_left(1);
    }
    let uniform: String = order.iter().map(|ip| format!("{ip}\n")).collect();

    std::fs::write(out.join("clients-one.txt"), format!("{ONE_CLIENT}\n"))?;
    std::fs::write(out.join("clients-zipf.txt"), zipf)?;
    std::fs::write(out.join("clients-uniform.txt"), uniform)?;
    Ok(())
}

/// The wrk script sending `X-Forwarded-For` from the sequence in `list`
/// (each wrk thread starts at its own point of the sequence).
pub fn lua_script(list: &Path) -> String {
    format!(
        r#"-- Sends X-Forwarded-For from {list}, one address per request, in order.
local seq = {{}}
for line in io.lines("{list}") do seq[#seq + 1] = line end
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("start", threads * 100003)
end
local n = 0
function init(args)
  n = (start or 0) % #seq
end
request = function()
  n = n % #seq + 1
  return wrk.format("GET", "/", {{["X-Forwarded-For"] = seq[n]}})
end
"#,
        list = list.display()
    )
}
