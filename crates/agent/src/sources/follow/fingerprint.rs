//! A file's identity beyond its inode: the first bytes (up to `FINGERPRINT_BYTES`), read
//! with `pread` so the reader's position is untouched. A file whose first bytes changed was
//! truncated and written again; a checkpoint's fingerprint tells its file from another one
//! that got the same inode.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use logward_store::{Fingerprint, FINGERPRINT_BYTES};

/// The first bytes of a file (up to `FINGERPRINT_BYTES`).
pub(crate) fn read_head(file: &File) -> io::Result<Vec<u8>> {
    read_at_most(file, FINGERPRINT_BYTES, 0)
}

/// Up to `len` bytes at `offset` (fewer at the end of the file).
pub(crate) fn read_at_most(file: &File, len: usize, offset: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// Whether the file still starts with the bytes `fp` was taken of.
pub(crate) fn head_matches(file: &File, fp: Fingerprint) -> io::Result<bool> {
    let mut head = [0u8; FINGERPRINT_BYTES];
    let Some(want) = usize::try_from(fp.len).ok().and_then(|n| head.get_mut(..n)) else {
        return Ok(false);
    };
    let mut n = 0;
    while n < want.len() {
        match file.read_at(&mut want[n..], n as u64) {
            Ok(0) => return Ok(false),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(fp.matches(want))
}

/// `len` bytes at `offset`, `None` when the file is shorter or unreadable.
pub(crate) fn read_exact_at(file: &File, len: usize, offset: u64) -> Option<Vec<u8>> {
    let mut v = vec![0; len];
    file.read_exact_at(&mut v, offset).ok()?;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn head_matches_follows_the_fingerprint() {
        let dir = std::env::temp_dir().join(format!("logward-file-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("f");
        fs::write(&p, b"first line\nsecond\n").expect("write");
        let f = File::open(&p).expect("open");
        assert!(head_matches(&f, Fingerprint::of(b"first line\n")).expect("read"));
        assert!(!head_matches(&f, Fingerprint::of(b"other line\n")).expect("read"));
        assert!(!head_matches(&f, Fingerprint::of(&[b'x'; 100])).expect("read"));
        assert!(head_matches(&f, Fingerprint::of(b"")).expect("read"));
        assert_eq!(read_head(&f).expect("read"), b"first line\nsecond\n");
        assert_eq!(read_exact_at(&f, 6, 11).as_deref(), Some(&b"second"[..]));
        assert_eq!(read_exact_at(&f, 6, 15), None);
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
