//! EdgeGuard's on-demand MaxMind DB reader (`edgeguard::mmdb`) against the
//! `maxminddb` crate, field by field and prefix by prefix.
//!
//! Databases are generated here with `mmdb-writer` (record sizes 24/28/32,
//! IPv4-only and IPv6 trees, nested networks, non-ASCII names, missing
//! fields, several languages), then every random address, every inserted
//! network's first and last address and the addresses just outside, and the
//! boundaries of every network `maxminddb` reports are looked up through both
//! a `Vec<u8>` source and a `FileSource` with a 16 KiB cache (so pages are
//! evicted all the time). The committed `testdata/geo/*.mmdb` and, when
//! present, `target/geodata/GeoLite2-City.mmdb` get the same treatment.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use edgeguard::mmdb::{AsnRecord, ByteSource, CityFields, CityRecord, FileSource, Lookup, Reader};
use maxminddb::PathElement::{Index, Key};
use mmdb_writer::ipnet::IpNet;
use mmdb_writer::{IpVersion, RecordSize, Value, Writer};

const LANGUAGES: [&str; 6] = ["en", "de", "ja", "pt-BR", "fr", "xx"];

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn v6(&mut self) -> u128 {
        u128::from(self.next()) << 64 | u128::from(self.next())
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    City,
    Asn,
}

fn names(rng: &mut Rng, options: &[&[(&str, &str)]]) -> Value {
    let pick = options[rng.below(options.len() as u64) as usize];
    // Each language present with probability 2/3, so "en" is sometimes missing too.
    let entries: Vec<(&str, Value)> =
        pick.iter().filter(|_| rng.below(3) > 0).map(|(lang, name)| (*lang, Value::from(*name))).collect();
    Value::map(entries)
}

const CITIES: &[&[(&str, &str)]] = &[
    &[("en", "Linkoping"), ("de", "Linköping"), ("fr", "Linköping"), ("ja", "リンシェーピング")],
    &[("en", "Sao Paulo"), ("pt-BR", "São Paulo"), ("de", "São Paulo"), ("ja", "サンパウロ")],
    &[("en", "Tokyo"), ("ja", "東京"), ("de", "Tokio"), ("fr", "Tokyo")],
    &[("en", "Zürich"), ("de", "Zürich"), ("fr", "Zurich")],
];
const COUNTRIES: &[&[(&str, &str)]] = &[
    &[("en", "Sweden"), ("de", "Schweden"), ("ja", "スウェーデン王国"), ("pt-BR", "Suécia")],
    &[("en", "Brazil"), ("pt-BR", "Brasil"), ("fr", "Brésil")],
    &[("en", "Japan"), ("ja", "日本"), ("de", "Japan")],
];

/// A GeoLite2-shaped City record with random fields missing, plus fields
/// EdgeGuard must skip (ids, `registered_country`, `traits`, odd types).
fn city_record(rng: &mut Rng) -> Value {
    let mut top: Vec<(&str, Value)> = Vec::new();
    if rng.chance(85) {
        let mut c = vec![("geoname_id", Value::from(2_661_886u32)), ("names", names(rng, COUNTRIES))];
        if rng.chance(90) {
            c.push(("iso_code", Value::from(["SE", "BR", "JP", "ÅX"][rng.below(4) as usize])));
        }
        c.push(("is_in_european_union", Value::from(rng.chance(50))));
        top.push(("country", Value::map(c)));
        top.push(("registered_country", Value::map([("iso_code", Value::from("DE"))])));
    }
    if rng.chance(80) {
        top.push((
            "continent",
            Value::map([
                ("code", Value::from(["EU", "SA", "AS"][rng.below(3) as usize])),
                ("names", names(rng, &[&[("en", "Europe"), ("de", "Europa")]])),
            ]),
        ));
    }
    if rng.chance(70) {
        let n = rng.below(3);
        let subs: Vec<Value> = (0..n)
            .map(|i| {
                let mut s = vec![("geoname_id", Value::from(2_685_867u32 + i as u32))];
                if rng.chance(80) {
                    s.push(("iso_code", Value::from(["E", "SP", "13", "AB"][rng.below(4) as usize])));
                }
                s.push((
                    "names",
                    names(
                        rng,
                        &[
                            &[("en", "Östergötland County"), ("de", "Östergötland")],
                            &[("en", "Tokyo"), ("ja", "東京都")],
                        ],
                    ),
                ));
                Value::map(s)
            })
            .collect();
        top.push(("subdivisions", Value::array(subs)));
    }
    if rng.chance(70) {
        top.push((
            "city",
            Value::map([("geoname_id", Value::from(2_694_762u32)), ("names", names(rng, CITIES))]),
        ));
    }
    if rng.chance(50) {
        top.push((
            "postal",
            Value::map([("code", Value::from(["582 22", "01000-000", "100-0001"][rng.below(3) as usize]))]),
        ));
    }
    if rng.chance(75) {
        let mut l = vec![("metro_code", Value::from(0u16))];
        if rng.chance(90) {
            l.push(("latitude", Value::from(rng.below(18_000) as f64 / 100.0 - 90.0)));
            l.push(("longitude", Value::from(rng.below(36_000) as f64 / 100.0 - 180.0)));
        }
        if rng.chance(80) {
            l.push(("accuracy_radius", Value::from(rng.below(1001) as u16)));
        }
        if rng.chance(80) {
            l.push((
                "time_zone",
                Value::from(["Europe/Stockholm", "America/Sao_Paulo", "Asia/Tokyo"][rng.below(3) as usize]),
            ));
        }
        top.push(("location", Value::map(l)));
    }
    top.push((
        "traits",
        Value::map([
            ("is_anycast", Value::from(rng.chance(10))),
            (
                "odd",
                Value::array([
                    Value::from(u128::MAX),
                    Value::from(-5i32),
                    Value::from(1.5f32),
                    Value::from(vec![0u8, 1, 2]),
                ]),
            ),
        ]),
    ));
    Value::map(top)
}

fn asn_record(rng: &mut Rng) -> Value {
    let mut top: Vec<(&str, Value)> = Vec::new();
    if rng.chance(90) {
        top.push(("autonomous_system_number", Value::from(rng.below(400_000) as u32)));
    }
    if rng.chance(85) {
        let orgs = ["Example AB", "Telefônica Brasil S.A", "株式会社テスト", "ACME, Inc."];
        top.push(("autonomous_system_organization", Value::from(orgs[rng.below(4) as usize])));
    }
    if rng.chance(20) {
        top.push(("isp", Value::from("Some ISP")));
    }
    Value::map(top)
}

/// Whether mmdb-writer keeps this IPv6 network for itself (IPv4 subtree and its aliases).
fn reserved_v6(first16: u128) -> bool {
    matches!(first16, 0 | 0x2001 | 0x2002)
}

/// Random networks, broad ones first so narrower ones nest inside them.
fn networks(rng: &mut Rng, ip_version: u16) -> Vec<IpNet> {
    let mut nets: Vec<IpNet> = [
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.2.0/24",
        "10.1.2.128/25",
        "10.1.2.200/32",
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "0.0.0.0/32",
        "255.255.255.255/32",
        "128.0.0.0/1",
    ]
    .iter()
    .map(|n| n.parse().unwrap())
    .collect();
    for _ in 0..300 {
        let len = 8 + rng.below(25) as u8;
        let addr = Ipv4Addr::from(rng.next() as u32);
        nets.push(IpNet::new(IpAddr::V4(addr), len).unwrap().trunc());
    }
    if ip_version == 6 {
        for n in ["2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64", "2001:db8:1:2::1/128", "2a00::/12"]
        {
            nets.push(n.parse().unwrap());
        }
        while nets.len() < 700 {
            let bits = rng.v6();
            if reserved_v6(bits >> 112) {
                continue;
            }
            let len = 16 + rng.below(113) as u8;
            nets.push(IpNet::new(IpAddr::V6(Ipv6Addr::from(bits)), len).unwrap().trunc());
        }
    }
    nets.sort_by_key(|n| n.prefix_len());
    nets
}

fn generate(kind: Kind, ip_version: u16, record_size: RecordSize, seed: u64) -> (Vec<u8>, Vec<IpNet>) {
    let mut rng = Rng(seed);
    let mut writer = Writer::builder(match kind {
        Kind::City => "EdgeGuard-Diff-City",
        Kind::Asn => "EdgeGuard-Diff-ASN",
    })
    .ip_version(if ip_version == 4 { IpVersion::V4 } else { IpVersion::V6 })
    .record_size(record_size)
    .languages(["de", "en", "fr", "ja", "pt-BR"])
    .build_epoch(UNIX_EPOCH + Duration::from_secs(1_735_689_600))
    .build();
    let nets = networks(&mut rng, ip_version);
    for net in &nets {
        let value = match kind {
            Kind::City => city_record(&mut rng),
            Kind::Asn => asn_record(&mut rng),
        };
        writer.insert_value(*net, value).unwrap_or_else(|e| panic!("insert {net}: {e}"));
    }
    (writer.to_bytes().unwrap(), nets)
}

/// What `maxminddb` says, in EdgeGuard's terms.
fn oracle_city(
    mm: &maxminddb::Reader<Vec<u8>>,
    ip: IpAddr,
    language: &str,
) -> Result<Lookup<CityRecord>, String> {
    let Some((res, prefix_len)) = oracle_lookup(mm, ip)? else {
        return Ok(Lookup { record: None, prefix_len: 0 });
    };
    if !res.has_data() {
        return Ok(Lookup { record: None, prefix_len });
    }
    let s = |path: &[maxminddb::PathElement<'_>]| res.decode_path::<String>(path).map_err(|e| e.to_string());
    let name = |path: &[&str]| -> Result<Option<String>, String> {
        let mut p: Vec<_> = path.iter().map(|k| Key(k)).collect();
        p.push(Key(language));
        if let Some(v) = s(&p)? {
            return Ok(Some(v));
        }
        *p.last_mut().unwrap() = Key("en");
        s(&p)
    };
    let sub_name = {
        let p = |lang| [Key("subdivisions"), Index(0), Key("names"), Key(lang)];
        match s(&p(language))? {
            Some(v) => Some(v),
            None => s(&p("en"))?,
        }
    };
    let f = |k| res.decode_path::<f64>(&[Key("location"), Key(k)]).map_err(|e| e.to_string());
    let record = CityRecord {
        country_iso_code: s(&[Key("country"), Key("iso_code")])?,
        country_name: name(&["country", "names"])?,
        continent_code: s(&[Key("continent"), Key("code")])?,
        subdivision_iso_code: s(&[Key("subdivisions"), Index(0), Key("iso_code")])?,
        subdivision_name: sub_name,
        city_name: name(&["city", "names"])?,
        postal_code: s(&[Key("postal"), Key("code")])?,
        time_zone: s(&[Key("location"), Key("time_zone")])?,
        latitude: f("latitude")?,
        longitude: f("longitude")?,
        accuracy_radius: res
            .decode_path::<u16>(&[Key("location"), Key("accuracy_radius")])
            .map_err(|e| e.to_string())?,
    };
    Ok(Lookup { record: Some(record), prefix_len })
}

fn oracle_asn(mm: &maxminddb::Reader<Vec<u8>>, ip: IpAddr) -> Result<Lookup<AsnRecord>, String> {
    let Some((res, prefix_len)) = oracle_lookup(mm, ip)? else {
        return Ok(Lookup { record: None, prefix_len: 0 });
    };
    if !res.has_data() {
        return Ok(Lookup { record: None, prefix_len });
    }
    let record = AsnRecord {
        number: res.decode_path(&[Key("autonomous_system_number")]).map_err(|e| e.to_string())?,
        organization: res.decode_path(&[Key("autonomous_system_organization")]).map_err(|e| e.to_string())?,
    };
    Ok(Lookup { record: Some(record), prefix_len })
}

type MmLookup<'a> = maxminddb::LookupResult<'a, Vec<u8>>;

/// The `maxminddb` lookup for `ip` and the prefix EdgeGuard must report, or
/// `None` where EdgeGuard's contract differs on purpose: an IPv6 address in an
/// IPv4 database is "not found, /0" for EdgeGuard and an error for `maxminddb`.
/// IPv4-mapped addresses are looked up as IPv4 (prefix + 96).
fn oracle_lookup(mm: &maxminddb::Reader<Vec<u8>>, ip: IpAddr) -> Result<Option<(MmLookup<'_>, u8)>, String> {
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return Ok(oracle_lookup(mm, IpAddr::V4(v4))?.map(|(res, len)| (res, len + 96)));
        }
        if mm.metadata().ip_version == 4 {
            return Ok(None);
        }
    }
    let res = mm.lookup(ip).map_err(|e| e.to_string())?;
    let net = res.network().map_err(|e| e.to_string())?;
    // An IPv4 address answered by an IPv6 network above the IPv4 subtree: all of IPv4 shares it.
    let prefix_len = if ip.is_ipv4() && net.is_ipv6() { 0 } else { net.prefix() };
    Ok(Some((res, prefix_len)))
}

/// One of EdgeGuard's readers, named by its source in mismatch reports.
type OurLookup<'a> = Box<dyn Fn(IpAddr, &str) -> Result<Rec, String> + 'a>;

struct Checker<'a> {
    name: String,
    kind: Kind,
    mm: maxminddb::Reader<Vec<u8>>,
    ours: Vec<(&'static str, OurLookup<'a>)>,
    compared: usize,
    mismatches: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Rec {
    City(Lookup<CityRecord>),
    Asn(Lookup<AsnRecord>),
}

/// The fields of a City record decoded by one of two lookups, the other by the second.
const HALF: CityFields = CityFields {
    country_iso_code: true,
    country_name: false,
    continent_code: false,
    subdivision_iso_code: false,
    subdivision_name: true,
    city_name: true,
    postal_code: false,
    location: true,
};

/// [`ours`] as two lookups on one reader, one for [`HALF`] and one for the
/// other fields, merged: the reader's memo and lookup state must not let one
/// question's answer leak into another's.
fn ours_in_halves<S: ByteSource>(
    reader: &Reader<S>,
    kind: Kind,
    ip: IpAddr,
    language: &str,
) -> Result<Rec, String> {
    if kind == Kind::Asn {
        return ours(reader, kind, ip, language);
    }
    let other = CityFields {
        country_iso_code: !HALF.country_iso_code,
        country_name: !HALF.country_name,
        continent_code: !HALF.continent_code,
        subdivision_iso_code: !HALF.subdivision_iso_code,
        subdivision_name: !HALF.subdivision_name,
        city_name: !HALF.city_name,
        postal_code: !HALF.postal_code,
        location: !HALF.location,
    };
    let a = reader.lookup_city_fields(ip, language, HALF).map_err(|e| e.to_string())?;
    let b = reader.lookup_city_fields(ip, language, other).map_err(|e| e.to_string())?;
    let record = match (a.record, b.record) {
        (Some(a), Some(b)) => Some(CityRecord {
            country_iso_code: a.country_iso_code,
            country_name: b.country_name,
            continent_code: b.continent_code,
            subdivision_iso_code: b.subdivision_iso_code,
            subdivision_name: a.subdivision_name,
            city_name: a.city_name,
            postal_code: b.postal_code,
            time_zone: a.time_zone,
            latitude: a.latitude,
            longitude: a.longitude,
            accuracy_radius: a.accuracy_radius,
        }),
        (None, None) => None,
        (a, b) => return Err(format!("one half found a record, the other not: {a:?} / {b:?}")),
    };
    if a.prefix_len != b.prefix_len {
        return Err(format!("prefix lengths {} and {} for the two halves", a.prefix_len, b.prefix_len));
    }
    Ok(Rec::City(Lookup { record, prefix_len: a.prefix_len }))
}

fn ours<S: ByteSource>(reader: &Reader<S>, kind: Kind, ip: IpAddr, language: &str) -> Result<Rec, String> {
    match kind {
        Kind::City => reader.lookup_city(ip, language).map(Rec::City),
        Kind::Asn => reader.lookup_asn(ip).map(Rec::Asn),
    }
    .map_err(|e| e.to_string())
}

impl Checker<'_> {
    fn check(&mut self, ip: IpAddr, language: &str) {
        let want = match self.kind {
            Kind::City => oracle_city(&self.mm, ip, language).map(Rec::City),
            Kind::Asn => oracle_asn(&self.mm, ip).map(Rec::Asn),
        };
        for (source, lookup) in &self.ours {
            let got = lookup(ip, language);
            if got != want && self.mismatches.len() < 20 {
                self.mismatches.push(format!(
                    "{} [{source}] {ip} lang {language}:\n  ours:      {got:?}\n  maxminddb: {want:?}",
                    self.name
                ));
            }
        }
        self.compared += 1;
    }

    /// `ip`, and the first and last address of the network maxminddb puts it
    /// in, and the addresses just outside that network.
    fn check_with_boundaries(&mut self, ip: IpAddr, language: &str) {
        self.check(ip, language);
        let net = match self.mm.lookup(ip).and_then(|r| r.network()) {
            Ok(net) => net,
            Err(_) => return,
        };
        if ip.is_ipv4() != net.is_ipv4() {
            return;
        }
        for addr in boundaries(net.network(), net.broadcast()) {
            self.check(addr, language);
        }
    }

    fn finish(self) -> usize {
        assert!(
            self.mismatches.is_empty(),
            "{} mismatches (first {}):\n{}",
            self.name,
            self.mismatches.len(),
            self.mismatches.join("\n")
        );
        println!("{}: {} addresses compared, 0 mismatches", self.name, self.compared);
        self.compared
    }
}

fn boundaries(first: IpAddr, last: IpAddr) -> Vec<IpAddr> {
    let mut out = vec![first, last];
    match (first, last) {
        (IpAddr::V4(f), IpAddr::V4(l)) => {
            out.extend(u32::from(f).checked_sub(1).map(|a| IpAddr::V4(a.into())));
            out.extend(u32::from(l).checked_add(1).map(|a| IpAddr::V4(a.into())));
        }
        (IpAddr::V6(f), IpAddr::V6(l)) => {
            out.extend(u128::from(f).checked_sub(1).map(|a| IpAddr::V6(a.into())));
            out.extend(u128::from(l).checked_add(1).map(|a| IpAddr::V6(a.into())));
        }
        _ => {}
    }
    out
}

fn temp_db(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
    f
}

/// Random addresses: half uniformly random, half inside (or near) known networks.
fn random_addresses(rng: &mut Rng, count: usize, nets: &[IpNet], v6: bool) -> Vec<IpAddr> {
    (0..count)
        .map(|i| {
            let want_v6 = v6 && i % 2 == 1;
            let candidates: Vec<&IpNet> =
                nets.iter().filter(|n| matches!(n, IpNet::V6(_)) == want_v6).collect();
            if rng.chance(50) || candidates.is_empty() {
                return if want_v6 {
                    IpAddr::V6(rng.v6().into())
                } else {
                    IpAddr::V4((rng.next() as u32).into())
                };
            }
            match candidates[rng.below(candidates.len() as u64) as usize] {
                IpNet::V4(n) => {
                    let host = (rng.next() as u32) >> n.prefix_len().min(31);
                    IpAddr::V4(u32::from(n.network()).wrapping_add(host).into())
                }
                IpNet::V6(n) => {
                    let host = rng.v6() >> n.prefix_len().min(127);
                    IpAddr::V6(u128::from(n.network()).wrapping_add(host).into())
                }
            }
        })
        .collect()
}

fn run(name: String, kind: Kind, bytes: Vec<u8>, nets: &[IpNet], random: usize, seed: u64) -> usize {
    let file = temp_db(&bytes);
    let by_vec = Reader::new(bytes.clone()).unwrap();
    let by_file = Reader::new(FileSource::open(file.path(), 16 * 1024).unwrap()).unwrap();
    // One reader per language, so that its memo of decoded places is hit
    // (the other readers see the language change at every lookup).
    let per_language: Vec<(&str, Reader<Vec<u8>>)> =
        LANGUAGES.iter().map(|&lang| (lang, Reader::new(bytes.clone()).unwrap())).collect();
    let reader_for = |lang: &str| &per_language.iter().find(|(l, _)| *l == lang).unwrap().1;
    let mm = maxminddb::Reader::from_source(bytes).unwrap();
    assert_eq!(by_vec.metadata().node_count, mm.metadata().node_count, "{name}");
    assert_eq!(by_vec.metadata().build_epoch, mm.metadata().build_epoch, "{name}");
    assert_eq!(by_vec.metadata().database_type, mm.metadata().database_type, "{name}");
    let v6 = mm.metadata().ip_version == 6;
    let mut checker = Checker {
        name,
        kind,
        mm,
        ours: vec![
            ("vec", Box::new(|ip, lang: &str| ours(&by_vec, kind, ip, lang))),
            ("file", Box::new(|ip, lang: &str| ours(&by_file, kind, ip, lang))),
            (
                "per language, in halves",
                Box::new(|ip, lang: &str| ours_in_halves(reader_for(lang), kind, ip, lang)),
            ),
        ],
        compared: 0,
        mismatches: Vec::new(),
    };
    let mut rng = Rng(seed);
    for (i, net) in nets.iter().enumerate() {
        for addr in boundaries(net.network(), net.broadcast()) {
            checker.check(addr, LANGUAGES[i % LANGUAGES.len()]);
        }
    }
    for (i, ip) in random_addresses(&mut rng, random, nets, v6).into_iter().enumerate() {
        let language = LANGUAGES[i % LANGUAGES.len()];
        if i % 16 == 0 {
            checker.check_with_boundaries(ip, language);
        } else {
            checker.check(ip, language);
        }
        if let (IpAddr::V4(v4), 0) = (ip, i % 10) {
            checker.check(IpAddr::V6(v4.to_ipv6_mapped()), language);
        }
    }
    assert!(by_file.source().cached_bytes() <= 16 * 1024);
    checker.finish()
}

/// Every record size and both record kinds in one tree shape.
fn generated(ip_version: u16) {
    let mut total = 0;
    let mut seed = 0x5EED_0000 + u64::from(ip_version) * 100;
    for record_size in [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32] {
        for kind in [Kind::City, Kind::Asn] {
            seed += 1;
            let (bytes, nets) = generate(kind, ip_version, record_size, seed);
            let name = format!("{kind:?} v{ip_version} {}-bit", record_size.bits());
            // 100 000 random addresses for the City database with the most
            // common record size; the other shapes differ only in how a node
            // is unpacked (or in the record decoded), and 20 000 cover that.
            let random =
                if kind == Kind::City && record_size == RecordSize::Bits28 { 100_000 } else { 20_000 };
            total += run(name, kind, bytes, &nets, random, seed);
        }
    }
    println!("generated IPv{ip_version} databases: {total} addresses compared");
}

#[test]
fn generated_ipv4_databases_match_maxminddb() {
    generated(4);
}

#[test]
fn generated_ipv6_databases_match_maxminddb() {
    generated(6);
}

fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/geo")
}

/// Networks `maxminddb` lists, as EdgeGuard-side IpNets (IPv4 subtree entries as IPv4).
fn listed_networks(bytes: Vec<u8>) -> Vec<IpNet> {
    let mm = maxminddb::Reader::from_source(bytes).unwrap();
    let mut out = Vec::new();
    for item in mm.networks(Default::default()).unwrap() {
        let net = item.unwrap().network().unwrap();
        out.push(IpNet::new(net.ip(), net.prefix()).unwrap().trunc());
    }
    out
}

#[test]
fn committed_test_databases_match_maxminddb() {
    let mut checked = BTreeMap::new();
    let dir = testdata_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "mmdb")).collect();
    paths.sort();
    for (i, path) in paths.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let kind = if Reader::new(bytes.clone()).unwrap().metadata().database_type.contains("ASN") {
            Kind::Asn
        } else {
            Kind::City
        };
        let nets = listed_networks(bytes.clone());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let n = run(name.clone(), kind, bytes, &nets, 20_000, 0xDA7A + i as u64);
        checked.insert(name, n);
    }
    println!("testdata/geo: {checked:?}");
    for committed in ["GeoLite2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb"] {
        assert!(checked.contains_key(committed), "{committed} was not checked: {checked:?}");
    }
}

#[test]
fn real_geolite2_city_matches_maxminddb() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/geodata/GeoLite2-City.mmdb");
    let Ok(bytes) = std::fs::read(&path) else {
        println!("notice: {} is absent (run `cargo xtask geodata`); skipping", path.display());
        return;
    };
    let by_vec = Reader::new(bytes.clone()).unwrap();
    // The configuration EdgeGuard runs with: a 2 MiB page cache.
    let by_file = Reader::new(FileSource::open(&path, 2 << 20).unwrap()).unwrap();
    let mm = maxminddb::Reader::from_source(bytes).unwrap();
    let mut checker = Checker {
        name: "GeoLite2-City".into(),
        kind: Kind::City,
        mm,
        ours: vec![
            ("vec", Box::new(|ip, lang: &str| ours(&by_vec, Kind::City, ip, lang))),
            ("file", Box::new(|ip, lang: &str| ours(&by_file, Kind::City, ip, lang))),
        ],
        compared: 0,
        mismatches: Vec::new(),
    };
    let mut rng = Rng(0x6E0_11FE);
    let languages = ["en", "de", "ja", "pt-BR", "zh-CN", "fr", "ru", "es", "xx"];
    for i in 0..100_000usize {
        let ip = if i % 2 == 0 {
            IpAddr::V4((rng.next() as u32).into())
        } else {
            // Most allocated IPv6 space is in 2000::/4; a uniform draw would almost never hit it.
            IpAddr::V6((0x2000u128 << 112 | rng.v6() >> 4).into())
        };
        let language = languages[i % languages.len()];
        if i % 8 == 0 {
            checker.check_with_boundaries(ip, language);
        } else {
            checker.check(ip, language);
        }
    }
    assert!(by_file.source().cached_bytes() <= 2 << 20);
    checker.finish();
}
