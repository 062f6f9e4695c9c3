//! The records EdgeGuard emits, and their extraction from a data-section map.
//!
//! Only the fields that become headers are decoded; everything else in a
//! record (GeoNames ids, `registered_country`, `traits`, other languages) is
//! skipped without being decoded. A field that is present with the wrong type
//! is an error (the database is not what it claims to be), a missing field is
//! `None`. When a key appears twice in one map, the first counts.

use std::hash::BuildHasher;
use std::sync::Mutex;

use super::MmdbError;
use super::decoder::{Cursor, TYPE_ARRAY, TYPE_MAP, map_keys};
use super::source::{ByteSource, MultiplyHash};

/// Slots of a [`PlaceMemo`].
const PLACE_MEMO_SLOTS: usize = 32;

/// Memory a City reader's place memo holds when full, in wasm32 (32 slots of 40 bytes and their strings).
pub const PLACE_MEMO_BYTES: usize = 2048;

/// Recently decoded places (the `country` map, the `subdivisions` array)
/// by the data-section offset records point to them at. MaxMind's writers
/// store each distinct value once, so the networks of one country (region)
/// all point to the same one: decoding it again, ten-odd names in other
/// languages skipped one by one, cost a third of a City lookup's instructions.
/// Direct-mapped: a slot holds the last place whose offset hashed to it.
#[derive(Debug, Default)]
pub(crate) struct PlaceMemo {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    /// The language every slot was decoded in; a lookup in another empties them.
    language: String,
    slots: [Option<Memo>; PLACE_MEMO_SLOTS],
}

/// What decoding one place gave, and the question it answered.
#[derive(Debug)]
struct Memo {
    /// Data-section offset of the place's map (or array).
    at: u64,
    /// Which place ([`Place::map`]) and which of its parts ([`Place::parts`]).
    place: &'static str,
    parts: u8,
    /// Values the decode read, charged again on a hit ([`Cursor::charge_remembered`]).
    values: u32,
    decoded: Decoded,
}

/// A place's name and code.
type Decoded = (Option<String>, Option<String>);

impl PlaceMemo {
    fn slot(at: u64) -> usize {
        (MultiplyHash::default().hash_one(at) >> 59) as usize % PLACE_MEMO_SLOTS
    }

    /// The decode of `p` at `at` in `language`, and the values it read.
    fn get(&self, at: u64, p: &Place, language: &str) -> Option<(Decoded, u32)> {
        let slots = self.slots.lock().ok()?;
        if slots.language != language {
            return None;
        }
        match slots.slots.get(Self::slot(at)) {
            Some(Some(m)) if m.at == at && m.place == p.map && m.parts == p.parts() => {
                Some((m.decoded.clone(), m.values))
            }
            _ => None,
        }
    }

    fn put(&self, at: u64, p: &Place, language: &str, values: u32, decoded: &Decoded) {
        let Ok(mut slots) = self.slots.lock() else { return };
        if slots.language != language {
            *slots = Slots { language: language.to_string(), ..Slots::default() };
        }
        if let Some(slot) = slots.slots.get_mut(Self::slot(at)) {
            *slot = Some(Memo { at, place: p.map, parts: p.parts(), values, decoded: decoded.clone() });
        }
    }
}

/// The fields of a GeoIP2/GeoLite2 City or Country record that EdgeGuard
/// emits. Country databases have no subdivision, city, postal or location data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CityRecord {
    /// `country.iso_code`: ISO 3166-1 alpha-2, e.g. `SE`.
    pub country_iso_code: Option<String>,
    /// `country.names`, in the requested language or English.
    pub country_name: Option<String>,
    /// `continent.code`, e.g. `EU`.
    pub continent_code: Option<String>,
    /// `subdivisions[0].iso_code`: the largest subdivision, e.g. `E` (Östergötland).
    pub subdivision_iso_code: Option<String>,
    /// `subdivisions[0].names`, in the requested language or English.
    pub subdivision_name: Option<String>,
    /// `city.names`, in the requested language or English.
    pub city_name: Option<String>,
    /// `postal.code`.
    pub postal_code: Option<String>,
    /// `location.time_zone`: IANA name, e.g. `Europe/Stockholm`.
    pub time_zone: Option<String>,
    /// `location.latitude`.
    pub latitude: Option<f64>,
    /// `location.longitude`.
    pub longitude: Option<f64>,
    /// `location.accuracy_radius` in kilometres.
    pub accuracy_radius: Option<u16>,
}

/// Which parts of a City record to decode; the others are skipped unread
/// (a skipped pointer is not followed, so an unwanted `names` map costs no
/// read at all). Every header is a field here, and the default header set
/// (country, region, city) needs only three of them (issue #14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CityFields {
    /// `country.iso_code`.
    pub country_iso_code: bool,
    /// `country.names`.
    pub country_name: bool,
    /// `continent.code`.
    pub continent_code: bool,
    /// `subdivisions[0].iso_code`.
    pub subdivision_iso_code: bool,
    /// `subdivisions[0].names`.
    pub subdivision_name: bool,
    /// `city.names`.
    pub city_name: bool,
    /// `postal.code`.
    pub postal_code: bool,
    /// `location`: latitude, longitude, accuracy radius, time zone.
    pub location: bool,
}

impl CityFields {
    /// Every field of [`CityRecord`].
    pub const ALL: Self = Self {
        country_iso_code: true,
        country_name: true,
        continent_code: true,
        subdivision_iso_code: true,
        subdivision_name: true,
        city_name: true,
        postal_code: true,
        location: true,
    };
}

/// The fields of a GeoLite2-ASN or GeoIP2-ISP record that EdgeGuard emits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AsnRecord {
    /// `autonomous_system_number`.
    pub number: Option<u32>,
    /// `autonomous_system_organization`.
    pub organization: Option<String>,
}

/// Reads a value into `slot`, or skips it when an earlier duplicate key
/// already set the slot.
fn first<'s, S: ByteSource + ?Sized, T>(
    cur: &mut Cursor<'s, S>,
    slot: &mut Option<T>,
    read: impl FnOnce(&mut Cursor<'s, S>) -> Result<T, MmdbError>,
) -> Result<(), MmdbError> {
    match slot {
        Some(_) => cur.skip(),
        None => {
            *slot = Some(read(cur)?);
            Ok(())
        }
    }
}

map_keys! {
    /// The keys of a City or Country record that [`city`] decodes.
    RecordKey { Country = "country", Continent = "continent", Subdivisions = "subdivisions", City = "city",
        Postal = "postal", Location = "location" }
}

map_keys! {
    /// The keys of a record's `location` map.
    LocationKey { Latitude = "latitude", Longitude = "longitude", AccuracyRadius = "accuracy_radius",
        TimeZone = "time_zone" }
}

map_keys! {
    /// The keys of a GeoLite2-ASN or GeoIP2-ISP record.
    AsnKey { Number = "autonomous_system_number", Organization = "autonomous_system_organization" }
}

/// The parts of a place's map ([`Place`]): its `names`, its code (whose key depends on the place).
#[derive(Clone, Copy)]
enum PlacePart {
    Names,
    Code,
}

/// A map with `names` and/or a code: where to look and what to call it in errors.
struct Place {
    map: &'static str,
    /// The `names` map's field path, when the name is wanted.
    names: Option<&'static str>,
    /// The code's key and field path, when the code is wanted.
    code: Option<(&'static str, &'static str)>,
}

const COUNTRY: Place =
    Place { map: "country", names: Some("country.names"), code: Some(("iso_code", "country.iso_code")) };
const CONTINENT: Place = Place { map: "continent", names: None, code: Some(("code", "continent.code")) };
const SUBDIVISION: Place = Place {
    map: "subdivisions[0]",
    names: Some("subdivisions[0].names"),
    code: Some(("iso_code", "subdivisions[0].iso_code")),
};
const CITY: Place = Place { map: "city", names: Some("city.names"), code: None };

impl Place {
    /// Which parts are wanted: bit 1 the name, bit 0 the code.
    fn parts(&self) -> u8 {
        u8::from(self.names.is_some()) << 1 | u8::from(self.code.is_some())
    }
}

/// `p` with the name and/or code left out when not wanted.
fn wanted(p: &Place, name: bool, code: bool) -> Option<Place> {
    let p = Place { map: p.map, names: p.names.filter(|_| name), code: p.code.filter(|_| code) };
    (p.names.is_some() || p.code.is_some()).then_some(p)
}

/// Decodes the `want`ed fields of the city/country record at the cursor.
pub(crate) fn city<S: ByteSource + ?Sized>(
    cur: &mut Cursor<'_, S>,
    language: &str,
    want: CityFields,
    memo: &PlaceMemo,
) -> Result<CityRecord, MmdbError> {
    // A value reached through a pointer decodes the same way every time:
    // remember it by the pointer's target. Cities are left out: nearly every
    // network's city is its own, so they would only push the others out.
    let memoized = |cur: &mut Cursor<'_, S>,
                    p: &Place,
                    decode: &dyn Fn(&mut Cursor<'_, S>) -> Result<Decoded, MmdbError>|
     -> Result<Decoded, MmdbError> {
        let Some(at) = cur.peek_pointer()? else { return decode(cur) };
        if let Some((decoded, values)) = memo.get(at, p, language) {
            // As if decoded: the same values charged (the skip reads the pointer's).
            cur.charge_remembered(values.saturating_sub(1))?;
            cur.skip()?;
            return Ok(decoded);
        }
        let before = cur.values_read();
        let decoded = decode(cur)?;
        memo.put(at, p, language, cur.values_read() - before, &decoded);
        Ok(decoded)
    };
    let country = wanted(&COUNTRY, want.country_name, want.country_iso_code);
    let continent = wanted(&CONTINENT, false, want.continent_code);
    let subdivision = wanted(&SUBDIVISION, want.subdivision_name, want.subdivision_iso_code);
    let city_place = wanted(&CITY, want.city_name, false);
    let mut r = CityRecord::default();
    let mut seen = [false; RecordKey::KEYS.len()];
    let map = cur.enter(TYPE_MAP, "record")?;
    for _ in 0..map.entries {
        let key = cur.key(RecordKey::KEYS)?;
        // Only the first of duplicate keys counts.
        let fresh = key.and_then(|k| seen.get_mut(k as usize)).is_some_and(|s| !std::mem::replace(s, true));
        match key.filter(|_| fresh) {
            Some(RecordKey::Country) if country.is_some() => {
                if let Some(p) = &country {
                    (r.country_name, r.country_iso_code) = memoized(cur, p, &|c| place(c, p, language))?;
                }
            }
            Some(RecordKey::Continent) if continent.is_some() => {
                (_, r.continent_code) = memoized(cur, &CONTINENT, &|c| place(c, &CONTINENT, language))?
            }
            Some(RecordKey::Subdivisions) if subdivision.is_some() => {
                if let Some(p) = &subdivision {
                    (r.subdivision_name, r.subdivision_iso_code) =
                        memoized(cur, p, &|c| first_subdivision(c, p, language))?;
                }
            }
            Some(RecordKey::City) if city_place.is_some() => (r.city_name, _) = place(cur, &CITY, language)?,
            Some(RecordKey::Postal) if want.postal_code => {
                let postal = cur.enter(TYPE_MAP, "postal")?;
                for _ in 0..postal.entries {
                    match cur.key(&[("code", ())])? {
                        Some(_) => first(cur, &mut r.postal_code, |c| c.string("postal.code"))?,
                        None => cur.skip()?,
                    }
                }
                cur.leave(postal);
            }
            Some(RecordKey::Location) if want.location => location(cur, &mut r)?,
            _ => cur.skip()?,
        }
    }
    cur.leave(map);
    Ok(r)
}

/// The `subdivisions` array: the name and code of its first entry.
fn first_subdivision<S: ByteSource + ?Sized>(
    cur: &mut Cursor<'_, S>,
    p: &Place,
    language: &str,
) -> Result<Decoded, MmdbError> {
    let mut decoded = (None, None);
    let list = cur.enter(TYPE_ARRAY, "subdivisions")?;
    for i in 0..list.entries {
        match i {
            0 => decoded = place(cur, p, language)?,
            _ => cur.skip()?,
        }
    }
    cur.leave(list);
    Ok(decoded)
}

/// Reads the map described by `p`: its name (in `language`, else English) and its code.
fn place<S: ByteSource + ?Sized>(
    cur: &mut Cursor<'_, S>,
    p: &Place,
    language: &str,
) -> Result<Decoded, MmdbError> {
    let (mut name, mut code) = (None, None);
    let mut names_seen = false;
    // Without a wanted code, `names` stands in for its key: `key` returns
    // the first match, so `Code` then never comes back.
    let keys = [("names", PlacePart::Names), (p.code.map_or("names", |(key, _)| key), PlacePart::Code)];
    let map = cur.enter(TYPE_MAP, p.map)?;
    for _ in 0..map.entries {
        match (cur.key(&keys)?, p.names, p.code) {
            (Some(PlacePart::Names), Some(what), _) if !names_seen => {
                names_seen = true;
                name = names(cur, what, language)?;
            }
            (Some(PlacePart::Code), _, Some((_, what))) => first(cur, &mut code, |c| c.string(what))?,
            _ => cur.skip()?,
        }
    }
    cur.leave(map);
    Ok((name, code))
}

/// A `names` map: the name in `language`, else in English.
fn names<S: ByteSource + ?Sized>(
    cur: &mut Cursor<'_, S>,
    what: &str,
    language: &str,
) -> Result<Option<String>, MmdbError> {
    let (mut wanted, mut english) = (None, None);
    let map = cur.enter(TYPE_MAP, what)?;
    for _ in 0..map.entries {
        // `true` for `language`: the first match wins when it is `en`.
        match cur.key(&[(language, true), ("en", false)])? {
            Some(true) => first(cur, &mut wanted, |c| c.string(what))?,
            Some(false) => first(cur, &mut english, |c| c.string(what))?,
            None => cur.skip()?,
        }
    }
    cur.leave(map);
    Ok(wanted.or(english))
}

fn location<S: ByteSource + ?Sized>(cur: &mut Cursor<'_, S>, r: &mut CityRecord) -> Result<(), MmdbError> {
    let map = cur.enter(TYPE_MAP, "location")?;
    for _ in 0..map.entries {
        match cur.key(LocationKey::KEYS)? {
            Some(LocationKey::Latitude) => first(cur, &mut r.latitude, |c| c.float("location.latitude"))?,
            Some(LocationKey::Longitude) => first(cur, &mut r.longitude, |c| c.float("location.longitude"))?,
            Some(LocationKey::AccuracyRadius) => {
                first(cur, &mut r.accuracy_radius, |c| c.uint("location.accuracy_radius"))?
            }
            Some(LocationKey::TimeZone) => first(cur, &mut r.time_zone, |c| c.string("location.time_zone"))?,
            None => cur.skip()?,
        }
    }
    cur.leave(map);
    Ok(())
}

/// Decodes the ASN/ISP record at the cursor.
pub(crate) fn asn<S: ByteSource + ?Sized>(cur: &mut Cursor<'_, S>) -> Result<AsnRecord, MmdbError> {
    let mut r = AsnRecord::default();
    let map = cur.enter(TYPE_MAP, "record")?;
    for _ in 0..map.entries {
        match cur.key(AsnKey::KEYS)? {
            Some(AsnKey::Number) => first(cur, &mut r.number, |c| c.uint("autonomous_system_number"))?,
            Some(AsnKey::Organization) => {
                first(cur, &mut r.organization, |c| c.string("autonomous_system_organization"))?
            }
            None => cur.skip()?,
        }
    }
    cur.leave(map);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmdb::testutil::{V, encode, header_bytes, map, s};

    fn decode_city(value: &V, language: &str) -> Result<CityRecord, String> {
        let mut bytes = Vec::new();
        encode(value, &mut bytes);
        let mut cur = Cursor::new(bytes.as_slice(), 0, bytes.len() as u64, 0);
        city(&mut cur, language, CityFields::ALL, &PlaceMemo::default()).map_err(|e| e.to_string())
    }

    fn names(pairs: &[(&str, &str)]) -> V {
        V::Map(pairs.iter().map(|(k, v)| (k.to_string(), s(v))).collect())
    }

    fn full() -> V {
        map([
            (
                "city",
                map([
                    ("geoname_id", V::U32(2694762)),
                    ("names", names(&[("de", "Linköping"), ("en", "Linkoping")])),
                ]),
            ),
            ("continent", map([("code", s("EU")), ("names", names(&[("en", "Europe")]))])),
            (
                "country",
                map([("iso_code", s("SE")), ("names", names(&[("en", "Sweden"), ("ja", "スウェーデン")]))]),
            ),
            (
                "location",
                map([
                    ("accuracy_radius", V::U16(50)),
                    ("latitude", V::F64(58.4167)),
                    ("longitude", V::F64(15.6167)),
                    ("metro_code", V::U16(0)),
                    ("time_zone", s("Europe/Stockholm")),
                ]),
            ),
            ("postal", map([("code", s("582 22"))])),
            ("registered_country", map([("iso_code", s("DE"))])),
            (
                "subdivisions",
                V::Arr(vec![
                    map([("iso_code", s("E")), ("names", names(&[("en", "Östergötland County")]))]),
                    map([("iso_code", s("X")), ("names", names(&[("en", "Second")]))]),
                ]),
            ),
            ("traits", map([("is_anycast", V::Bool(false)), ("big", V::U128(u128::MAX))])),
        ])
    }

    /// Issue #14: only the wanted fields are decoded; each subset gives
    /// exactly the full decode's values for its fields.
    #[test]
    fn only_wanted_fields_are_decoded() {
        let none = CityFields {
            country_iso_code: false,
            country_name: false,
            continent_code: false,
            subdivision_iso_code: false,
            subdivision_name: false,
            city_name: false,
            postal_code: false,
            location: false,
        };
        let mut bytes = Vec::new();
        encode(&full(), &mut bytes);
        let decode = |want| {
            let mut cur = Cursor::new(bytes.as_slice(), 0, bytes.len() as u64, 0);
            city(&mut cur, "en", want, &PlaceMemo::default()).unwrap()
        };
        let all = decode(CityFields::ALL);
        let cases: [(&str, CityFields, CityRecord); 4] = [
            ("nothing", none, CityRecord::default()),
            (
                "default headers: country, region, city",
                CityFields { country_iso_code: true, subdivision_iso_code: true, city_name: true, ..none },
                CityRecord {
                    country_iso_code: all.country_iso_code.clone(),
                    subdivision_iso_code: all.subdivision_iso_code.clone(),
                    city_name: all.city_name.clone(),
                    ..Default::default()
                },
            ),
            (
                "names only",
                CityFields { country_name: true, subdivision_name: true, ..none },
                CityRecord {
                    country_name: all.country_name.clone(),
                    subdivision_name: all.subdivision_name.clone(),
                    ..Default::default()
                },
            ),
            (
                "location and postal",
                CityFields { location: true, postal_code: true, continent_code: true, ..none },
                CityRecord {
                    continent_code: all.continent_code.clone(),
                    postal_code: all.postal_code.clone(),
                    latitude: all.latitude,
                    longitude: all.longitude,
                    accuracy_radius: all.accuracy_radius,
                    time_zone: all.time_zone.clone(),
                    ..Default::default()
                },
            ),
        ];
        for (desc, want, expected) in cases {
            assert_eq!(decode(want), expected, "{desc}");
        }
        assert!(all.country_iso_code.is_some() && all.city_name.is_some() && all.time_zone.is_some());
    }

    #[test]
    fn city_fields_and_language_fallback() {
        struct Case {
            desc: &'static str,
            value: V,
            language: &'static str,
            want: Result<CityRecord, &'static str>,
        }
        let sweden = |city: &str, country: &str| CityRecord {
            country_iso_code: Some("SE".into()),
            country_name: Some(country.into()),
            continent_code: Some("EU".into()),
            subdivision_iso_code: Some("E".into()),
            subdivision_name: Some("Östergötland County".into()),
            city_name: Some(city.into()),
            postal_code: Some("582 22".into()),
            time_zone: Some("Europe/Stockholm".into()),
            latitude: Some(58.4167),
            longitude: Some(15.6167),
            accuracy_radius: Some(50),
        };
        let cases = [
            Case { desc: "english", value: full(), language: "en", want: Ok(sweden("Linkoping", "Sweden")) },
            Case {
                desc: "german city, english country",
                value: full(),
                language: "de",
                want: Ok(sweden("Linköping", "Sweden")),
            },
            Case {
                desc: "japanese country",
                value: full(),
                language: "ja",
                want: Ok(sweden("Linkoping", "スウェーデン")),
            },
            Case {
                desc: "unknown language",
                value: full(),
                language: "xx",
                want: Ok(sweden("Linkoping", "Sweden")),
            },
            Case { desc: "empty map", value: map([]), language: "en", want: Ok(CityRecord::default()) },
            Case {
                desc: "country database",
                value: map([
                    ("country", map([("iso_code", s("JP"))])),
                    ("continent", map([("code", s("AS"))])),
                ]),
                language: "en",
                want: Ok(CityRecord {
                    country_iso_code: Some("JP".into()),
                    continent_code: Some("AS".into()),
                    ..CityRecord::default()
                }),
            },
            Case {
                desc: "only a non-english name",
                value: map([("city", map([("names", names(&[("ja", "東京")]))]))]),
                language: "de",
                want: Ok(CityRecord::default()),
            },
            Case {
                desc: "duplicate keys: first wins, second not even type-checked",
                value: map([
                    ("country", map([("iso_code", s("AA")), ("iso_code", V::U16(1))])),
                    ("country", V::U16(7)),
                ]),
                language: "en",
                want: Ok(CityRecord { country_iso_code: Some("AA".into()), ..CityRecord::default() }),
            },
            Case {
                desc: "record not a map",
                value: s("x"),
                language: "en",
                want: Err("expected map for `record`, found utf8_string at offset 0"),
            },
            Case {
                desc: "iso code wrong type",
                value: map([("country", map([("iso_code", V::U32(5))]))]),
                language: "en",
                want: Err("expected utf8_string for `country.iso_code`, found uint32"),
            },
            Case {
                desc: "subdivisions not an array",
                value: map([("subdivisions", map([]))]),
                language: "en",
                want: Err("expected array for `subdivisions`, found map"),
            },
            Case {
                desc: "accuracy radius too big",
                value: map([("location", map([("accuracy_radius", V::U32(70_000))]))]),
                language: "en",
                want: Err("value 70000 for `location.accuracy_radius` is out of range"),
            },
            Case {
                desc: "latitude as string",
                value: map([("location", map([("latitude", s("1.0"))]))]),
                language: "en",
                want: Err("expected a double for `location.latitude`, found utf8_string"),
            },
        ];
        for c in cases {
            let got = decode_city(&c.value, c.language);
            match (got, c.want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "case {}", c.desc),
                (Err(got), Err(want)) => assert!(got.contains(want), "case {}: {got}", c.desc),
                (got, want) => panic!("case {}: got {got:?}, want {want:?}", c.desc),
            }
        }
    }

    #[test]
    fn pointers_to_shared_values() {
        // Data section: 0: "en"; 3: names map {"en": "Tokyo"} with the key as a pointer;
        // then the record, whose keys and values point back.
        let mut bytes = Vec::new();
        encode(&s("en"), &mut bytes);
        let names_at = bytes.len() as u32;
        header_bytes(TYPE_MAP, 1, &mut bytes);
        encode(&V::Ptr(0), &mut bytes);
        encode(&s("Tokyo"), &mut bytes);
        let record_at = bytes.len() as u64;
        encode(
            &map([("city", map([("names", V::Ptr(names_at))])), ("country", map([("iso_code", s("JP"))]))]),
            &mut bytes,
        );
        let mut cur = Cursor::new(bytes.as_slice(), 0, bytes.len() as u64, record_at);
        let got = city(&mut cur, "ja", CityFields::ALL, &PlaceMemo::default()).unwrap();
        assert_eq!(got.city_name.as_deref(), Some("Tokyo"));
        assert_eq!(got.country_iso_code.as_deref(), Some("JP"), "resumed after the pointer");
    }

    #[test]
    fn asn_fields() {
        struct Case {
            desc: &'static str,
            value: V,
            want: Result<AsnRecord, &'static str>,
        }
        let cases = [
            Case {
                desc: "both",
                value: map([
                    ("autonomous_system_number", V::U32(64_512)),
                    ("autonomous_system_organization", s("Example AB")),
                ]),
                want: Ok(AsnRecord { number: Some(64_512), organization: Some("Example AB".into()) }),
            },
            Case {
                desc: "isp extras",
                value: map([
                    ("isp", s("x")),
                    ("autonomous_system_number", V::U64(13_335)),
                    ("organization", s("y")),
                ]),
                want: Ok(AsnRecord { number: Some(13_335), organization: None }),
            },
            Case {
                desc: "number too big",
                value: map([("autonomous_system_number", V::U64(1 << 33))]),
                want: Err("value 8589934592 for `autonomous_system_number` is out of range"),
            },
        ];
        for c in cases {
            let mut bytes = Vec::new();
            encode(&c.value, &mut bytes);
            let mut cur = Cursor::new(bytes.as_slice(), 0, bytes.len() as u64, 0);
            match (asn(&mut cur).map_err(|e| e.to_string()), c.want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "case {}", c.desc),
                (Err(got), Err(want)) => assert!(got.contains(want), "case {}: {got}", c.desc),
                (got, want) => panic!("case {}: got {got:?}, want {want:?}", c.desc),
            }
        }
    }
}
