//! Task ids made by the bridge, so that every task can be found again.

use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, Hasher},
    sync::atomic::{AtomicU64, Ordering},
};

const ID_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters after the `tsk_` prefix: 22 base62 characters, about 130 bits.
pub const TASK_ID_RANDOM_CHARS: usize = 22;

/// A fresh task id: `tsk_` and 22 random base62 characters. Made here, not by the
/// server, so that every task can be found again after a timeout or a restart.
pub fn new_task_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut id = String::from("tsk_");
    let mut word = 0u128;
    let mut left = 0;
    for _ in 0..TASK_ID_RANDOM_CHARS {
        if left == 0 {
            // RandomState is seeded from the OS per instance; two hashes give 128 bits.
            let mut bits = [0u64; 2];
            for part in &mut bits {
                let mut hasher = RandomState::new().build_hasher();
                hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
                *part = hasher.finish();
            }
            word = (u128::from(bits[0]) << 64) | u128::from(bits[1]);
            left = 21; // 62^21 < 2^128
        }
        id.push(ID_ALPHABET[(word % 62) as usize] as char);
        word /= 62;
        left -= 1;
    }
    id
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
}
