use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An opaque id: a QQ number, a `wxid_…`, a `…@chatroom`, a message id.
///
/// Gateways send ids as JSON numbers or strings, so an id remembers which form it
/// arrived in and is written back the same way; two ids are equal when their text
/// is, whatever the form. Never do arithmetic on one.
#[derive(Clone)]
pub struct Id {
    text: String,
    numeric: bool,
}

impl Id {
    /// An id that travels as a JSON string.
    pub fn text(text: impl Into<String>) -> Self {
        Id {
            text: text.into(),
            numeric: false,
        }
    }

    /// An id that travels as a JSON number.
    pub fn number(n: i64) -> Self {
        Id {
            text: n.to_string(),
            numeric: true,
        }
    }

    /// An id read from text that says nothing of its form (a header): a number
    /// when it reads as one.
    pub fn from_text(text: &str) -> Self {
        match text.parse::<i64>() {
            Ok(n) if n.to_string() == text => Id::number(n),
            _ => Id::text(text),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        Id::number(n)
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id::text(s)
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Id {}

impl Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state)
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Id {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.numeric {
            write!(f, "Id({})", self.text)
        } else {
            write!(f, "Id({:?})", self.text)
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.text.parse::<i64>() {
            Ok(n) if self.numeric => serializer.serialize_i64(n),
            _ => serializer.serialize_str(&self.text),
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = Id;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id (a number or a string)")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id::number(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                i64::try_from(v)
                    .map(Id::number)
                    .map_err(|_| E::custom("id number out of range"))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                if v.is_empty() {
                    return Err(E::custom("id is empty"));
                }
                // Nothing a gateway means as an id holds one, and the report's
                // roll-up lists ids one per line.
                if v.chars().any(char::is_control) {
                    return Err(E::custom("id holds a control character"));
                }
                Ok(Id::text(v))
            }
        }

        deserializer.deserialize_any(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_round_trip_in_their_own_form() {
        let n: Id = serde_json::from_str("123456").unwrap();
        let s: Id = serde_json::from_str("\"wxid_abc\"").unwrap();
        let quoted: Id = serde_json::from_str("\"123456\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "123456");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"wxid_abc\"");
        assert_eq!(serde_json::to_string(&quoted).unwrap(), "\"123456\"");
    }

    #[test]
    fn the_same_text_is_the_same_id_whatever_the_form() {
        assert_eq!(Id::number(42), Id::text("42"));
        assert_ne!(Id::number(42), Id::text("43"));
    }

    #[test]
    fn empty_strings_and_floats_are_not_ids() {
        assert!(serde_json::from_str::<Id>("\"\"").is_err());
        assert!(serde_json::from_str::<Id>("1.5").is_err());
        assert!(serde_json::from_str::<Id>("\"wxid_a\\nwxid_b\"").is_err());
    }
}
