//! The worker's output while a call waits: one `GET /api/workers/{id}?taskId=`
//! per progress tick, at most, and only while progress reaches someone. The
//! latest line goes into the progress message; the text so far becomes the
//! partial answer of a result that is still running.
//!
//! The worker's text is untrusted: a line is cut to [`MAX_LINE_CHARS`], and
//! control and bidirectional-override characters are dropped, so it can neither
//! redraw a terminal nor reorder what a reader sees.

/// Longest line of worker output a progress message carries.
pub const MAX_LINE_CHARS: usize = 120;

/// Longest partial answer a running result carries.
pub const MAX_PARTIAL_CHARS: usize = 4_000;

/// What the worker has produced so far, as last seen.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LiveOutput {
    /// The latest line already reported.
    pub line: Option<String>,
    /// The text so far, cleaned.
    pub partial: Option<String>,
}

impl LiveOutput {
    /// Take in the worker's text so far; the new line to report, if it changed.
    pub fn update(&mut self, text: &str) -> Option<String> {
        let cleaned = clean(text, MAX_PARTIAL_CHARS);
        if cleaned.trim().is_empty() {
            return None;
        }
        self.partial = Some(cleaned);
        let line = latest_line(text)?;
        if self.line.as_deref() == Some(line.as_str()) {
            return None;
        }
        self.line = Some(line.clone());
        Some(line)
    }
}

/// Whether a character is dropped from worker text: controls (but newlines and
/// tabs in a partial answer), and the characters that reorder text.
fn dropped(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` without dropped characters, at most `max` characters (the end kept:
/// it is the newest), marked with `…` where cut.
fn clean(text: &str, max: usize) -> String {
    let kept: Vec<char> = text.chars().filter(|c| !dropped(*c)).collect();
    if kept.len() <= max {
        return kept.into_iter().collect();
    }
    let tail: String = kept[kept.len() - (max - 1)..].iter().collect();
    format!("…{tail}")
}

/// The last line of `text` with something in it, cleaned, on one line, at most
/// [`MAX_LINE_CHARS`] characters.
pub fn latest_line(text: &str) -> Option<String> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let line: String = line
        .chars()
        .filter(|c| !dropped(*c))
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let count = line.chars().count();
    Some(if count <= MAX_LINE_CHARS {
        line.to_owned()
    } else {
        let head: String = line.chars().take(MAX_LINE_CHARS - 1).collect();
        format!("{head}…")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_line_is_short_clean_and_reported_once() {
        let mut live = LiveOutput::default();
        assert_eq!(live.update(""), None);
        assert_eq!(
            live.update("Searching\n\nReading \u{1b}[2Jpage \u{202E}one\u{2069}\n"),
            Some("Reading [2Jpage one".to_owned())
        );
        assert_eq!(
            live.update("Searching\nReading \u{1b}[2Jpage \u{202E}one\u{2069}"),
            None
        );
        let long = "x".repeat(500);
        let line = live.update(&format!("a\n{long}")).unwrap();
        assert_eq!(line.chars().count(), MAX_LINE_CHARS);
        assert!(line.ends_with('…'));
        let partial = live.partial.clone().unwrap();
        assert!(partial.starts_with("a\n") && !partial.contains('\u{1b}'));
        live.update(&"y".repeat(MAX_PARTIAL_CHARS * 2));
        let partial = live.partial.unwrap();
        assert_eq!(partial.chars().count(), MAX_PARTIAL_CHARS);
        assert!(partial.starts_with('…'));
    }
}
