//! Swapping directory entries under a running check, for the path-policy race
//! tests (the unit tests in src/workspace include this file too).

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

/// Swap two directory entries atomically, again and again, until `stop`.
pub fn keep_exchanging(dir: PathBuf, a: &'static str, b: &'static str, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                dir.join(a),
                rustix::fs::CWD,
                dir.join(b),
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .expect("renameat2 RENAME_EXCHANGE");
            // Let the checking thread run too, on a loaded machine with two cores.
            std::thread::yield_now();
        }
    });
}
