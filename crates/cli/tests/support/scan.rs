//! What the `logward scan` tests of binary inputs share: the binary run as an operator would
//! in UTC (no state directory from the environment), and its NDJSON output read back.

use std::process::{Command, Output};

use serde_json::Value;

/// `logward ARGS` with `TZ=UTC` and no `LOGWARD_STATE_DIR`; whatever its exit status.
pub fn logward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(args)
        .env("TZ", "UTC")
        .env_remove("LOGWARD_STATE_DIR")
        .output()
        .expect("run logward")
}

/// The JSON object of each line of `o`'s standard output.
pub fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}")))
        .collect()
}
