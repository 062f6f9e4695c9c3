//! `geo`: geolocation headers from a MaxMind database.

use std::time::Duration;

use serde::Deserialize;

use super::{lenient, units};
use crate::geo::{FIELDS, Field};

/// `geo`: which database to read and which headers to set.
///
/// Geo is off while neither `database` nor `asnDatabase` is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GeoConfig {
    /// Path of a GeoIP2/GeoLite2 City or Country database. In Traefik the file
    /// must be made visible to the plugin with `settings.mounts` (Traefik ≥ 3.2.2).
    pub database: String,
    /// Optional path of a GeoLite2-ASN or GeoIP2-ISP database (ASN number and organisation).
    pub asn_database: String,
    /// Language of the names (country, region, city); falls back to `en` when the
    /// database has no name in that language. Default `en`.
    pub language: String,
    /// How non-ASCII values (e.g. "Linköping") are written: `percent` (default,
    /// percent-encoded UTF-8, `%` itself encoded) or `raw` (UTF-8 bytes).
    pub encoding: ValueEncoding,
    /// Value written when the database has no data for a field; by default the header is omitted.
    pub unknown_value: Option<String>,
    /// Header names; an empty name switches that field off.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub headers: GeoHeaderNames,
    /// Header carrying the database type and build date (e.g. `X-Geo-DB`); empty (default) disables.
    pub db_info_header: String,
    /// How often the database files are checked for changes. Default `60s`.
    #[serde(deserialize_with = "units::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::GoDuration"))]
    pub reload_interval: Duration,
    /// Lookup-cache entries per instance, keyed by network, at most 65535. Default 64:
    /// in Traefik every concurrent request has its own instance, so each entry is paid per instance.
    #[serde(deserialize_with = "lenient::unsigned")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::UintOrString"))]
    pub cache_entries: usize,
    /// Memory for the page cache, the lookup cache and each database's tree
    /// index and data head (3 KiB each) and the City database's place memo
    /// (2 KiB) together, per instance. Default `24KiB`: 64 cache entries and
    /// two 4 KiB pages of the file with one database, one each with two. The
    /// kernel's page cache, shared by all instances, holds the file.
    #[serde(deserialize_with = "units::bytes")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::ByteSize"))]
    pub memory_budget: usize,
    /// When a database cannot be used: `skip` (default: pass without geo headers)
    /// or `fail` (answer 503). Client-sent geo headers are removed either way.
    pub on_error: GeoOnError,
}

impl Default for GeoConfig {
    fn default() -> Self {
        Self {
            database: String::new(),
            asn_database: String::new(),
            language: "en".into(),
            encoding: ValueEncoding::Percent,
            unknown_value: None,
            headers: GeoHeaderNames::default(),
            db_info_header: String::new(),
            reload_interval: Duration::from_secs(60),
            cache_entries: 64,
            memory_budget: 24 << 10,
            on_error: GeoOnError::Skip,
        }
    }
}

/// How header values with non-ASCII characters are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ValueEncoding {
    /// Percent-encoded UTF-8 (`Link%C3%B6ping`); ASCII is unchanged except `%`.
    #[default]
    Percent,
    /// The UTF-8 bytes as they are.
    Raw,
}

/// What happens when a database is missing, unreadable or corrupt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum GeoOnError {
    /// Requests pass without geo headers.
    #[default]
    Skip,
    /// Requests get a 503.
    Fail,
}

/// The name of each geo header; empty switches the field off.
///
/// On by default: country, region and city, and the ASN number and
/// organisation (which need `asnDatabase`, so configuring that database is
/// asking for them). Every other field is opt-in: give it a header name.
/// Each header costs every request a host call in Traefik (see docs/geo.md).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GeoHeaderNames {
    /// Country ISO 3166-1 alpha-2 code. Default `X-Geo-Country`.
    pub country: String,
    /// Country name. Off by default; the usual name is `X-Geo-Country-Name`.
    pub country_name: String,
    /// Continent code. Off by default; the usual name is `X-Geo-Continent`.
    pub continent: String,
    /// First subdivision (region) ISO code. Default `X-Geo-Region`.
    pub region: String,
    /// First subdivision (region) name. Off by default; the usual name is `X-Geo-Region-Name`.
    pub region_name: String,
    /// City name. Default `X-Geo-City`.
    pub city: String,
    /// Postal code. Off by default; the usual name is `X-Geo-Postal-Code`.
    pub postal_code: String,
    /// Latitude. Off by default; the usual name is `X-Geo-Latitude`.
    pub latitude: String,
    /// Longitude. Off by default; the usual name is `X-Geo-Longitude`.
    pub longitude: String,
    /// Accuracy radius in km. Off by default; the usual name is `X-Geo-Accuracy-Radius`.
    pub accuracy_radius: String,
    /// IANA time zone. Off by default; the usual name is `X-Geo-Time-Zone`.
    pub time_zone: String,
    /// Autonomous system number (needs `asnDatabase`). Default `X-Geo-ASN`.
    pub asn: String,
    /// Autonomous system organisation (needs `asnDatabase`). Default `X-Geo-ASN-Org`.
    pub asn_org: String,
}

impl Default for GeoHeaderNames {
    fn default() -> Self {
        // The usual names of the fields on by default; every opt-in field off.
        let on = |field: Field| {
            let spec = &FIELDS[field as usize];
            if spec.on_by_default { spec.usual_header.into() } else { String::new() }
        };
        Self {
            country: on(Field::Country),
            country_name: on(Field::CountryName),
            continent: on(Field::Continent),
            region: on(Field::Region),
            region_name: on(Field::RegionName),
            city: on(Field::City),
            postal_code: on(Field::PostalCode),
            latitude: on(Field::Latitude),
            longitude: on(Field::Longitude),
            accuracy_radius: on(Field::AccuracyRadius),
            time_zone: on(Field::TimeZone),
            asn: on(Field::Asn),
            asn_org: on(Field::AsnOrg),
        }
    }
}

impl GeoHeaderNames {
    /// The header name of every field, indexed by [`Field`] like [`FIELDS`].
    pub fn fields(&self) -> [&str; FIELDS.len()] {
        [
            &self.country,
            &self.country_name,
            &self.continent,
            &self.region,
            &self.region_name,
            &self.city,
            &self.postal_code,
            &self.latitude,
            &self.longitude,
            &self.accuracy_radius,
            &self.time_zone,
            &self.asn,
            &self.asn_org,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #14: country, region, city and the ASN pair by default; every other field opt-in.
    #[test]
    fn default_header_set() {
        let want = [
            "X-Geo-Country",
            "",
            "",
            "X-Geo-Region",
            "",
            "X-Geo-City",
            "",
            "",
            "",
            "",
            "",
            "X-Geo-ASN",
            "X-Geo-ASN-Org",
        ];
        assert_eq!(GeoHeaderNames::default().fields(), want);
    }

    /// `fields()` puts each config key's header at its row of the table.
    #[test]
    fn fields_follow_the_table() {
        for (i, spec) in FIELDS.iter().enumerate() {
            let json = format!(r#"{{"{}": "X-Marker"}}"#, spec.key);
            let names: GeoHeaderNames = serde_json::from_str(&json).expect(spec.key);
            assert_eq!(names.fields()[i], "X-Marker", "{}", spec.key);
        }
    }
}
