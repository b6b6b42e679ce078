//! Lenient typed reading of a few fields of a JSON manifest, without building a `serde_json::Value` tree.
//!
//! Plan reads every live object's metadata and every binding's `roleRef` and `subjects`; read through a `Value`,
//! that allocated a map per object and was a third of a 5,000-object plan's CPU. These wrappers read the same
//! fields straight from the text, skipping the rest, and are as lenient as indexing a `Value` was: a field of
//! another type than expected (a hand-written `plan --live-from` file) counts as absent, without failing the read
//! or hiding its siblings.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// How a wrapper takes each JSON type; anything it does not take is skipped (never built) and gives the default.
trait Shape<'de>: Sized + Default {
    fn from_str(_text: &str) -> Self {
        Self::default()
    }
    /// A number or a boolean.
    fn from_scalar() -> Self {
        Self::default()
    }
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::from_scalar())
    }
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::from_scalar())
    }
}

struct ShapeVisitor<T>(PhantomData<T>);

impl<'de, T: Shape<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::from_scalar())
    }
    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::from_scalar())
    }
    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::from_scalar())
    }
    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::from_scalar())
    }
    fn visit_str<E>(self, text: &str) -> Result<T, E> {
        Ok(T::from_str(text))
    }
    /// `null`: absent.
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map)
    }
}

macro_rules! deserialize_by_shape {
    ($type:ty $(, $param:ident)?) => {
        impl<'de $(, $param: Deserialize<'de> + Default)?> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(ShapeVisitor(PhantomData))
            }
        }
    };
}

/// A string field; `None` when absent or of another type.
#[derive(Debug, Default)]
pub struct Text(pub Option<String>);

impl Shape<'_> for Text {
    fn from_str(text: &str) -> Self {
        Text(Some(text.to_owned()))
    }
}
deserialize_by_shape!(Text);

/// An object field read as `T` (a struct whose fields are all lenient and `#[serde(default)]`); `T::default()`
/// when absent or not an object.
#[derive(Debug, Default)]
pub struct Fields<T>(pub T);

impl<'de, T: Deserialize<'de> + Default> Shape<'de> for Fields<T> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Fields)
    }
}
deserialize_by_shape!(Fields<T>, T);

/// A list field: `None` when absent or `null`, the items (each read as `T`) when a list, and an empty list when of
/// another type (present, but nothing can be read from it).
#[derive(Debug)]
pub struct Items<T>(pub Option<Vec<T>>);

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items(None)
    }
}

impl<'de, T: Deserialize<'de> + Default> Shape<'de> for Items<T> {
    fn from_str(_text: &str) -> Self {
        Self::from_scalar()
    }
    fn from_scalar() -> Self {
        Items(Some(Vec::new()))
    }
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(Items(Some(items)))
    }
}
deserialize_by_shape!(Items<T>, T);

/// A map of strings (labels, annotations): the entries whose value is a string; empty when absent or not an
/// object.
#[derive(Debug, Default)]
pub struct StringMap(pub BTreeMap<String, String>);

impl<'de> Shape<'de> for StringMap {
    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some((key, Text(value))) = map.next_entry::<String, Text>()? {
            if let Some(value) = value {
                entries.insert(key, value);
            }
        }
        Ok(StringMap(entries))
    }
}
deserialize_by_shape!(StringMap);

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Subject {
        kind: Text,
        namespace: Text,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Object {
        labels: StringMap,
        subjects: Items<Fields<Subject>>,
        uid: Text,
    }

    fn read(json: &str) -> Object {
        serde_json::from_str(json).expect("lenient reading never fails on JSON")
    }

    #[test]
    fn fields_of_another_type_count_as_absent_and_hide_nothing_else() {
        let object = read(
            r#"{"labels": {"a": "1", "b": 2, "c": null, "d": ["x"], "e": {"f": "g"}},
                "subjects": [{"kind": "User", "namespace": 3}, "junk", 7, {"kind": ["User"]}],
                "uid": {"nested": [1, 2, {"x": "y"}]}, "other": [[[]]]}"#,
        );
        assert_eq!(
            object.labels.0,
            BTreeMap::from([("a".to_owned(), "1".to_owned())])
        );
        let subjects = object.subjects.0.expect("a list");
        assert_eq!(subjects.len(), 4);
        assert_eq!(subjects[0].0.kind.0.as_deref(), Some("User"));
        assert_eq!(subjects[0].0.namespace.0, None);
        assert!(subjects[1..].iter().all(|s| s.0.kind.0.is_none()));
        assert_eq!(object.uid.0, None);
    }

    #[test]
    fn a_list_is_absent_when_null_and_empty_when_of_another_type() {
        assert!(read(r#"{"subjects": null}"#).subjects.0.is_none());
        assert!(read("{}").subjects.0.is_none());
        for other in [r#""x""#, "1", "true", r#"{"kind": "User"}"#] {
            let object = read(&format!(r#"{{"subjects": {other}}}"#));
            assert_eq!(object.subjects.0.map(|s| s.len()), Some(0), "{other}");
        }
        assert!(read(r#"{"labels": "x", "uid": 5}"#).labels.0.is_empty());
    }
}
