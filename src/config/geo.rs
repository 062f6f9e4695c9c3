//! `geo`: geolocation headers from a MaxMind database.

use std::time::Duration;

use serde::Deserialize;

use super::{lenient, units};

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
        // The conventional names of the fields on by default; every opt-in field off.
        let [country, _, _, region, _, city, _, _, _, _, _, asn, asn_org] =
            Self::CONVENTIONAL.map(|(_, name)| name);
        let off = String::new;
        Self {
            country: country.into(),
            country_name: off(),
            continent: off(),
            region: region.into(),
            region_name: off(),
            city: city.into(),
            postal_code: off(),
            latitude: off(),
            longitude: off(),
            accuracy_radius: off(),
            time_zone: off(),
            asn: asn.into(),
            asn_org: asn_org.into(),
        }
    }
}

impl GeoHeaderNames {
    /// `(config field, usual name)` of every field, as [`GeoHeaderNames::fields`]
    /// lists them: what the docs suggest for opt-in fields, and what EdgeGuard
    /// strips from clients whether or not it sets them. Constants, not
    /// `String`s: every wasm instance reads them at init (issue #14).
    pub const CONVENTIONAL: [(&'static str, &'static str); 13] = [
        ("country", "X-Geo-Country"),
        ("countryName", "X-Geo-Country-Name"),
        ("continent", "X-Geo-Continent"),
        ("region", "X-Geo-Region"),
        ("regionName", "X-Geo-Region-Name"),
        ("city", "X-Geo-City"),
        ("postalCode", "X-Geo-Postal-Code"),
        ("latitude", "X-Geo-Latitude"),
        ("longitude", "X-Geo-Longitude"),
        ("accuracyRadius", "X-Geo-Accuracy-Radius"),
        ("timeZone", "X-Geo-Time-Zone"),
        ("asn", "X-Geo-ASN"),
        ("asnOrg", "X-Geo-ASN-Org"),
    ];

    /// `(config field, header name)` for every field, in output order.
    pub fn fields(&self) -> [(&'static str, &str); 13] {
        [
            ("country", &self.country),
            ("countryName", &self.country_name),
            ("continent", &self.continent),
            ("region", &self.region),
            ("regionName", &self.region_name),
            ("city", &self.city),
            ("postalCode", &self.postal_code),
            ("latitude", &self.latitude),
            ("longitude", &self.longitude),
            ("accuracyRadius", &self.accuracy_radius),
            ("timeZone", &self.time_zone),
            ("asn", &self.asn),
            ("asnOrg", &self.asn_org),
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
            ("country", "X-Geo-Country"),
            ("countryName", ""),
            ("continent", ""),
            ("region", "X-Geo-Region"),
            ("regionName", ""),
            ("city", "X-Geo-City"),
            ("postalCode", ""),
            ("latitude", ""),
            ("longitude", ""),
            ("accuracyRadius", ""),
            ("timeZone", ""),
            ("asn", "X-Geo-ASN"),
            ("asnOrg", "X-Geo-ASN-Org"),
        ];
        assert_eq!(GeoHeaderNames::default().fields(), want);
        // The table lists the fields in the same order.
        assert_eq!(want.map(|(field, _)| field), GeoHeaderNames::CONVENTIONAL.map(|(field, _)| field));
    }
}
