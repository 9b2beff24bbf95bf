//! A serde `Deserializer` over the located tree, so serde's own type and unknown-field errors
//! land on the exact node (a value, or the key for an unknown field) instead of the document.
//!
//! This is the scenario format's data model, and it is how the runtime's own types (schedules,
//! losses, initialisers, datasets, stop and view settings) are read straight from a file:
//! - an enum is a name (`loss: mse`), or a mapping whose `kind` names the variant and whose
//!   other keys are the variant's fields (`schedule: {kind: step, step_size: 100}`); a bare
//!   name is the variant with its defaults (`init: xavier_uniform`). The enum's serde name
//!   (`#[serde(rename = "schedule")]`) names it in messages: `unknown schedule kind 'cosin'`.
//! - [`from_entry`] reads an enum from one mapping entry, the key naming the variant
//!   (`final_loss_below: 0.01` in `expect`).
//! - [`fields_of`] lists a struct's keys, so a mapping can hold other keys beside them (an
//!   optimizer entry's hyperparameters) that [`Skip::AllBut`] hides from it.

// Errors are the loader's cold path and carry their message, expectation and suggestion
// inline; boxing them would only add noise to every `?`.
#![allow(clippy::result_large_err)]

use std::fmt;

use serde::de::{self, DeserializeSeed, Unexpected, Visitor};

use super::tree::{Node, NodeKind, Resolved, Span, resolve};
use crate::suggest;

/// What went wrong, in a form the loader can reword with context ("unknown loss ...").
#[derive(Debug, Clone, PartialEq)]
pub enum DeKind {
    /// Anything else.
    Other,
    /// An unknown enum variant; the bad name.
    UnknownVariant(String),
    /// A required key is missing.
    MissingField,
    /// A number that is not a whole number in the field's range; the message gains the key's
    /// name where the key is known.
    Integer,
}

/// A deserialisation error with the span of the node that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub kind: DeKind,
    pub message: String,
    pub expected: Option<String>,
    pub suggestion: Option<String>,
    pub span: Option<Span>,
}

impl DeError {
    fn new(message: String) -> Self {
        DeError {
            kind: DeKind::Other,
            message,
            expected: None,
            suggestion: None,
            span: None,
        }
    }

    /// Fills in the span unless an inner node already did.
    #[must_use]
    pub fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

/// Rewrites serde's type names (`f64`, `struct StopSpec`, `a sequence`) for people.
pub fn friendly(expected: &str) -> String {
    match expected {
        "f64" | "f32" => "a number".into(),
        "u64" | "u32" | "usize" | "u16" | "u8" => "a whole number >= 0".into(),
        "i64" | "i32" | "isize" => "a whole number".into(),
        "a boolean" => "true or false".into(),
        "a string" | "a borrowed string" => "a string".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        "a tuple of size 2" | "an array of length 2" => "a list of 2 numbers [a, b]".into(),
        other if other.starts_with("struct ") => "a mapping".into(),
        other => other.into(),
    }
}

fn unexpected(u: &Unexpected<'_>) -> String {
    match u {
        Unexpected::Bool(b) => format!("the boolean {b}"),
        Unexpected::Unsigned(n) => format!("the number {n}"),
        Unexpected::Signed(n) => format!("the number {n}"),
        Unexpected::Float(x) => format!("the number {x}"),
        Unexpected::Str(s) => format!("the string '{s}'"),
        Unexpected::Unit => "nothing (null)".into(),
        Unexpected::Seq => "a list".into(),
        Unexpected::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

impl DeError {
    /// `unknown key 'x'`, with the valid keys and the nearest one.
    fn unknown_field_in(field: &str, expected: &[&str]) -> Self {
        let mut e = DeError::new(format!("unknown key '{field}'"));
        e.expected = Some(suggest::one_of(expected));
        e.suggestion = suggest::nearest(field, expected);
        e
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let mut e = DeError::new(format!("wrong type: found {}", unexpected(&unexp)));
        e.expected = Some(friendly(&exp.to_string()));
        e
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let mut e = DeError::new(format!("invalid value: {}", unexpected(&unexp)));
        e.expected = Some(friendly(&exp.to_string()));
        e
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        let mut e = DeError::new(format!("wrong length: found {len} element(s)"));
        e.expected = Some(friendly(&exp.to_string()));
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(format!("unknown value '{variant}'"));
        e.kind = DeKind::UnknownVariant(variant.to_string());
        e.expected = Some(suggest::one_of(expected.iter().copied()));
        e.suggestion = suggest::nearest(variant, expected.iter().copied());
        e
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::unknown_field_in(field, expected)
    }

    fn missing_field(field: &'static str) -> Self {
        let mut e = DeError::new(format!("missing key '{field}'"));
        e.kind = DeKind::MissingField;
        e
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(format!("duplicate key '{field}'"))
    }
}

/// Which keys of a mapping the type being read does not see.
#[derive(Clone, Copy, Debug)]
pub enum Skip {
    /// These (a tag already read, a key decoded on its own).
    Keys(&'static [&'static str]),
    /// Every key but these (the keys of the struct; the rest are read another way).
    AllBut(&'static [&'static str]),
}

impl Skip {
    /// No key is skipped.
    pub const NONE: Skip = Skip::Keys(&[]);

    fn skips(self, key: &str) -> bool {
        match self {
            Skip::Keys(keys) => keys.contains(&key),
            Skip::AllBut(keys) => !keys.contains(&key),
        }
    }
}

/// Deserialises `node` into `T`, ignoring the mapping keys `skip` names.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &'de Node, skip: Skip) -> Result<T, DeError> {
    T::deserialize(NodeDe { node, skip }).map_err(|e| e.at(node.span))
}

/// Deserialises an enum from one mapping entry: `key` names the variant, `value` is its content
/// (`final_loss_below: 0.01`). An unknown key is reported as one, with the valid keys.
pub fn from_entry<'de, T: de::Deserialize<'de>>(
    key: &'de Node,
    value: &'de Node,
) -> Result<T, DeError> {
    T::deserialize(EntryDe { key, value }).map_err(|e| e.at(key.span))
}

/// The keys of struct `T` (after renames, without skipped fields), in declaration order.
#[must_use]
pub fn fields_of<'de, T: de::Deserialize<'de>>() -> &'static [&'static str] {
    T::deserialize(Probe).err().and_then(|p| p.0).unwrap_or(&[])
}

/// The variant names of enum `T`, in declaration order.
#[must_use]
pub fn variants_of<'de, T: de::Deserialize<'de>>() -> &'static [&'static str] {
    T::deserialize(Probe).err().and_then(|p| p.0).unwrap_or(&[])
}

/// Deserializer for one node.
#[derive(Clone, Copy)]
pub struct NodeDe<'de> {
    node: &'de Node,
    skip: Skip,
}

impl<'de> NodeDe<'de> {
    fn child(node: &'de Node) -> Self {
        NodeDe {
            node,
            skip: Skip::NONE,
        }
    }

    /// An integer field of range `[min, max]`. Whole-valued floats are whole numbers (`1e3` is
    /// 1000); a number outside the range, however written (`99999999999999999999999` is past
    /// 64 bits), is reported with the range rather than as a type error.
    fn integer<V: Visitor<'de>>(
        self,
        visitor: V,
        min: i128,
        max: i128,
    ) -> Result<V::Value, DeError> {
        let NodeKind::Scalar { text, plain } = &self.node.kind else {
            return self.any(visitor);
        };
        let fail = |what: &str| {
            Err(DeError {
                kind: DeKind::Integer,
                expected: Some(format!("a whole number in [{min}, {max}]")),
                ..DeError::new(format!("{what}: {text}"))
            }
            .at(self.node.span))
        };
        // Float to integer casts saturate, so a huge whole float lands outside the range.
        let value: i128 = match resolve(text, *plain) {
            Resolved::UInt(u) => i128::from(u),
            Resolved::Int(i) => i128::from(i),
            Resolved::Float(x) if x.is_finite() && x.fract() == 0.0 => x as i128,
            Resolved::Float(_) => return fail("not a whole number"),
            _ => return self.any(visitor),
        };
        if value < min || value > max {
            return fail("out of range");
        }
        let result = match (u64::try_from(value), i64::try_from(value)) {
            (Ok(u), _) => visitor.visit_u64(u),
            (_, Ok(i)) => visitor.visit_i64(i),
            _ => return fail("out of range"),
        };
        result.map_err(|e: DeError| e.at(self.node.span))
    }

    fn any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        let result = match &self.node.kind {
            NodeKind::Scalar { text, plain } => match resolve(text, *plain) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => visitor.visit_i64(i),
                Resolved::UInt(u) => visitor.visit_u64(u),
                Resolved::Float(x) => visitor.visit_f64(x),
                Resolved::Str => visitor.visit_borrowed_str(text),
            },
            NodeKind::Seq(items) => {
                let mut access = SeqDe { items, next: 0 };
                let value = visitor.visit_seq(&mut access)?;
                if access.next < items.len() {
                    return Err(de::Error::invalid_length(
                        items.len(),
                        &format!("{} element(s)", access.next).as_str(),
                    ))
                    .map_err(|e: DeError| e.at(span));
                }
                Ok(value)
            }
            NodeKind::Map(entries) => visitor.visit_map(MapDe {
                entries,
                next: 0,
                skip: self.skip,
                value: None,
            }),
        };
        result.map_err(|e| e.at(span))
    }

    fn string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar { text, plain } if !(*plain && super::tree::is_null_text(text)) => {
                visitor
                    .visit_borrowed_str(text)
                    .map_err(|e: DeError| e.at(self.node.span))
            }
            _ => self.any(visitor),
        }
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.any(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.string(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.node.span;
        let access = match &self.node.kind {
            NodeKind::Scalar { text, plain } if !(*plain && super::tree::is_null_text(text)) => {
                KindAccess {
                    tag: self.node,
                    body: None,
                    name,
                }
            }
            NodeKind::Map(_) => match self.node.get("kind") {
                Some(tag) => KindAccess {
                    tag,
                    body: Some(self.node),
                    name,
                },
                None => {
                    return Err(DeError {
                        expected: Some(format!("kind {}", suggest::one_of(variants))),
                        ..DeError::new(format!("missing key 'kind' in {name}"))
                    }
                    .at(span));
                }
            },
            _ => {
                return Err(DeError {
                    expected: Some(format!(
                        "a name or a mapping with `kind: ...`, {}",
                        suggest::one_of(variants)
                    )),
                    ..DeError::new(format!(
                        "wrong type for {name}: found {}",
                        self.node.describe()
                    ))
                }
                .at(span));
            }
        };
        visitor.visit_enum(access).map_err(|e| e.at(span))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor, 0, u8::MAX.into())
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor, 0, u16::MAX.into())
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor, 0, u32::MAX.into())
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor, 0, u64::MAX.into())
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor, i8::MIN.into(), i8::MAX.into())
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor, i16::MIN.into(), i16::MAX.into())
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor, i32::MIN.into(), i32::MAX.into())
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor, i64::MIN.into(), i64::MAX.into())
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct
    }
}

struct SeqDe<'de> {
    items: &'de [Node],
    next: usize,
}

impl<'de> de::SeqAccess<'de> for &mut SeqDe<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        seed.deserialize(NodeDe::child(item))
            .map(Some)
            .map_err(|e| e.at(item.span))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct MapDe<'de> {
    entries: &'de [(Node, Node)],
    next: usize,
    skip: Skip,
    value: Option<(&'de Node, &'de Node)>,
}

impl<'de> de::MapAccess<'de> for MapDe<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        loop {
            let Some((key, value)) = self.entries.get(self.next) else {
                return Ok(None);
            };
            self.next += 1;
            if key.as_str().is_some_and(|k| self.skip.skips(k)) {
                continue;
            }
            self.value = Some((key, value));
            return seed
                .deserialize(NodeDe::child(key))
                .map(Some)
                .map_err(|e| e.at(key.span));
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        seed.deserialize(NodeDe::child(value)).map_err(|e| {
            let own = e.span.is_none() || e.span == Some(value.span);
            // A missing key inside a mapping reads best at the key that holds the mapping.
            if e.kind == DeKind::MissingField && own {
                DeError {
                    span: Some(key.span),
                    ..e
                }
            } else if matches!(&e.kind, DeKind::UnknownVariant(_))
                && own
                && e.message.starts_with("unknown value")
            {
                // A name read without its enum's own name (a list of them, an untagged
                // shape): the key names it.
                let name = key.as_str().unwrap_or("value");
                let DeKind::UnknownVariant(v) = &e.kind else {
                    unreachable!()
                };
                DeError {
                    message: format!("unknown {name} '{v}'"),
                    ..e.at(value.span)
                }
            } else if e.kind == DeKind::Integer && !e.message.starts_with('\'') {
                // The number itself, or one in a list under this key (`layers: [2, 1e30]`).
                let name = key.as_str().unwrap_or("the value");
                let message = if own {
                    format!("'{name}' is {}", e.message)
                } else {
                    format!("a value of '{name}' is {}", e.message)
                };
                DeError {
                    message,
                    ..e.at(value.span)
                }
            } else {
                e.at(value.span)
            }
        })
    }
}

/// An enum read from a node: the variant named by `tag` (a bare name, or a mapping's `kind`),
/// its fields from `body` (the mapping, `kind` left out; none for a bare name).
struct KindAccess<'de> {
    tag: &'de Node,
    body: Option<&'de Node>,
    name: &'static str,
}

impl<'de> de::EnumAccess<'de> for KindAccess<'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let tag = self.tag;
        match seed.deserialize(NodeDe::child(tag)) {
            Ok(v) => Ok((v, self)),
            Err(e) => Err(match &e.kind {
                DeKind::UnknownVariant(v) => DeError {
                    message: if self.body.is_some() {
                        format!("unknown {} kind '{v}'", self.name)
                    } else {
                        format!("unknown {} '{v}'", self.name)
                    },
                    span: Some(tag.span),
                    ..e
                },
                _ => e.at(tag.span),
            }),
        }
    }
}

impl<'de> KindAccess<'de> {
    /// The variant's content: the mapping without `kind`, or nothing for a bare name.
    fn content(&self) -> BodyDe<'de> {
        BodyDe {
            node: self.body,
            span: self.tag.span,
        }
    }
}

impl<'de> de::VariantAccess<'de> for KindAccess<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        // Nothing but `kind` may be given.
        let Some(NodeKind::Map(entries)) = self.body.map(|b| &b.kind) else {
            return Ok(());
        };
        match entries.iter().find(|(k, _)| k.as_str() != Some("kind")) {
            Some((k, _)) => Err(DeError {
                expected: Some("no key but `kind`".into()),
                ..DeError::new(format!("unknown key '{}'", k.as_str().unwrap_or("?")))
            }
            .at(k.span)),
            None => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self.content())
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self.content(), visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self.content(), visitor)
    }
}

/// A tagged mapping without its `kind` key, or an empty mapping standing for a bare name (its
/// errors, such as a missing required key, are placed on the name).
struct BodyDe<'de> {
    node: Option<&'de Node>,
    span: Span,
}

impl<'de> de::Deserializer<'de> for BodyDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node {
            Some(node) => NodeDe {
                node,
                skip: Skip::Keys(&["kind"]),
            }
            .any(visitor),
            None => visitor
                .visit_map(MapDe {
                    entries: &[],
                    next: 0,
                    skip: Skip::NONE,
                    value: None,
                })
                .map_err(|e: DeError| e.at(self.span)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// An enum from one mapping entry: the key names the variant, the value is its content.
struct EntryDe<'de> {
    key: &'de Node,
    value: &'de Node,
}

impl<'de> de::Deserializer<'de> for EntryDe<'de> {
    type Error = DeError;

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(EntryAccess {
            entry: self,
            variants,
        })
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        NodeDe::child(self.value).any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// The variant of an [`EntryDe`]: its key, which in a mapping is reported as a key.
struct EntryAccess<'de> {
    entry: EntryDe<'de>,
    variants: &'static [&'static str],
}

impl<'de> de::EnumAccess<'de> for EntryAccess<'de> {
    type Error = DeError;
    type Variant = EntryDe<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, EntryDe<'de>), DeError> {
        let key = self.entry.key;
        match seed.deserialize(NodeDe::child(key)) {
            Ok(v) => Ok((v, self.entry)),
            Err(e) => Err(match &e.kind {
                DeKind::UnknownVariant(v) => {
                    let mut k = DeError::unknown_field_in(v, self.variants);
                    k.span = Some(key.span);
                    k
                }
                _ => e.at(key.span),
            }),
        }
    }
}

impl<'de> de::VariantAccess<'de> for EntryDe<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        let value = self.value;
        seed.deserialize(NodeDe::child(value)).map_err(|e| {
            // A bad number names the key, as a struct field's would.
            if e.kind == DeKind::Integer && !e.message.starts_with('\'') {
                let name = self.key.as_str().unwrap_or("the value");
                DeError {
                    message: format!("'{name}' is {}", e.message),
                    ..e.at(value.span)
                }
            } else {
                e.at(value.span)
            }
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        NodeDe::child(self.value).any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        NodeDe::child(self.value).any(visitor)
    }
}

/// Reads the names a type declares: a deserializer that answers every request with an error
/// carrying the `fields` (of a struct) or `variants` (of an enum) serde passed it.
struct Probe;

#[derive(Debug)]
struct Names(Option<&'static [&'static str]>);

impl fmt::Display for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("names probed")
    }
}

impl std::error::Error for Names {}

impl de::Error for Names {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Names(None)
    }
}

impl<'de> de::Deserializer<'de> for Probe {
    type Error = Names;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Names> {
        Err(Names(None))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Names> {
        Err(Names(Some(fields)))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Names> {
        Err(Names(Some(variants)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::{Pos, build};
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        lr: f64,
        #[serde(default)]
        steps: Option<u64>,
        name: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Inner,
        pair: (f64, f64),
    }

    fn parse(src: &str) -> Result<Outer, DeError> {
        let (root, _) = build(src).unwrap();
        let root = Box::leak(Box::new(root.unwrap()));
        from_node(root, Skip::NONE)
    }

    #[test]
    fn decodes_and_locates_errors() {
        let ok = parse("inner: {lr: 1e-3, name: 42}\npair: [1, 2.5]\n").unwrap();
        assert_eq!(ok.inner.name, "42");
        assert_eq!(ok.pair, (1.0, 2.5));

        let e = parse("inner:\n  lr: fast\n  name: a\npair: [1, 2]\n").unwrap_err();
        assert_eq!(e.span.unwrap().start, Pos { line: 2, column: 7 });
        assert_eq!(e.expected.as_deref(), Some("a number"));

        let e = parse("inner:\n  lr: 1\n  nmae: a\npair: [1, 2]\n").unwrap_err();
        assert_eq!(e.span.unwrap().start, Pos { line: 3, column: 3 });
        assert_eq!(e.suggestion.as_deref(), Some("name"));

        let e = parse("inner:\n  lr: 1\npair: [1, 2]\n").unwrap_err();
        assert_eq!(e.message, "missing key 'name'");
        assert_eq!(e.span.unwrap().start, Pos { line: 1, column: 1 });

        let e = parse("inner: {lr: 1, name: a}\npair: [1, 2, 3]\n").unwrap_err();
        assert_eq!(e.span.unwrap().start, Pos { line: 2, column: 7 });

        let e = parse("inner: {lr: 1, name: a, steps: -3}\npair: [1, 2]\n").unwrap_err();
        assert!(e.message.contains("-3"), "{}", e.message);
    }

    #[derive(Debug, Deserialize)]
    struct Widths {
        layers: Vec<usize>,
    }

    fn widths(src: &str) -> Result<Widths, DeError> {
        let (root, _) = build(src).unwrap();
        from_node(Box::leak(Box::new(root.unwrap())), Skip::NONE)
    }

    #[test]
    fn a_number_out_of_range_in_a_list_names_the_list() {
        assert_eq!(
            widths("layers: [2, 3e1, 1.0]\n").unwrap().layers,
            [2, 30, 1]
        );
        let e = widths("layers: [2, 1e30, 1]\n").unwrap_err();
        assert_eq!(e.message, "a value of 'layers' is out of range: 1e30");
        assert_eq!(
            e.span.unwrap().start,
            Pos {
                line: 1,
                column: 13
            }
        );
    }

    #[test]
    fn whole_numbers_may_be_written_as_floats_and_overflow_names_the_range() {
        let ok = parse("inner: {lr: 1, name: a, steps: 1e3}\npair: [1, 2]\n").unwrap();
        assert_eq!(ok.inner.steps, Some(1000));
        let ok = parse("inner: {lr: 1, name: a, steps: 7.0}\npair: [1, 2]\n").unwrap();
        assert_eq!(ok.inner.steps, Some(7));

        let e = parse("inner: {lr: 1, name: a, steps: 99999999999999999999999}\npair: [1, 2]\n")
            .unwrap_err();
        assert_eq!(
            e.message,
            "'steps' is out of range: 99999999999999999999999"
        );
        assert_eq!(
            e.expected.as_deref(),
            Some("a whole number in [0, 18446744073709551615]")
        );
        assert_eq!(
            e.span.unwrap().start,
            Pos {
                line: 1,
                column: 32
            }
        );

        let e = parse("inner: {lr: 1, name: a, steps: 2.5}\npair: [1, 2]\n").unwrap_err();
        assert_eq!(e.message, "'steps' is not a whole number: 2.5");
        let e = parse("inner: {lr: 1, name: a, steps: -3}\npair: [1, 2]\n").unwrap_err();
        assert_eq!(e.message, "'steps' is out of range: -3");
        let e = parse("inner: {lr: 1, name: a, steps: .inf}\npair: [1, 2]\n").unwrap_err();
        assert_eq!(e.message, "'steps' is not a whole number: .inf");
        // Strings stay type errors.
        let e = parse("inner: {lr: 1, name: a, steps: many}\npair: [1, 2]\n").unwrap_err();
        assert!(e.message.starts_with("wrong type"), "{}", e.message);
    }
}
