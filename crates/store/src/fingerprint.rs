//! File identity by content: a 64-bit FNV-1a hash of a file's first bytes.
//!
//! Device and inode say which file a checkpoint belongs to while it exists; the fingerprint
//! catches what they cannot — an inode number reused by a new file after delete/create
//! rotation, or a file replaced by a copy. FNV-1a is enough here: the input is at most
//! [`FINGERPRINT_BYTES`] and nobody gains by forging a collision with their own log file's
//! header (the attacker does not choose the first line of a rotated log), and it needs no
//! dependency.

/// How many leading bytes of a file the fingerprint covers.
pub const FINGERPRINT_BYTES: usize = 1024;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The hash of a file's first `len` bytes (`len` ≤ [`FINGERPRINT_BYTES`]). A file shorter
/// than [`FINGERPRINT_BYTES`] when the checkpoint was taken has a shorter fingerprint; it
/// still identifies the file as it grows, because [`Fingerprint::matches`] hashes the same
/// number of bytes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// Number of bytes hashed.
    pub len: u32,
    /// FNV-1a 64 of those bytes.
    pub hash: u64,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

impl Fingerprint {
    /// The fingerprint of a file whose first bytes are `prefix` (only the first
    /// [`FINGERPRINT_BYTES`] are used; pass fewer when the file is shorter).
    pub fn of(prefix: &[u8]) -> Fingerprint {
        let n = prefix.len().min(FINGERPRINT_BYTES);
        let head = prefix.get(..n).unwrap_or(prefix);
        Fingerprint {
            // n ≤ 1024, so this never truncates.
            len: u32::try_from(n).unwrap_or(u32::MAX),
            hash: fnv1a(head),
        }
    }

    /// Whether a file that now starts with `prefix` is the file this fingerprint was taken
    /// of: it must be at least as long as the fingerprinted part and hash the same over it.
    /// An empty fingerprint (taken of an empty file) matches any file.
    pub fn matches(&self, prefix: &[u8]) -> bool {
        let Ok(n) = usize::try_from(self.len) else {
            return false;
        };
        match prefix.get(..n) {
            Some(head) => fnv1a(head) == self.hash,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn covers_at_most_the_first_kib() {
        let mut a = vec![b'x'; 4096];
        let fa = Fingerprint::of(&a);
        assert_eq!(fa.len, 1024);
        a[2000] = b'y';
        assert_eq!(Fingerprint::of(&a), fa);
        a[10] = b'y';
        assert_ne!(Fingerprint::of(&a), fa);
    }

    #[test]
    fn short_file_still_matches_after_growing() {
        let fp = Fingerprint::of(b"Jan  1 00:00:00 host sshd[1]: hello\n");
        assert_eq!(fp.len, 36);
        assert!(fp.matches(b"Jan  1 00:00:00 host sshd[1]: hello\nmore lines\n"));
        assert!(!fp.matches(b"Jan  1 00:00:00 host sshd[1]: HELLO\nmore lines\n"));
        // Truncated below the fingerprinted length: not the same file any more.
        assert!(!fp.matches(b"Jan  1"));
        assert!(Fingerprint::of(b"").matches(b"anything"));
    }
}
