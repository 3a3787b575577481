//! Task ids made by the bridge, so that every task can be found again.

/// Longest task id accepted from a caller (the bridge's own are 26 characters).
pub const MAX_TASK_ID_CHARS: usize = 128;

const ID_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters after the `tsk_` prefix: 22 base62 characters, about 130 bits.
pub const TASK_ID_RANDOM_CHARS: usize = 22;

/// A fresh task id: `tsk_` and 22 random base62 characters from the operating
/// system's random source. Made here, not by the server, so that every task can
/// be found again after a timeout or a restart.
pub fn new_task_id() -> String {
    let mut id = String::from("tsk_");
    // Rejection sampling keeps every character equally likely: bytes of 248 and
    // above (4 x 62) are drawn again.
    let mut bytes = [0u8; 64];
    while id.len() < 4 + TASK_ID_RANDOM_CHARS {
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        for byte in bytes {
            if byte < 248 && id.len() < 4 + TASK_ID_RANDOM_CHARS {
                id.push(ID_ALPHABET[usize::from(byte % 62)] as char);
            }
        }
    }
    id
}

/// Whether `id` can name a task: 1 to [`MAX_TASK_ID_CHARS`] ASCII letters, digits,
/// `_` and `-` (the API's ids, `tsk_` and base62, and the bridge's own). Checked
/// before any request, so an id can never leave its path segment (`.`, `..`, `/`,
/// `?`, `#`, `%2e`) and take the caller's key to another endpoint.
pub fn is_task_id(id: &str) -> bool {
    (1..=MAX_TASK_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn task_ids_have_the_documented_shape_and_do_not_repeat() {
        let ids: HashSet<String> = (0..10_000).map(|_| new_task_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            let rest = id.strip_prefix("tsk_").expect("prefix");
            assert_eq!(rest.len(), TASK_ID_RANDOM_CHARS);
            assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
    }

    #[test]
    fn only_ids_of_the_api_alphabet_are_task_ids() {
        for good in [
            "tsk_abc",
            "tsk_2aB9",
            "a",
            "my-task_1",
            &"x".repeat(MAX_TASK_ID_CHARS),
        ] {
            assert!(is_task_id(good), "{good}");
        }
        let long = "x".repeat(MAX_TASK_ID_CHARS + 1);
        for bad in [
            "",
            ".",
            "..",
            "/",
            "tsk/../x",
            "a?b",
            "a#b",
            "%2e",
            "%2e%2e",
            "tsk x",
            "tsk\u{e9}",
            "tsk\n",
            &long,
        ] {
            assert!(!is_task_id(bad), "{bad:?}");
        }
    }
}
