//! Loading `data/vectors.json` and reading its fields: serde_json for scalars, and the
//! crate's own order-preserving reader for objects whose key order matters (serde_json's
//! map is sorted without `preserve_order`, which this workspace does not enable).

#![allow(dead_code)]

pub(crate) mod cookie_session_http;
pub(crate) mod express_http;
pub(crate) mod koa_generic_http;
pub(crate) mod koa_http;

use std::collections::BTreeSet;

use satchel_connect::OrderedData;
use serde_json::value::RawValue;
use serde_json::Value;

/// One vector: parsed, and as JSON text for order-sensitive lookups.
pub(crate) struct Vector {
    pub(crate) raw: String,
    pub(crate) v: Value,
}

impl Vector {
    pub(crate) fn case(&self) -> &str {
        self.str("/case")
    }

    pub(crate) fn kind(&self) -> &str {
        self.str("/kind")
    }

    pub(crate) fn library(&self) -> &str {
        self.str("/library")
    }

    /// A string at a JSON pointer; panics (test failure) when absent.
    pub(crate) fn str(&self, pointer: &str) -> &str {
        self.v
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} missing in {}", self.raw_case()))
    }

    pub(crate) fn opt_str(&self, pointer: &str) -> Option<&str> {
        self.v.pointer(pointer).and_then(Value::as_str)
    }

    pub(crate) fn i64(&self, pointer: &str) -> i64 {
        self.v
            .pointer(pointer)
            .and_then(Value::as_i64)
            .unwrap_or_else(|| panic!("{pointer} missing in {}", self.raw_case()))
    }

    pub(crate) fn get(&self, pointer: &str) -> Option<&Value> {
        self.v.pointer(pointer).filter(|v| !v.is_null())
    }

    pub(crate) fn strings(&self, pointer: &str) -> Vec<String> {
        match self.v.pointer(pointer) {
            Some(Value::Array(a)) => a
                .iter()
                .map(|s| s.as_str().expect("string").to_owned())
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    /// `[[name, arg…], …]` at a pointer (empty when absent).
    pub(crate) fn commands(&self, pointer: &str) -> Vec<Vec<String>> {
        match self.v.pointer(pointer) {
            Some(Value::Array(cmds)) => cmds
                .iter()
                .map(|c| {
                    c.as_array()
                        .expect("command")
                        .iter()
                        .map(|a| a.as_str().expect("string arg").to_owned())
                        .collect()
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `inputs.redis_before` as (key, value).
    pub(crate) fn redis_before(&self) -> Vec<(String, String)> {
        match self.v.pointer("/inputs/redis_before") {
            Some(Value::Array(records)) => records
                .iter()
                .map(|r| {
                    (
                        r["key"].as_str().expect("key").to_owned(),
                        r["value"].as_str().expect("value").to_owned(),
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The JSON text at `path` (object keys only), canonical and in the file's key order.
    pub(crate) fn json_at(&self, path: &[&str]) -> Option<String> {
        let mut text = self.raw.clone();
        for key in path {
            let members = OrderedData::from_json_object(&text).ok()??;
            text = members.get(key)?.to_owned();
        }
        (text != "null").then_some(text)
    }

    fn raw_case(&self) -> String {
        self.v["case"].as_str().unwrap_or("?").to_owned()
    }
}

pub(crate) struct Vectors {
    pub(crate) fixtures: Value,
    pub(crate) fixture_session: OrderedData,
    pub(crate) all: Vec<Vector>,
}

pub(crate) fn load() -> Vectors {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/vectors.json"
    ))
    .expect("tests/data/vectors.json");
    #[derive(serde::Deserialize)]
    struct File<'a> {
        #[serde(borrow)]
        vectors: Vec<&'a RawValue>,
        fixtures: &'a RawValue,
    }
    let file: File<'_> = serde_json::from_str(&text).expect("vectors.json shape");
    let fixtures_raw = file.fixtures.get();
    let session_text = OrderedData::from_json_object(fixtures_raw)
        .expect("json")
        .expect("object")
        .get("session_data")
        .expect("fixtures.session_data")
        .to_owned();
    Vectors {
        fixtures: serde_json::from_str(fixtures_raw).expect("fixtures"),
        fixture_session: OrderedData::from_json_object(&session_text)
            .expect("json")
            .expect("object"),
        all: file
            .vectors
            .iter()
            .map(|raw| Vector {
                raw: raw.get().to_owned(),
                v: serde_json::from_str(raw.get()).expect("vector"),
            })
            .collect(),
    }
}

/// What a checker could reproduce of one http-exchange vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Coverage {
    /// Every Set-Cookie header reproduced as a browser reads it ([`parsed_set_cookies`]),
    /// every Redis command byte for byte, and the
    /// request's cookie/record read as Node's handler saw it.
    Full,
    /// Node's own quirk that we deliberately do not copy (the read side is still checked).
    IntentionalDifference,
}

/// The name and value of a `Set-Cookie` header.
pub(crate) fn set_cookie_pair(header: &str) -> (&str, &str) {
    let first = header.split(';').next().unwrap_or("");
    first.split_once('=').expect("name=value")
}

/// A `Set-Cookie` header as a browser reads it: the name and value exactly, the
/// attributes as a set, names and values in lowercase (RFC 6265 compares attribute names
/// and keywords case-insensitively) except `Path`'s value, the one that is case-sensitive.
/// Node's spelling and order are not compared: satchel writes the `cookie` crate's.
pub(crate) type ParsedSetCookie = (String, String, BTreeSet<(String, String)>);

/// [`ParsedSetCookie`] of each header, in order.
pub(crate) fn parsed_set_cookies<S: AsRef<str>>(headers: &[S]) -> Vec<ParsedSetCookie> {
    headers
        .iter()
        .map(|header| {
            let mut parts = header.as_ref().split(';');
            let (name, value) = parts
                .next()
                .and_then(|pair| pair.split_once('='))
                .expect("name=value");
            let attributes = parts
                .map(|attribute| {
                    let (k, v) = attribute
                        .trim()
                        .split_once('=')
                        .unwrap_or((attribute.trim(), ""));
                    let k = k.to_ascii_lowercase();
                    let v = if k == "path" {
                        v.to_owned()
                    } else {
                        v.to_ascii_lowercase()
                    };
                    (k, v)
                })
                .collect();
            (name.to_owned(), value.to_owned(), attributes)
        })
        .collect()
}

/// The data object of `handler_saw.session` (or the fixtures' session data).
pub(crate) fn ordered(text: &str) -> OrderedData {
    OrderedData::from_json_object(text)
        .expect("json")
        .expect("object")
}
