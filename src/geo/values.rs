//! Turning database records into header values: which field, and how it is
//! written (ASCII-safe by default).

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::config::ValueEncoding;
use crate::mmdb::{AsnRecord, CityRecord};

/// Control characters can never go into a header; `%` is encoded too so a
/// percent-encoded value decodes unambiguously. Non-ASCII is always encoded.
const PERCENT: &AsciiSet = &CONTROLS.add(b'%');

/// One geo header field, in the order of [`crate::config::GeoHeaderNames::fields`].
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

/// Every field, indexed like the header-name table.
pub const FIELDS: [Field; 13] = [
    Field::Country,
    Field::CountryName,
    Field::Continent,
    Field::Region,
    Field::RegionName,
    Field::City,
    Field::PostalCode,
    Field::Latitude,
    Field::Longitude,
    Field::AccuracyRadius,
    Field::TimeZone,
    Field::Asn,
    Field::AsnOrg,
];

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
    let fields: [(Field, Option<String>); 11] = [
        (Field::Country, r.country_iso_code.clone()),
        (Field::CountryName, r.country_name.clone()),
        (Field::Continent, r.continent_code.clone()),
        (Field::Region, r.subdivision_iso_code.clone()),
        (Field::RegionName, r.subdivision_name.clone()),
        (Field::City, r.city_name.clone()),
        (Field::PostalCode, r.postal_code.clone()),
        (Field::Latitude, r.latitude.map(|v| v.to_string())),
        (Field::Longitude, r.longitude.map(|v| v.to_string())),
        (Field::AccuracyRadius, r.accuracy_radius.map(|v| v.to_string())),
        (Field::TimeZone, r.time_zone.clone()),
    ];
    collect(fields, encoding)
}

/// The ASN fields present in `record`, encoded.
pub fn asn_values(record: &AsnRecord, encoding: ValueEncoding) -> Values {
    let fields =
        [(Field::Asn, record.number.map(|n| n.to_string())), (Field::AsnOrg, record.organization.clone())];
    collect(fields, encoding)
}

fn collect<const N: usize>(fields: [(Field, Option<String>); N], encoding: ValueEncoding) -> Values {
    let mut packed = String::new();
    for (field, value) in fields {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            packed.push(char::from(b'a' + field as u8));
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
