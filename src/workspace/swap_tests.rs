//! Files swapped under the check, as an attacker would, while attaching runs in
//! a loop: whatever the race gives, no byte from outside the workspace is read.
//! (Through the server, tests/security.rs tries the same.)

use std::{
    io::Read,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use super::{AttachLimits, RootSource, Workspace};

#[path = "../../tests/support/swap.rs"]
mod swap;
use swap::keep_exchanging;

const LIMITS: AttachLimits = AttachLimits {
    max_file_bytes: 1 << 20,
    max_total_bytes: 1 << 20,
    max_files: 4,
    allow_hard_links: false,
};

/// Attach `given` while its entry is being swapped, until both outcomes were seen
/// (sent, and refused) at least `rounds` times in all, or 20 s passed: the race
/// must really have run both ways for the test to mean anything. Every upload
/// body (read from the checked handle, as the upload reads it) must be the
/// inside file's bytes.
fn race(root: &Path, given: &str, rounds: usize) -> (usize, usize) {
    let workspace = Workspace::new(&[root.to_owned()], RootSource::Configured);
    let (mut sent, mut refused) = (0, 0);
    let budget = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (sent + refused < rounds || sent == 0 || refused == 0)
        && std::time::Instant::now() < budget
    {
        match workspace.attach(&[given.to_owned()], LIMITS) {
            Ok(files) => {
                let mut bytes = Vec::new();
                (&files[0].file).read_to_end(&mut bytes).unwrap();
                assert_eq!(bytes, b"inside bytes", "outside bytes would have been sent");
                sent += 1;
            }
            Err(_) => refused += 1,
        }
    }
    (sent, refused)
}

#[test]
fn a_file_swapped_for_a_symlink_mid_check_never_sends_outside_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "OUTSIDE SECRET").unwrap();
    std::fs::write(root.join("a.txt"), "inside bytes").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("swap")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    keep_exchanging(root.clone(), "a.txt", "swap", stop.clone());
    let (sent, refused) = race(&root, "a.txt", 2000);
    stop.store(true, Ordering::Relaxed);
    eprintln!("file swap: {sent} sent, {refused} refused, 0 outside");
    assert!(sent > 0 && refused > 0, "the race ran both ways");
}

#[test]
fn a_directory_component_swapped_for_a_symlink_never_sends_outside_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(root.join("sub/a.txt"), "inside bytes").unwrap();
    std::fs::write(outside.join("a.txt"), "OUTSIDE SECRET").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("swap")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    keep_exchanging(root.clone(), "sub", "swap", stop.clone());
    let (sent, refused) = race(&root, "sub/a.txt", 2000);
    stop.store(true, Ordering::Relaxed);
    eprintln!("directory swap: {sent} sent, {refused} refused, 0 outside");
    assert!(sent > 0 && refused > 0, "the race ran both ways");
}
