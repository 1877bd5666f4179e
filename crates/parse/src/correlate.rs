//! The sshd session correlator.

use crate::decoders::Decoded;

#[derive(Debug, Default)]
pub struct Correlator {}

impl Correlator {
    pub fn observe(
        &mut self,
        host: Option<&str>,
        program: Option<&str>,
        pid: Option<u32>,
        decoded: &mut Decoded<'_>,
    ) {
        let _ = (host, program, pid, decoded);
    }
}
