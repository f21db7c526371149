//! [`Path<T>`]: route parameters through serde.

use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use turnstile_core::StatusCode;

use super::{FromRequestParts, Rejection, RequestParts};

/// Route parameters, deserialized: a struct by name, a tuple in order, or a
/// single value when the route has one parameter.
///
/// ```
/// use serde::Deserialize;
/// use turnstile::extract::Path;
/// use turnstile::App;
///
/// #[derive(Deserialize)]
/// struct Ids { user: u32, post: u32 }
///
/// let app = App::new()
///     .get("/one/:id", |Path(id): Path<u64>| format!("{id}"))
///     .get("/two/:user/:post", |Path((u, p)): Path<(u32, u32)>| format!("{u}-{p}"))
///     .get("/named/:user/:post", |Path(ids): Path<Ids>| format!("{}-{}", ids.user, ids.post));
/// let client = turnstile::test::TestClient::new(app).unwrap();
/// assert_eq!(client.get("/one/7").text(), "7");
/// assert_eq!(client.get("/two/1/2").text(), "1-2");
/// assert_eq!(client.get("/named/3/4").text(), "3-4");
/// assert_eq!(client.get("/one/x").status().as_u16(), 400);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts for Path<T> {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        let params: Vec<(&str, String)> = parts.params().collect();
        T::deserialize(Params { params: &params })
            .map(Path)
            .map_err(|PathError { message, field }| {
                let r = Rejection::new(
                    StatusCode::BAD_REQUEST,
                    format!("invalid path parameter: {message}"),
                );
                match field {
                    Some(f) => r.with_field(f),
                    None => r.with_field("path"),
                }
            })
    }
}

#[derive(Debug)]
struct PathError {
    message: String,
    field: Option<String>,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PathError {}

impl de::Error for PathError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PathError {
            message: msg.to_string(),
            field: None,
        }
    }
}

struct Params<'a> {
    params: &'a [(&'a str, String)],
}

impl<'a> Params<'a> {
    fn single(&self) -> Result<Value<'a>, PathError> {
        match self.params {
            [(name, value)] => Ok(Value { name, value }),
            other => Err(de::Error::custom(format!(
                "expected 1 parameter, the route has {}",
                other.len()
            ))),
        }
    }
}

macro_rules! single_value {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                self.single()?.$method(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Params<'_> {
    type Error = PathError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_map(MapAccess {
            params: self.params.iter(),
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_seq(SeqAccess {
            params: self.params.iter(),
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        if len != self.params.len() {
            return Err(de::Error::custom(format!(
                "expected {len} parameters, the route has {}",
                self.params.len()
            )));
        }
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }

    single_value! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_option deserialize_bytes deserialize_byte_buf
        deserialize_identifier deserialize_unit deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_unit()
    }
}

struct MapAccess<'a, I> {
    params: I,
    value: Option<Value<'a>>,
}

impl<'de, 'a, I: Iterator<Item = &'a (&'a str, String)>> de::MapAccess<'de> for MapAccess<'a, I> {
    type Error = PathError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PathError> {
        match self.params.next() {
            Some((name, value)) => {
                self.value = Some(Value { name, value });
                seed.deserialize(name.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, PathError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| <PathError as de::Error>::custom("value without key"))?;
        seed.deserialize(value)
    }
}

struct SeqAccess<I> {
    params: I,
}

impl<'de, 'a, I: Iterator<Item = &'a (&'a str, String)>> de::SeqAccess<'de> for SeqAccess<I> {
    type Error = PathError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, PathError> {
        match self.params.next() {
            Some((name, value)) => seed.deserialize(Value { name, value }).map(Some),
            None => Ok(None),
        }
    }
}

/// One parameter's value.
struct Value<'a> {
    name: &'a str,
    value: &'a str,
}

impl Value<'_> {
    fn fail(&self, why: impl fmt::Display) -> PathError {
        PathError {
            message: format!("`{}`: {why}", self.name),
            field: Some(self.name.to_owned()),
        }
    }
}

macro_rules! parse_value {
    ($($method:ident $visit:ident $ty:ty,)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                match self.value.parse::<$ty>() {
                    Ok(v) => visitor.$visit(v),
                    Err(e) => Err(self.fail(format_args!("{:?} is not a valid {}: {e}", self.value, stringify!($ty)))),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = PathError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_string(self.value.to_owned())
    }

    parse_value! {
        deserialize_bool visit_bool bool,
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
        deserialize_i128 visit_i128 i128,
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
        deserialize_u128 visit_u128 u128,
        deserialize_f32 visit_f32 f32,
        deserialize_f64 visit_f64 f64,
        deserialize_char visit_char char,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        let name = self.name.to_owned();
        visitor
            .visit_enum(self.value.to_owned().into_deserializer())
            .map_err(|e: de::value::Error| PathError {
                message: format!("`{name}`: {e}"),
                field: Some(name.clone()),
            })
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}
