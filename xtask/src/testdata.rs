//! `cargo xtask testdata`: the small GeoIP test databases in `testdata/geo/`,
//! generated from the committed `testdata/geo/source.json`.
//!
//! The output is reproducible byte for byte: the build epoch comes from the
//! source instead of the clock, networks are inserted in a fixed order, and
//! mmdb-writer lays out its tree and data section deterministically (maps are
//! ordered). So a committed `.mmdb` that no longer matches its source is caught
//! by `--check` and by this module's tests (which `cargo xtask test` runs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use mmdb_writer::ipnet::IpNet;
use mmdb_writer::{IpVersion, Ipv4Aliasing, ReservedNetworks, Writer};
use serde::{Deserialize, Serialize};

/// The folder holding the source and the generated databases, relative to the workspace root.
pub const DIR: &str = "testdata/geo";
const SOURCE: &str = "source.json";
/// Written into every database's metadata, so nobody mistakes the files for MaxMind data.
const DESCRIPTION: &str = "EdgeGuard synthetic test data from testdata/geo/source.json; not MaxMind data";

/// `cargo xtask testdata [--check]`: writes the databases, or with `check`
/// regenerates them into a scratch folder and fails if a committed file differs.
pub fn run(root: &Path, check: bool) -> Result<()> {
    let dir = root.join(DIR);
    let dbs = generate(&load(&dir)?)?;
    if !check {
        for db in &dbs {
            std::fs::write(dir.join(db.file), &db.bytes)?;
            println!("wrote {DIR}/{}: {}", db.file, db.summary());
        }
        return Ok(());
    }
    // Kept on failure so the fresh files can be inspected or diffed.
    let scratch = root.join("target/tmp/testdata-check");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let mut stale = Vec::new();
    for db in &dbs {
        std::fs::write(scratch.join(db.file), &db.bytes)?;
        match std::fs::read(dir.join(db.file)) {
            Ok(committed) if committed == db.bytes => {
                println!("up to date: {DIR}/{}: {}", db.file, db.summary())
            }
            Ok(committed) => {
                stale.push(format!("{} ({} bytes, expected {})", db.file, committed.len(), db.bytes.len()))
            }
            Err(e) => stale.push(format!("{} ({e})", db.file)),
        }
    }
    if !stale.is_empty() {
        bail!(
            "stale generated files in {DIR}: {}\nrun `cargo xtask testdata` and commit the result; \
             fresh copies are in {}",
            stale.join(", "),
            scratch.display()
        );
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

/// One generated database.
#[derive(Debug)]
pub struct Database {
    /// File name inside [`DIR`].
    pub file: &'static str,
    /// The metadata `database_type`.
    pub database_type: &'static str,
    /// The metadata `ip_version`: 4 or 6.
    pub ip_version: u8,
    /// How many networks were inserted.
    pub networks: usize,
    /// The `.mmdb` file.
    pub bytes: Vec<u8>,
}

impl Database {
    fn summary(&self) -> String {
        format!(
            "{}, IPv{} tree, {} networks, {} bytes",
            self.database_type,
            self.ip_version,
            self.networks,
            self.bytes.len()
        )
    }
}

/// `source.json`. Every list entry needs a `comment` saying what it is for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Documentation only.
    #[allow(dead_code)]
    comment: String,
    /// Seconds since the Unix epoch written as `build_epoch`; pinned for reproducible output.
    build_epoch: u64,
    /// The locales of every `names` map (the metadata `languages` of City and Country).
    languages: Vec<String>,
    /// GeoLite2-City records; the Country database is projected from their IPv4 entries.
    city: Vec<Entry<CityRecord>>,
    /// GeoLite2-ASN records.
    asn: Vec<Entry<AsnRecord>>,
    /// Networks with no City (and so no Country) data; checked to overlap no City entry.
    unassigned: Vec<Unassigned>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry<R> {
    comment: String,
    network: String,
    record: R,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Unassigned {
    comment: String,
    network: String,
}

type Names = BTreeMap<String, String>;

// The record types mirror MaxMind's GeoLite2 layout and, through their Rust
// types, its MMDB types: u32 → uint32, u16 → uint16, f64 → double. An absent
// `Option` is left out of the record, as MaxMind leaves out unknown fields.

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CityRecord {
    continent: Option<Continent>,
    country: Option<Country>,
    registered_country: Option<Country>,
    subdivisions: Option<Vec<Subdivision>>,
    city: Option<City>,
    postal: Option<Postal>,
    location: Option<Location>,
}

/// The GeoLite2-Country record: the country-level part of a City record.
#[derive(Serialize)]
struct CountryRecord<'a> {
    continent: Option<&'a Continent>,
    country: Option<&'a Country>,
    registered_country: Option<&'a Country>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Continent {
    code: String,
    geoname_id: u32,
    names: Names,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Country {
    geoname_id: u32,
    /// Present (and true) only for EU members, as in GeoLite2.
    is_in_european_union: Option<bool>,
    iso_code: String,
    names: Names,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Subdivision {
    geoname_id: u32,
    iso_code: String,
    names: Names,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct City {
    geoname_id: u32,
    names: Names,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Postal {
    code: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Location {
    accuracy_radius: u16,
    latitude: f64,
    longitude: f64,
    time_zone: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AsnRecord {
    autonomous_system_number: u32,
    autonomous_system_organization: String,
}

impl CityRecord {
    /// Every `names` map, labelled for error messages.
    fn names(&self) -> Vec<(String, &Names)> {
        let mut all = Vec::new();
        all.extend(self.continent.as_ref().map(|c| ("continent".to_owned(), &c.names)));
        all.extend(self.country.as_ref().map(|c| ("country".to_owned(), &c.names)));
        all.extend(self.registered_country.as_ref().map(|c| ("registered_country".to_owned(), &c.names)));
        for (i, s) in self.subdivisions.iter().flatten().enumerate() {
            all.push((format!("subdivisions[{i}]"), &s.names));
        }
        all.extend(self.city.as_ref().map(|c| ("city".to_owned(), &c.names)));
        all
    }
}

/// Reads and parses `source.json` in `dir`.
pub fn load(dir: &Path) -> Result<Source> {
    let path = dir.join(SOURCE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Checks `source` and builds the City, ASN and Country databases from it.
pub fn generate(source: &Source) -> Result<Vec<Database>> {
    let city = networks("city", &source.city)?;
    let asn = networks("asn", &source.asn)?;
    for (i, u) in source.unassigned.iter().enumerate() {
        let net = parse_network(&format!("unassigned[{i}]"), &u.network, &u.comment)?;
        if let Some((c, _)) = city.iter().find(|(c, _)| c.contains(&net) || net.contains(c)) {
            bail!("unassigned[{i}]: {net} overlaps city network {c}");
        }
    }
    for (net, record) in &city {
        for (field, names) in record.names() {
            ensure!(names.contains_key("en"), "city {net}: {field}.names has no `en` name");
            if let Some(lang) = names.keys().find(|l| !source.languages.contains(l)) {
                bail!("city {net}: {field}.names has language `{lang}`, not in `languages`");
            }
        }
    }
    let epoch = UNIX_EPOCH + Duration::from_secs(source.build_epoch);
    let languages = || source.languages.iter().map(String::as_str);

    // IPv6 trees with the IPv4 data also reachable as ::ffff:a.b.c.d (and the
    // 6to4 and Teredo forms), as in MaxMind's own databases.
    let mut city_db = Writer::builder("GeoLite2-City")
        .ip_version(IpVersion::V6)
        .ipv4_aliasing(Ipv4Aliasing::Enabled)
        .reserved_networks(ReservedNetworks::Included)
        .languages(languages())
        .description(&[("en", DESCRIPTION)])
        .build_epoch(epoch)
        .build();
    let mut asn_db = Writer::builder("GeoLite2-ASN")
        .ip_version(IpVersion::V6)
        .ipv4_aliasing(Ipv4Aliasing::Enabled)
        .reserved_networks(ReservedNetworks::Included)
        .languages(["en"])
        .description(&[("en", DESCRIPTION)])
        .build_epoch(epoch)
        .build();
    // An IPv4-only tree, for variety: readers must refuse IPv6 lookups in it.
    let mut country_db = Writer::builder("GeoLite2-Country")
        .ip_version(IpVersion::V4)
        .reserved_networks(ReservedNetworks::Included)
        .languages(languages())
        .description(&[("en", DESCRIPTION)])
        .build_epoch(epoch)
        .build();

    let mut country_networks = 0;
    for (net, record) in &city {
        city_db.insert(*net, *record).with_context(|| format!("city {net}"))?;
        if net.addr().is_ipv4() {
            let projected = CountryRecord {
                continent: record.continent.as_ref(),
                country: record.country.as_ref(),
                registered_country: record.registered_country.as_ref(),
            };
            country_db.insert(*net, &projected).with_context(|| format!("country {net}"))?;
            country_networks += 1;
        }
    }
    for (net, record) in &asn {
        asn_db.insert(*net, *record).with_context(|| format!("asn {net}"))?;
    }
    let db = |file, database_type, ip_version, networks, writer: &Writer| -> Result<Database> {
        Ok(Database { file, database_type, ip_version, networks, bytes: writer.to_bytes()? })
    };
    Ok(vec![
        db("GeoLite2-City-Test.mmdb", "GeoLite2-City", 6, city.len(), &city_db)?,
        db("GeoLite2-ASN-Test.mmdb", "GeoLite2-ASN", 6, asn.len(), &asn_db)?,
        db("GeoLite2-Country-Test.mmdb", "GeoLite2-Country", 4, country_networks, &country_db)?,
    ])
}

/// The entries' networks, checked, in insertion order: wider networks first, so
/// a nested, more specific network overrides its parent (the writer's last
/// insert wins) whatever the order in the source.
fn networks<'a, R>(section: &str, entries: &'a [Entry<R>]) -> Result<Vec<(IpNet, &'a R)>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let net = parse_network(&format!("{section}[{i}]"), &e.network, &e.comment)?;
        ensure!(seen.insert(net), "{section}[{i}]: network {net} is listed twice");
        out.push((net, &e.record));
    }
    out.sort_by_key(|(net, _)| (net.addr().is_ipv6(), net.prefix_len()));
    Ok(out)
}

fn parse_network(at: &str, network: &str, comment: &str) -> Result<IpNet> {
    let net: IpNet = network.parse().with_context(|| format!("{at}: `{network}` is not a CIDR network"))?;
    ensure!(net == net.trunc(), "{at}: `{network}` has host bits set; write `{}`", net.trunc());
    ensure!(!comment.trim().is_empty(), "{at} ({net}): `comment` is empty; say what the entry is for");
    Ok(net)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use maxminddb::{Reader, geoip2};
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

    use super::*;

    fn generated() -> Vec<Database> {
        generate(&load(&crate::root().join(DIR)).expect("source.json loads")).expect("source.json generates")
    }

    fn reader(dbs: &[Database], file: &str) -> Reader<Vec<u8>> {
        let db = dbs.iter().find(|d| d.file == file).expect("database generated");
        Reader::from_source(db.bytes.clone()).expect("generated database opens")
    }

    #[test]
    fn committed_databases_match_source() {
        for db in generated() {
            let committed = std::fs::read(crate::root().join(DIR).join(db.file)).unwrap_or_default();
            assert!(committed == db.bytes, "{DIR}/{} is stale: run `cargo xtask testdata`", db.file);
        }
    }

    #[test]
    fn output_is_reproducible() {
        let (a, b) = (generated(), generated());
        for (a, b) in a.iter().zip(&b) {
            assert!(a.bytes == b.bytes, "{} differs between two runs", a.file);
        }
    }

    #[test]
    fn metadata() {
        let dbs = generated();
        for (file, database_type, ip_version, languages) in [
            ("GeoLite2-City-Test.mmdb", "GeoLite2-City", 6, vec!["de", "en", "fr", "ja", "pt-BR"]),
            ("GeoLite2-ASN-Test.mmdb", "GeoLite2-ASN", 6, vec!["en"]),
            ("GeoLite2-Country-Test.mmdb", "GeoLite2-Country", 4, vec!["de", "en", "fr", "ja", "pt-BR"]),
        ] {
            let reader = reader(&dbs, file);
            let m = reader.metadata();
            assert_eq!(m.database_type, database_type, "{file}");
            assert_eq!(m.ip_version, ip_version, "{file}");
            assert_eq!(m.languages, languages, "{file}");
            assert_eq!(m.build_epoch, 1_735_689_600, "{file}: 2025-01-01T00:00:00Z");
            reader.verify().unwrap_or_else(|e| panic!("{file} fails verification: {e}"));
        }
    }

    /// What the README documents for a test address.
    struct Case {
        ip: &'static str,
        country: Option<&'static str>,
        region: Option<&'static str>,
        city: Option<&'static str>,
        postal: Option<&'static str>,
        lat_lon: Option<(f64, f64)>,
        asn: Option<u32>,
        network: Option<&'static str>,
    }

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        Case { ip: "203.0.113.10", country: Some("SE"), region: Some("E"), city: Some("Linköping"), postal: Some("582 22"), lat_lon: Some((58.4109, 15.6216)), asn: Some(64496), network: Some("203.0.113.0/24") },
        Case { ip: "::ffff:203.0.113.10", country: Some("SE"), region: Some("E"), city: Some("Linköping"), postal: Some("582 22"), lat_lon: Some((58.4109, 15.6216)), asn: Some(64496), network: Some("::ffff:203.0.113.0/120") },
        Case { ip: "2002:cb00:710a::1", country: Some("SE"), region: Some("E"), city: Some("Linköping"), postal: Some("582 22"), lat_lon: Some((58.4109, 15.6216)), asn: Some(64496), network: Some("2002:cb00:7100::/40") },
        Case { ip: "192.0.2.1", country: Some("US"), region: None, city: None, postal: None, lat_lon: Some((37.751, -97.822)), asn: None, network: Some("192.0.2.0/24") },
        Case { ip: "198.51.100.42", country: Some("CH"), region: Some("ZH"), city: Some("Zurich"), postal: Some("8001"), lat_lon: Some((47.3769, 8.5417)), asn: Some(64497), network: Some("198.51.100.0/25") },
        Case { ip: "198.51.100.200", country: None, region: None, city: None, postal: None, lat_lon: None, asn: Some(64497), network: None },
        Case { ip: "81.2.1.1", country: Some("GB"), region: None, city: None, postal: None, lat_lon: None, asn: Some(65536), network: Some("81.2.0.0/18") },
        Case { ip: "81.2.69.1", country: Some("GB"), region: Some("ENG"), city: None, postal: None, lat_lon: Some((51.4964, -0.1224)), asn: Some(65536), network: Some("81.2.69.0/25") },
        Case { ip: "81.2.69.160", country: Some("GB"), region: Some("ENG"), city: Some("London"), postal: None, lat_lon: Some((51.5142, -0.0931)), asn: Some(65536), network: Some("81.2.69.160/27") },
        Case { ip: "81.2.69.191", country: Some("GB"), region: Some("ENG"), city: Some("London"), postal: None, lat_lon: Some((51.5142, -0.0931)), asn: Some(65536), network: Some("81.2.69.160/27") },
        Case { ip: "81.2.69.192", country: Some("GB"), region: Some("ENG"), city: None, postal: None, lat_lon: Some((51.4964, -0.1224)), asn: Some(65536), network: Some("81.2.69.192/26") },
        Case { ip: "2001:db8:1::1", country: Some("JP"), region: Some("13"), city: Some("Tokyo"), postal: Some("100-0001"), lat_lon: Some((35.6895, 139.6917)), asn: Some(64498), network: Some("2001:db8:1::/48") },
        Case { ip: "2001:db8:2::1", country: Some("BR"), region: Some("SP"), city: Some("São Paulo"), postal: Some("01310"), lat_lon: Some((-23.5475, -46.6361)), asn: Some(64499), network: Some("2001:db8:2::/48") },
        Case { ip: "2001:db8:3::1", country: Some("ES"), region: Some("AN"), city: Some("Málaga"), postal: Some("29001"), lat_lon: Some((36.7202, -4.4203)), asn: None, network: Some("2001:db8:3::/48") },
        Case { ip: "2001:db8:4::1", country: None, region: None, city: None, postal: None, lat_lon: None, asn: None, network: Some("2001:db8:4::/48") },
        Case { ip: "2a02:cf47:ffff::1", country: Some("NO"), region: None, city: None, postal: None, lat_lon: Some((62.0, 10.0)), asn: Some(65551), network: Some("2a02:cf44::/30") },
        Case { ip: "2a02:cf40:ab00::1", country: Some("NO"), region: Some("03"), city: Some("Oslo"), postal: Some("0150"), lat_lon: Some((59.9127, 10.7461)), asn: Some(65551), network: Some("2a02:cf40:ab00::/40") },
        Case { ip: "2a02:cf48::1", country: None, region: None, city: None, postal: None, lat_lon: None, asn: None, network: None },
        Case { ip: "2001:db8:ffff::1", country: None, region: None, city: None, postal: None, lat_lon: None, asn: None, network: None },
        Case { ip: "10.1.2.3", country: None, region: None, city: None, postal: None, lat_lon: None, asn: None, network: None },
    ];

    #[test]
    fn documented_addresses() {
        let dbs = generated();
        let city_db = reader(&dbs, "GeoLite2-City-Test.mmdb");
        let asn_db = reader(&dbs, "GeoLite2-ASN-Test.mmdb");
        let country_db = reader(&dbs, "GeoLite2-Country-Test.mmdb");
        for c in CASES {
            let ip: IpAddr = c.ip.parse().expect("test address");
            let found = city_db.lookup(ip).expect("city lookup");
            let network = found.has_data().then(|| found.network().expect("network").to_string());
            assert_eq!(network.as_deref(), c.network, "{}: city network", c.ip);
            let city: geoip2::City<'_> = found.decode().expect("city decodes").unwrap_or_default();
            assert_eq!(city.country.iso_code, c.country, "{}: country", c.ip);
            assert_eq!(city.subdivisions.first().and_then(|s| s.iso_code), c.region, "{}: region", c.ip);
            assert_eq!(city.city.names.english, c.city, "{}: city", c.ip);
            assert_eq!(city.postal.code, c.postal, "{}: postal", c.ip);
            let lat_lon = city.location.latitude.zip(city.location.longitude);
            assert_eq!(lat_lon, c.lat_lon, "{}: latitude, longitude", c.ip);

            let asn: Option<geoip2::Asn<'_>> = asn_db.lookup(ip).expect("asn lookup").decode().expect("asn");
            assert_eq!(asn.and_then(|a| a.autonomous_system_number), c.asn, "{}: asn", c.ip);

            // The Country database is the IPv4 part of City, minus the finer fields,
            // and refuses IPv6 lookups (IPv4-mapped included) outright.
            match ip {
                IpAddr::V4(_) => {
                    let country: Option<geoip2::Country<'_>> =
                        country_db.lookup(ip).expect("country lookup").decode().expect("country");
                    let iso = country.as_ref().and_then(|r| r.country.iso_code);
                    assert_eq!(iso, c.country, "{}: Country database", c.ip);
                }
                IpAddr::V6(_) => {
                    assert!(country_db.lookup(ip).is_err(), "{}: IPv6 in an IPv4 database", c.ip)
                }
            }
        }
    }

    #[test]
    fn languages_and_fallback() {
        let dbs = generated();
        let city_db = reader(&dbs, "GeoLite2-City-Test.mmdb");
        let lookup = |ip: &str| -> serde_json::Value {
            city_db.lookup(ip.parse().unwrap()).unwrap().decode().unwrap().expect("found")
        };
        let linkoping = lookup("203.0.113.10");
        assert_eq!(linkoping["city"]["names"]["ja"], "リンシェーピング");
        assert_eq!(linkoping["country"]["names"]["pt-BR"], "Suécia");
        assert_eq!(linkoping["subdivisions"][0]["names"]["en"], "Östergötland County");
        assert!(linkoping["subdivisions"][0]["names"].get("ja").is_none(), "ja falls back to en");
        assert_eq!(linkoping["country"]["is_in_european_union"], true);
        assert_eq!(lookup("198.51.100.42")["city"]["names"]["de"], "Zürich");
        assert_eq!(lookup("198.51.100.42")["registered_country"]["iso_code"], "DE");
        assert_eq!(lookup("2001:db8:1::1")["city"]["names"]["ja"], "東京");
        assert_eq!(lookup("2001:db8:3::1")["subdivisions"][1]["iso_code"], "MA");
        let anycast = lookup("2001:db8:4::1");
        assert!(anycast.get("country").is_none());
        assert_eq!(anycast["registered_country"]["iso_code"], "FR");
    }

    #[test]
    fn rejects_bad_sources() {
        let city = |network: &str, lang: &str| {
            format!(
                r#"{{"comment": "c", "network": "{network}", "record": {{"city": {{"geoname_id": 1, "names": {{"{lang}": "X"}}}}}}}}"#
            )
        };
        let source = |entries: &[String], unassigned: &str| {
            format!(
                r#"{{"comment": "", "build_epoch": 0, "languages": ["en"], "city": [{}], "asn": [],
                    "unassigned": [{{"comment": "c", "network": "{unassigned}"}}]}}"#,
                entries.join(",")
            )
        };
        let cases = [
            (
                source(&[city("192.0.2.1/24", "en")], "10.0.0.0/8"),
                "`192.0.2.1/24` has host bits set; write `192.0.2.0/24`",
            ),
            (source(&[city("192.0.2.0/33", "en")], "10.0.0.0/8"), "`192.0.2.0/33` is not a CIDR network"),
            (
                source(&[city("192.0.2.0/24", "en"), city("192.0.2.0/24", "en")], "10.0.0.0/8"),
                "network 192.0.2.0/24 is listed twice",
            ),
            (source(&[city("192.0.2.0/24", "de")], "10.0.0.0/8"), "city.names has no `en` name"),
            (
                source(&[city("192.0.2.0/24", "en")], "192.0.2.128/25"),
                "192.0.2.128/25 overlaps city network 192.0.2.0/24",
            ),
            (source(&[city("::ffff:0:0/120", "en")], "10.0.0.0/8"), "city ::ffff:0.0.0.0/120"),
        ];
        for (json, want) in cases {
            let parsed: Source = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
            let err = format!("{:#}", generate(&parsed).expect_err(want));
            assert!(err.contains(want), "error {err:?} should contain {want:?}");
        }
        let unknown = source(&[city("192.0.2.0/24", "en")], "10.0.0.0/8").replace("\"asn\"", "\"asm\"");
        assert!(serde_json::from_str::<Source>(&unknown).is_err(), "unknown fields are rejected");
    }

    /// An MMDB value reduced to its type, as MaxMind's specification names them.
    #[derive(Debug)]
    enum Typed {
        Leaf(&'static str),
        Map(BTreeMap<String, Typed>),
        Array(Vec<Typed>),
    }

    impl<'de> Deserialize<'de> for Typed {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Typed;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an MMDB value")
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Typed, E> {
                    Ok(Typed::Leaf("boolean"))
                }
                fn visit_u16<E: de::Error>(self, _: u16) -> Result<Typed, E> {
                    Ok(Typed::Leaf("uint16"))
                }
                fn visit_u32<E: de::Error>(self, _: u32) -> Result<Typed, E> {
                    Ok(Typed::Leaf("uint32"))
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<Typed, E> {
                    Ok(Typed::Leaf("uint64"))
                }
                fn visit_i32<E: de::Error>(self, _: i32) -> Result<Typed, E> {
                    Ok(Typed::Leaf("int32"))
                }
                fn visit_f32<E: de::Error>(self, _: f32) -> Result<Typed, E> {
                    Ok(Typed::Leaf("float"))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<Typed, E> {
                    Ok(Typed::Leaf("double"))
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Typed, E> {
                    Ok(Typed::Leaf("utf8_string"))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Typed, A::Error> {
                    let mut items = Vec::new();
                    while let Some(item) = seq.next_element()? {
                        items.push(item);
                    }
                    Ok(Typed::Array(items))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Typed, A::Error> {
                    let mut entries = BTreeMap::new();
                    while let Some((k, v)) = map.next_entry::<String, Typed>()? {
                        entries.insert(k, v);
                    }
                    Ok(Typed::Map(entries))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// `path: type` lines; array indices become `[]` and name languages `*`.
    fn shape(value: &Typed, path: &str, out: &mut BTreeSet<String>) {
        match value {
            Typed::Leaf(t) => {
                out.insert(format!("{path}: {t}"));
            }
            Typed::Array(items) => items.iter().for_each(|v| shape(v, &format!("{path}[]"), out)),
            Typed::Map(entries) => {
                for (k, v) in entries {
                    let k = if path.ends_with("names") { "*" } else { k };
                    let sub = if path.is_empty() { k.to_owned() } else { format!("{path}.{k}") };
                    shape(v, &sub, out);
                }
            }
        }
    }

    fn record_shape(reader: &Reader<Vec<u8>>, ip: &str) -> Vec<String> {
        let typed: Typed = reader.lookup(ip.parse().unwrap()).unwrap().decode().unwrap().expect("found");
        let mut out = BTreeSet::new();
        shape(&typed, "", &mut out);
        out.into_iter().collect()
    }

    /// The demo records carry exactly MaxMind's GeoLite2 fields with MaxMind's types.
    #[test]
    fn maxmind_field_types() {
        let dbs = generated();
        let city_db = reader(&dbs, "GeoLite2-City-Test.mmdb");
        let country = [
            "geoname_id: uint32",
            "is_in_european_union: boolean",
            "iso_code: utf8_string",
            "names.*: utf8_string",
        ];
        let mut want: Vec<String> = [
            "city.geoname_id: uint32",
            "city.names.*: utf8_string",
            "continent.code: utf8_string",
            "continent.geoname_id: uint32",
            "continent.names.*: utf8_string",
            "location.accuracy_radius: uint16",
            "location.latitude: double",
            "location.longitude: double",
            "location.time_zone: utf8_string",
            "postal.code: utf8_string",
            "subdivisions[].geoname_id: uint32",
            "subdivisions[].iso_code: utf8_string",
            "subdivisions[].names.*: utf8_string",
        ]
        .into_iter()
        .map(String::from)
        .chain(country.iter().flat_map(|f| [format!("country.{f}"), format!("registered_country.{f}")]))
        .collect();
        want.sort();
        assert_eq!(record_shape(&city_db, "203.0.113.10"), want);

        let asn_db = reader(&dbs, "GeoLite2-ASN-Test.mmdb");
        assert_eq!(
            record_shape(&asn_db, "203.0.113.10"),
            ["autonomous_system_number: uint32", "autonomous_system_organization: utf8_string"]
        );
        let country_db = reader(&dbs, "GeoLite2-Country-Test.mmdb");
        let top: BTreeSet<String> = record_shape(&country_db, "203.0.113.10")
            .iter()
            .map(|line| line.split(['.', ':']).next().unwrap().to_owned())
            .collect();
        assert_eq!(top, BTreeSet::from(["continent", "country", "registered_country"].map(String::from)));
    }
}
