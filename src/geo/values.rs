//! Turning database records into header values: which field, and how it is
//! written (ASCII-safe by default).

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::config::ValueEncoding;
use crate::mmdb::{AsnRecord, CityRecord};

/// Control characters can never go into a header; `%` is encoded too so a
/// percent-encoded value decodes unambiguously. Non-ASCII is always encoded.
const PERCENT: &AsciiSet = &CONTROLS.add(b'%');

/// One geo header field: its position in [`FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Field {
    /// Country ISO code.
    Country,
    /// Country name.
    CountryName,
    /// Continent code.
    Continent,
    /// Region ISO code.
    Region,
    /// Region name.
    RegionName,
    /// City name.
    City,
    /// Postal code.
    PostalCode,
    /// Latitude.
    Latitude,
    /// Longitude.
    Longitude,
    /// Accuracy radius (km).
    AccuracyRadius,
    /// Time zone.
    TimeZone,
    /// AS number.
    Asn,
    /// AS organisation.
    AsnOrg,
}

/// Which database supplies a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// `geo.database` (GeoLite2-City or -Country).
    City,
    /// `geo.asnDatabase` (GeoLite2-ASN).
    Asn,
}

/// Everything EdgeGuard knows about one geo field.
#[derive(Debug)]
pub struct FieldSpec {
    /// The field (its position in [`FIELDS`]).
    pub field: Field,
    /// Its key under `geo.headers`.
    pub key: &'static str,
    /// The usual header name: the default of the fields on by default, what
    /// the docs suggest for the others, and stripped from clients whether or
    /// not this config sets it. Constants, not `String`s: every wasm instance
    /// reads them at init (issue #14).
    pub usual_header: &'static str,
    /// Whether the field has a header unless configured off (issue #14).
    pub on_by_default: bool,
    /// The database that supplies it.
    pub db: DbKind,
}

/// The one table of geo fields, indexed by [`Field`]: the config keys, the
/// default header set, the headers stripped from clients and which database
/// each field needs all come from here.
pub const FIELDS: [FieldSpec; 13] = {
    const fn row(
        field: Field,
        key: &'static str,
        usual_header: &'static str,
        on: bool,
        db: DbKind,
    ) -> FieldSpec {
        FieldSpec { field, key, usual_header, on_by_default: on, db }
    }
    use DbKind::{Asn, City};
    let fields = [
        row(Field::Country, "country", "X-Geo-Country", true, City),
        row(Field::CountryName, "countryName", "X-Geo-Country-Name", false, City),
        row(Field::Continent, "continent", "X-Geo-Continent", false, City),
        row(Field::Region, "region", "X-Geo-Region", true, City),
        row(Field::RegionName, "regionName", "X-Geo-Region-Name", false, City),
        row(Field::City, "city", "X-Geo-City", true, City),
        row(Field::PostalCode, "postalCode", "X-Geo-Postal-Code", false, City),
        row(Field::Latitude, "latitude", "X-Geo-Latitude", false, City),
        row(Field::Longitude, "longitude", "X-Geo-Longitude", false, City),
        row(Field::AccuracyRadius, "accuracyRadius", "X-Geo-Accuracy-Radius", false, City),
        row(Field::TimeZone, "timeZone", "X-Geo-Time-Zone", false, City),
        row(Field::Asn, "asn", "X-Geo-ASN", true, Asn),
        row(Field::AsnOrg, "asnOrg", "X-Geo-ASN-Org", true, Asn),
    ];
    // `FIELDS[field as usize]` is the field's row: checked at compile time.
    let mut i = 0;
    while i < fields.len() {
        assert!(fields[i].field as usize == i, "FIELDS rows follow the order of Field");
        i += 1;
    }
    fields
};

/// Header values for one lookup, packed into one shared allocation per
/// network (the lookup cache holds thousands): each present field is its
/// code (`a` + field index) followed by the encoded value and `\n`. Encoded
/// values never contain control characters, so `\n` cannot occur inside one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values(std::sync::Arc<str>);

impl Values {
    /// No data (not in the database).
    pub fn empty() -> Self {
        Self(std::sync::Arc::from(""))
    }

    /// Whether the lookup found nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `field`, if the record had it.
    #[cfg(test)]
    pub fn get(&self, field: Field) -> Option<&str> {
        self.fields()[field as usize]
    }

    /// Every field's value (index = `Field as usize`), unpacked in one pass:
    /// the per-request path reads them all.
    pub fn fields(&self) -> [Option<&str>; FIELDS.len()] {
        let mut out = [None; FIELDS.len()];
        // A byte loop: `split_terminator` cost four times as much per cache hit.
        let mut start = 0;
        for (end, &b) in self.0.as_bytes().iter().enumerate() {
            if b != b'\n' {
                continue;
            }
            let code =
                self.0.as_bytes().get(start).map_or(usize::MAX, |&c| usize::from(c.wrapping_sub(b'a')));
            // The code is one ASCII byte, so the value after it starts on a char boundary.
            if let (Some(slot), Some(value)) = (out.get_mut(code), self.0.get(start + 1..end)) {
                *slot = Some(value);
            }
            start = end + 1;
        }
        out
    }
}

/// The city/country fields present in `record`, encoded.
pub fn city_values(record: &CityRecord, encoding: ValueEncoding) -> Values {
    let r = record;
    collect(DbKind::City, encoding, |field| match field {
        Field::Country => r.country_iso_code.clone(),
        Field::CountryName => r.country_name.clone(),
        Field::Continent => r.continent_code.clone(),
        Field::Region => r.subdivision_iso_code.clone(),
        Field::RegionName => r.subdivision_name.clone(),
        Field::City => r.city_name.clone(),
        Field::PostalCode => r.postal_code.clone(),
        Field::Latitude => r.latitude.map(|v| v.to_string()),
        Field::Longitude => r.longitude.map(|v| v.to_string()),
        Field::AccuracyRadius => r.accuracy_radius.map(|v| v.to_string()),
        Field::TimeZone => r.time_zone.clone(),
        Field::Asn | Field::AsnOrg => None,
    })
}

/// The ASN fields present in `record`, encoded.
pub fn asn_values(record: &AsnRecord, encoding: ValueEncoding) -> Values {
    collect(DbKind::Asn, encoding, |field| match field {
        Field::Asn => record.number.map(|n| n.to_string()),
        Field::AsnOrg => record.organization.clone(),
        _ => None,
    })
}

/// Packs the non-empty values of `db`'s fields. The code is one byte per
/// field rather than its key: [`Values::fields`] indexes an array with it.
fn collect(db: DbKind, encoding: ValueEncoding, value: impl Fn(Field) -> Option<String>) -> Values {
    let mut packed = String::new();
    for spec in FIELDS.iter().filter(|spec| spec.db == db) {
        if let Some(value) = value(spec.field).filter(|v| !v.is_empty()) {
            packed.push(char::from(b'a' + spec.field as u8));
            packed.push_str(&encode(&value, encoding));
            packed.push('\n');
        }
    }
    Values(std::sync::Arc::from(packed))
}

/// Writes `value` ASCII-safe (`percent`) or as UTF-8 with controls encoded (`raw`).
///
/// # Examples
/// ```
/// use edgeguard::{config::ValueEncoding, geo::encode};
/// assert_eq!(encode("Linköping", ValueEncoding::Percent), "Link%C3%B6ping");
/// assert_eq!(encode("100%", ValueEncoding::Percent), "100%25");
/// assert_eq!(encode("São Paulo", ValueEncoding::Raw), "São Paulo");
/// assert_eq!(encode("a\r\nb", ValueEncoding::Raw), "a%0D%0Ab");
/// ```
pub fn encode(value: &str, encoding: ValueEncoding) -> String {
    match encoding {
        ValueEncoding::Percent => utf8_percent_encode(value, PERCENT).to_string(),
        ValueEncoding::Raw => value
            .chars()
            .map(|c| if c.is_control() { format!("%{:02X}", c as u32 & 0xFF) } else { c.to_string() })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_values_round_trip() {
        let record = CityRecord {
            country_iso_code: Some("SE".into()),
            city_name: Some("Linköping".into()),
            latitude: Some(58.4109),
            postal_code: Some(String::new()),
            ..Default::default()
        };
        let v = city_values(&record, ValueEncoding::Percent);
        assert_eq!(v.get(Field::Country), Some("SE"));
        assert_eq!(v.get(Field::City), Some("Link%C3%B6ping"));
        assert_eq!(v.get(Field::Latitude), Some("58.4109"));
        assert_eq!(v.get(Field::PostalCode), None, "empty values are absent, never empty headers");
        assert_eq!(v.get(Field::Asn), None);
        let asn = asn_values(
            &AsnRecord { number: Some(64496), organization: Some("Ö AB".into()) },
            ValueEncoding::Raw,
        );
        assert_eq!((asn.get(Field::Asn), asn.get(Field::AsnOrg)), (Some("64496"), Some("Ö AB")));
        assert_eq!(Values::empty().get(Field::Country), None);
    }
}
