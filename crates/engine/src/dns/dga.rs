//! DGA-likeness of a registered domain's label (`xjw3kq0d9` of `xjw3kq0d9.net`): malware that
//! generates its rendezvous names (a domain generation algorithm) produces strings no person
//! would choose. Each feature is explainable on its own; the score blends them.

use super::ngram::{symbol, Model, Surprise, ALPHABET};

/// Labels shorter than this are not judged: `qq`, `jd`, `163` and `t` are real, and a few
/// characters carry too little evidence either way.
pub const MIN_LEN: usize = 7;

/// What one label looks like.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Features {
    /// Characters.
    pub len: usize,
    /// Shannon entropy of its characters, bits.
    pub entropy: f32,
    /// Longest run of consonants (letters other than a e i o u y).
    pub consonant_run: usize,
    /// Share of digits, 0..1.
    pub digit_ratio: f32,
    /// Changes between a letter and a digit (`office365` has one, `x7k2q9` five).
    pub digit_switches: usize,
    /// The trigram model's surprise over the label's letter runs (digits and hyphens split
    /// it: `web2print` is `web` and `print`, `slack-imgs` is `slack` and `imgs`, since the
    /// word lists have neither).
    pub surprise: Surprise,
}

/// The features of `label`.
pub fn features(model: &Model<'_>, label: &str) -> Features {
    let bytes = label.as_bytes();
    let mut counts = [0u16; ALPHABET];
    let (mut run, mut longest, mut digits, mut switches) = (0usize, 0usize, 0usize, 0usize);
    let mut prev_digit = None;
    for &b in bytes {
        let digit = b.is_ascii_digit();
        if b.is_ascii_alphanumeric() {
            switches += usize::from(prev_digit.is_some_and(|p| p != digit));
            prev_digit = Some(digit);
        }
        let c = &mut counts[symbol(b)];
        *c = c.saturating_add(1);
        if b.is_ascii_alphabetic() && !matches!(b | 0x20, b'a' | b'e' | b'i' | b'o' | b'u' | b'y') {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
        digits += usize::from(digit);
    }
    let (mut bits, mut chars, mut unlikely) = (0.0, 0usize, 0);
    for part in label
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|p| !p.is_empty())
    {
        let s = model.surprise(part);
        bits += s.bits_per_char * (part.len() + 1) as f32;
        chars += part.len() + 1;
        unlikely += s.unlikely;
    }
    let surprise = Surprise {
        bits_per_char: if chars == 0 { 0.0 } else { bits / chars as f32 },
        unlikely,
    };
    let n = bytes.len().max(1) as f32;
    // H = log2 n − Σ c·log2 c / n, one logarithm per distinct character.
    let sum: f32 = counts
        .iter()
        .filter(|&&c| c > 1)
        .map(|&c| f32::from(c) * f32::from(c).log2())
        .sum();
    let entropy = (n.log2() - sum / n).max(0.0);
    Features {
        len: bytes.len(),
        entropy,
        consonant_run: longest,
        digit_ratio: digits as f32 / n,
        digit_switches: switches,
        surprise,
    }
}

/// Whether a label is one the heuristic judges: long enough, not punycode (an IDN's encoding
/// looks random by construction) and not a service label (`_tcp`).
pub fn judged(label: &str) -> bool {
    label.len() >= MIN_LEN && !label.starts_with("xn--") && !label.starts_with('_')
}

/// Registered domains every machine of a kind asks for whose names are abbreviations no
/// model of words can tell from random: Windows' connectivity probes. A network's own are
/// for the DNS check's trusted domains (docs/DNS.md).
const KNOWN_BENIGN: &[&str] = &["msftncsi.com", "msftconnecttest.com"];

/// Whether `registered` is one of [`KNOWN_BENIGN`].
pub fn known_benign(registered: &str) -> bool {
    KNOWN_BENIGN.contains(&registered)
}

/// The DGA score, 0..1 (0.5 where the evidence for and against balances).
///
/// The n-gram surprise carries the weight: real labels cost 3–4.8 bits a character under
/// the bundled model, random letters 6–9, hex digests over 10. Longer labels carry more
/// evidence. Entropy, consonant runs and letter/digit switches only add where they are
/// extreme, since the surprise already sees most of what they measure. The weights were
/// chosen on one half of the labelled set of crates/engine/tests/dns_heuristics and are
/// measured on the other (docs/DNS.md has the figures).
pub fn score(f: &Features) -> f32 {
    let mut z = 2.0 * (f.surprise.bits_per_char - 5.0);
    z += 0.05 * (f.len as f32 - 10.0);
    z += 0.3 * (f.consonant_run as f32 - 5.0).max(0.0);
    z += 0.5 * (f.digit_switches as f32 - 2.0).max(0.0);
    z += 0.5 * (f.entropy - 3.8).max(0.0);
    1.0 / (1.0 + (-z).exp())
}

/// The reasons behind a score, in words: only the features that stand out.
pub fn reasons(f: &Features) -> Vec<String> {
    let mut r = Vec::new();
    if f.surprise.bits_per_char > 5.0 {
        r.push(format!(
            "unlikely letter sequences ({:.1} bits a character, {} rare trigrams)",
            f.surprise.bits_per_char, f.surprise.unlikely
        ));
    }
    if f.entropy > 3.5 {
        r.push(format!("high entropy {:.1} bits", f.entropy));
    }
    if f.consonant_run >= 5 {
        r.push(format!("consonant run {}", f.consonant_run));
    }
    if f.digit_switches >= 3 {
        r.push(format!(
            "digits mixed in ({:.0} %, {} switches)",
            f.digit_ratio * 100.0,
            f.digit_switches
        ));
    }
    if f.len >= 16 {
        r.push(format!("long label {} characters", f.len));
    }
    r
}
