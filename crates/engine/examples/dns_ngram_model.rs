//! Builds the DNS heuristics' bundled trigram model (crates/engine/src/dns/ngram.bin) from
//! lists of real names:
//!
//! ```sh
//! apt-get install wamerican publicsuffix
//! cargo run -p logward-engine --example dns_ngram_model -- \
//!     crates/engine/src/dns/ngram.bin \
//!     /usr/share/dict/american-english /usr/share/publicsuffix/public_suffix_list.dat
//! ```
//!
//! Each input line's first word is a name: `//` and `#` lines are comments, a leading `*.` or
//! `!` (the public suffix list's wildcards and exceptions) is dropped, and a dotted name gives
//! each of its labels. Words with an apostrophe or a letter outside ASCII are skipped.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, inputs)) = args.split_first().filter(|(_, i)| !i.is_empty()) else {
        eprintln!("usage: dns_ngram_model OUT.bin LIST...");
        return ExitCode::from(2);
    };
    let mut texts = Vec::new();
    for path in inputs {
        match std::fs::read(path) {
            Ok(b) => texts.push(String::from_utf8_lossy(&b).into_owned()),
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let labels = texts.iter().flat_map(|t| t.lines()).flat_map(|line| {
        let word = line.split_whitespace().next().unwrap_or("");
        let word = if word.starts_with("//") || word.starts_with('#') || word.contains('\'') {
            ""
        } else {
            word.trim_start_matches("*.").trim_start_matches('!')
        };
        word.split('.').filter(|l| !l.is_empty())
    });
    let (bytes, n) = logward_engine::dns::ngram::build(labels);
    if let Err(e) = std::fs::write(out, &bytes) {
        eprintln!("{out}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{out}: {n} distinct labels, {} bytes", bytes.len());
    ExitCode::SUCCESS
}
