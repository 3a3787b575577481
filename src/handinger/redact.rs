//! Secrets out of text: the API key and the base URL's userinfo never reach a
//! result, a log line or an error, even when the other side echoes them.

use reqwest::Url;

use crate::key::ApiKey;

/// What is replaced for a secret.
const MASK: &str = "[redacted]";
/// Shorter secrets are not searched for: masking every "a" would garble answers.
const MIN_SECRET_CHARS: usize = 6;

/// Replaces the secrets of one request wherever they occur.
#[derive(Debug)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(key: &ApiKey, base_url: &Url) -> Self {
        let mut secrets = vec![key.expose().to_owned()];
        // JSON bodies carry the key escaped when it holds quotes or backslashes.
        if let Ok(json) = serde_json::to_string(key.expose()) {
            secrets.push(json[1..json.len() - 1].to_owned());
        }
        // Userinfo as the URL spells it (percent-encoded) and decoded.
        for part in [base_url.password().unwrap_or(""), base_url.username()] {
            secrets.push(part.to_owned());
            secrets.push(percent_decoded(part));
        }
        secrets.retain(|s| s.chars().count() >= MIN_SECRET_CHARS);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` with every secret masked.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Every string (and key) in a parsed JSON value with every secret masked:
    /// JSON can spell a secret with `\uXXXX` escapes, which only decoding shows.
    pub fn value(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) if self.secrets.iter().any(|s| text.contains(s.as_str())) => {
                *text = self.text(text);
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item)),
            Value::Object(map) => {
                if map
                    .keys()
                    .any(|k| self.secrets.iter().any(|s| k.contains(s.as_str())))
                {
                    let entries = std::mem::take(map);
                    *map = entries
                        .into_iter()
                        .map(|(k, v)| (self.text(&k), v))
                        .collect();
                }
                map.values_mut().for_each(|item| self.value(item));
            }
            _ => {}
        }
    }

    /// A response body with every secret masked, before it is parsed or shown.
    pub fn bytes(&self, body: Vec<u8>) -> Vec<u8> {
        let mut body = body;
        for secret in &self.secrets {
            body = replace_bytes(&body, secret.as_bytes(), MASK.as_bytes());
        }
        body
    }
}

/// `%XX` sequences decoded (as URL userinfo is spelled); invalid UTF-8 is kept
/// lossily, which only widens what is masked.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let Some(first) = find(haystack, needle, 0) else {
        return haystack.to_vec();
    };
    let mut out = Vec::with_capacity(haystack.len());
    out.extend_from_slice(&haystack[..first]);
    out.extend_from_slice(with);
    let mut start = first + needle.len();
    while let Some(next) = find(haystack, needle, start) {
        out.extend_from_slice(&haystack[start..next]);
        out.extend_from_slice(with);
        start = next + needle.len();
    }
    out.extend_from_slice(&haystack[start..]);
    out
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

/// A URL as it may be shown: userinfo removed.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
    }
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> ApiKey {
        ApiKey::new(text.to_owned())
    }

    #[test]
    fn the_key_and_userinfo_are_masked_in_text_and_bodies() {
        let url = Url::parse("https://bob:hunter22@api.example/").unwrap();
        let redactor = Redactor::new(&key("hdg_live_abcdef"), &url);
        assert_eq!(
            redactor.text("bad key hdg_live_abcdef for bob at hunter22"),
            "bad key [redacted] for bob at [redacted]",
            "a 3-letter user name is too short to mask"
        );
        let body = br#"{"error":"key hdg_live_abcdef, again hdg_live_abcdef"}"#.to_vec();
        assert_eq!(
            redactor.bytes(body),
            br#"{"error":"key [redacted], again [redacted]"}"#.to_vec()
        );
        assert_eq!(display_url(&url), "https://api.example/");
    }

    #[test]
    fn secrets_spelled_with_json_escapes_or_percent_encoding_are_masked_once_decoded() {
        let url = Url::parse("https://user%40corp:p%40ss%2Fword99@api.example/").unwrap();
        let redactor = Redactor::new(&key("hdg_live_abcdef"), &url);
        let body = br#"{"error":"hdg_live_abcdef","list":["hdg_live_abcdef"],
                        "hdg_live_abcdef":1,"pw":"p@ss/word99","user":"user@corp"}"#;
        let mut value: serde_json::Value =
            serde_json::from_slice(&redactor.bytes(body.to_vec())).unwrap();
        redactor.value(&mut value);
        let shown = value.to_string();
        for secret in ["hdg_live_abcdef", "p@ss/word99", "user@corp"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(value["error"], "[redacted]");
        assert_eq!(value["[redacted]"], 1);
    }

    #[test]
    fn a_key_with_json_special_characters_is_masked_in_its_escaped_form_too() {
        let url = Url::parse("https://api.example/").unwrap();
        let redactor = Redactor::new(&key(r#"hdg"quoted"key"#), &url);
        let body = br#"{"error":"hdg\"quoted\"key"}"#.to_vec();
        assert_eq!(redactor.bytes(body), br#"{"error":"[redacted]"}"#.to_vec());
    }
}
