//! A strict JSON reader (the grammar `JSON.parse` accepts) that writes what
//! `JSON.stringify` would write back. It never panics and never recurses deeper than
//! [`MAX_DEPTH`], whatever the input.

use std::collections::HashMap;

use super::number::write_number;
use super::string::{push_char, push_unicode_escape};

/// Deeper documents are refused: the reader recurses once per level, and session data
/// nested this deep is an attack, not a session.
const MAX_DEPTH: usize = 256;

/// Why a text is not one JSON document (as `JSON.parse` would refuse it), or is nested
/// too deeply for this reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {reason}")]
pub struct JsonError {
    offset: usize,
    reason: &'static str,
}

impl JsonError {
    /// The byte offset in the input where reading stopped.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

type Result<T> = std::result::Result<T, JsonError>;

/// Object members as read: the key as a canonical string literal (quotes included) and the
/// canonical value text.
type RawMembers = Vec<(String, String)>;

pub(super) struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Parser {
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn error(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// The unread input.
    fn rest(&self) -> &[u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or(&[])
    }

    /// JSON whitespace only (space, tab, LF, CR): `JSON.parse` refuses a BOM or NBSP too.
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    /// The whole input as one document.
    pub(super) fn document(mut self, out: &mut String) -> Result<()> {
        self.skip_ws();
        self.value(out)?;
        self.finish()
    }

    fn finish(mut self) -> Result<()> {
        self.skip_ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(self.error("unexpected text after the document"))
        }
    }

    /// The members of a top-level object with their keys decoded, or `None` for any other
    /// valid document.
    pub(super) fn top_level_members(mut self) -> Result<Option<Vec<(String, String)>>> {
        self.skip_ws();
        if self.peek() != Some(b'{') {
            let mut scratch = String::new();
            self.document(&mut scratch)?;
            return Ok(None);
        }
        let start = self.pos;
        let members = self.object_members()?;
        self.finish()?;
        let mut decoded = Vec::with_capacity(members.len());
        for (literal, value) in members {
            // The literal is canonical JSON, so the only thing serde_json can refuse here
            // is a lone surrogate, which a Rust String cannot hold.
            let key: String = serde_json::from_str(&literal).map_err(|_| JsonError {
                offset: start,
                reason: "an object key holds a lone UTF-16 surrogate",
            })?;
            decoded.push((key, value));
        }
        Ok(Some(decoded))
    }

    fn value(&mut self, out: &mut String) -> Result<()> {
        match self.peek() {
            Some(b'{') => {
                let members = self.object_members()?;
                write_object(&members, out);
                Ok(())
            }
            Some(b'[') => self.array(out),
            Some(b'"') => self.string(out),
            Some(b't') => self.literal("true", out),
            Some(b'f') => self.literal("false", out),
            Some(b'n') => self.literal("null", out),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn enter(&mut self) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.depth += 1;
        Ok(())
    }

    /// Reads `{…}` into members in JavaScript order, a repeated key keeping its first
    /// position and its last value (what `JSON.parse` builds).
    fn object_members(&mut self) -> Result<RawMembers> {
        self.enter()?;
        self.expect(b'{', "expected '{'")?;
        let mut members: RawMembers = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a string key"));
                }
                let mut key = String::new();
                self.string(&mut key)?;
                self.skip_ws();
                self.expect(b':', "expected ':'")?;
                self.skip_ws();
                let mut value = String::new();
                self.value(&mut value)?;
                match seen.get(&key).and_then(|&i| members.get_mut(i)) {
                    Some(member) => member.1 = value,
                    None => {
                        seen.insert(key.clone(), members.len());
                        members.push((key, value));
                    }
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or '}'")),
                }
            }
        }
        self.depth -= 1;
        // Keys are canonical literals, so an index key is exactly `"digits"`.
        members.sort_by_key(|(literal, _)| {
            let inner = literal
                .strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or("");
            super::array_index(inner).map_or((1, 0), |i| (0, i))
        });
        Ok(members)
    }

    fn array(&mut self, out: &mut String) -> Result<()> {
        self.enter()?;
        self.expect(b'[', "expected '['")?;
        out.push('[');
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                self.value(out)?;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        out.push(',');
                    }
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or ']'")),
                }
            }
        }
        out.push(']');
        self.depth -= 1;
        Ok(())
    }

    fn literal(&mut self, word: &'static str, out: &mut String) -> Result<()> {
        if self.rest().starts_with(word.as_bytes()) {
            self.pos += word.len();
            out.push_str(word);
            Ok(())
        } else {
            Err(self.error("unexpected character"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self, out: &mut String) -> Result<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        // Rust's float parsing is correctly rounded, like JavaScript's; out-of-range
        // magnitudes become ±infinity (written as null), as in JavaScript.
        let text = self.text.get(start..self.pos).unwrap_or("");
        let value: f64 = text.parse().map_err(|_| self.error("bad number"))?;
        write_number(value, out);
        Ok(())
    }

    /// Reads a string literal and writes its canonical form.
    fn string(&mut self, out: &mut String) -> Result<()> {
        self.expect(b'"', "expected '\"'")?;
        out.push('"');
        loop {
            let run_start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // Run boundaries sit on ASCII bytes, so they are char boundaries.
            out.push_str(self.text.get(run_start..self.pos).unwrap_or(""));
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    out.push('"');
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(out)?;
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<()> {
        let Some(byte) = self.peek() else {
            return Err(self.error("unterminated string"));
        };
        self.pos += 1;
        let c = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(out),
            _ => return Err(self.error("bad escape")),
        };
        push_char(c, out);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let hex = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("bad \\u escape"))?;
        let unit = u32::from_str_radix(hex, 16).map_err(|_| self.error("bad \\u escape"))?;
        self.pos += 4;
        Ok(unit)
    }

    /// `\uXXXX`, pairing surrogates when a high one is directly followed by a low one;
    /// a lone surrogate stays an escape, as `JSON.stringify` writes it.
    fn unicode_escape(&mut self, out: &mut String) -> Result<()> {
        let unit = self.hex4()?;
        if (0xD800..0xDC00).contains(&unit) && self.rest().starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                match char::from_u32(code) {
                    Some(c) => push_char(c, out),
                    None => return Err(self.error("bad surrogate pair")),
                }
                return Ok(());
            }
            // Not a pair: the high surrogate stands alone; read the next escape afresh.
            self.pos = save;
        }
        match char::from_u32(unit) {
            Some(c) => push_char(c, out),
            None => push_unicode_escape(unit, out),
        }
        Ok(())
    }
}

/// Writes members (keys already canonical literals, already in JavaScript order).
fn write_object(members: &[(String, String)], out: &mut String) {
    out.push('{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
}
