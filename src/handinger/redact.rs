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
        if let Some(password) = base_url.password() {
            secrets.push(password.to_owned());
        }
        if !base_url.username().is_empty() {
            secrets.push(base_url.username().to_owned());
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

    /// A response body with every secret masked, before it is parsed or shown.
    pub fn bytes(&self, body: Vec<u8>) -> Vec<u8> {
        let mut body = body;
        for secret in &self.secrets {
            body = replace_bytes(&body, secret.as_bytes(), MASK.as_bytes());
        }
        body
    }
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
    fn a_key_with_json_special_characters_is_masked_in_its_escaped_form_too() {
        let url = Url::parse("https://api.example/").unwrap();
        let redactor = Redactor::new(&key(r#"hdg"quoted"key"#), &url);
        let body = br#"{"error":"hdg\"quoted\"key"}"#.to_vec();
        assert_eq!(redactor.bytes(body), br#"{"error":"[redacted]"}"#.to_vec());
    }
}
