//! Values in the shapes Traefik hands them to plugins, as well as typed.
//!
//! Traefik's providers turn every scalar into a string (`maxHops: 5` arrives
//! as `"maxHops":"5"`, `true` as `"true"`) and an empty map or list into `""`,
//! while the sidecar reads typed YAML/JSON. These accept both and keep serde's
//! error messages (and field paths) for anything else.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A map or list, where `""` or `null` (Traefik's empty map or list) means the default.
pub fn or_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map or a list")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            if v.is_empty() { Ok(T::default()) } else { Err(E::invalid_type(de::Unexpected::Str(v), &self)) }
        }
        fn visit_unit<E: de::Error>(self) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
            T::deserialize(SeqAccessDeserializer::new(seq))
        }
    }
    d.deserialize_any(V(PhantomData))
}

/// A `bool`, or the strings `true` / `false`.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean (true or false)")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
    }
    d.deserialize_any(V)
}

/// An unsigned integer, or a string holding one.
pub fn unsigned<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + FromStr,
{
    struct V<T>(PhantomData<T>);
    impl<T: TryFrom<u64> + FromStr> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            T::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            let u = u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))?;
            self.visit_u64(u)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            v.trim().parse().map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
    d.deserialize_any(V(PhantomData))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::or_empty", default)]
        l: Vec<String>,
        #[serde(deserialize_with = "super::bool")]
        b: bool,
        #[serde(deserialize_with = "super::unsigned")]
        n: usize,
    }

    #[test]
    fn empty_string_is_an_empty_list() {
        for (doc, want) in [
            (r#"{"l": "", "b": true, "n": 1}"#, Ok(vec![])),
            (r#"{"l": null, "b": true, "n": 1}"#, Ok(vec![])),
            (r#"{"l": ["a"], "b": true, "n": 1}"#, Ok(vec!["a".to_string()])),
            (r#"{"l": "a", "b": true, "n": 1}"#, Err("invalid type: string \"a\", expected a map or a list")),
            (r#"{"l": [1], "b": true, "n": 1}"#, Err("invalid type: integer `1`, expected a string")),
        ] {
            let got = serde_json::from_str::<T>(doc).map(|t| t.l).map_err(|e| e.to_string());
            match want {
                Ok(v) => assert_eq!(got, Ok(v), "{doc}"),
                Err(msg) => assert!(got.as_ref().unwrap_err().starts_with(msg), "{doc}: {got:?}"),
            }
        }
    }

    #[test]
    fn typed_and_stringly_scalars() {
        let cases = [
            (r#"{"b": true, "n": 5}"#, Ok((true, 5))),
            (r#"{"b": "false", "n": "7"}"#, Ok((false, 7))),
            (
                r#"{"b": "yes", "n": 1}"#,
                Err("invalid value: string \"yes\", expected a boolean (true or false)"),
            ),
            (r#"{"b": true, "n": -1}"#, Err("invalid value: integer `-1`, expected a non-negative integer")),
            (r#"{"b": true, "n": "x"}"#, Err("invalid value: string \"x\", expected a non-negative integer")),
        ];
        for (doc, want) in cases {
            let got = serde_json::from_str::<T>(doc).map(|t| (t.b, t.n)).map_err(|e| e.to_string());
            assert!(serde_json::from_str::<T>(doc).is_ok_and(|t| t.l.is_empty()) || got.is_err());
            match want {
                Ok(v) => assert_eq!(got, Ok(v), "{doc}"),
                Err(msg) => assert!(got.as_ref().unwrap_err().starts_with(msg), "{doc}: {got:?}"),
            }
        }
    }
}
