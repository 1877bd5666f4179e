//! What every source that follows a file by its path shares, split as Vector's file source
//! is: [`watch`] (waking on changes), [`fingerprint`] (a file's first bytes), [`checkpoint`]
//! (where to resume, and finding a checkpoint's file after rotations) and [`rotation`]
//! (the path's rotated siblings). The text source ([`super::file`]) and the utmp source
//! ([`super::utmp`]) are built on them.

pub(crate) mod checkpoint;
pub(crate) mod fingerprint;
pub(crate) mod rotation;
pub(crate) mod watch;
