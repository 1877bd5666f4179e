//! Domain generation algorithms of published malware families, reimplemented after their
//! public descriptions (reverse-engineering write-ups and DGArchive's family notes) so the DGA
//! heuristic can be measured on labelled names. The shapes — alphabet, lengths, how
//! characters are chosen — follow each family; the seeds and exact arithmetic need not match
//! the malware's, since only the names' shape matters to the heuristic.

/// A small deterministic generator (splitmix64) for the families that draw random numbers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn letters(r: &mut Rng, alphabet: &[u8], len: u64) -> String {
    (0..len)
        .map(|_| char::from(alphabet[r.below(alphabet.len() as u64) as usize]))
        .collect()
}

const AZ: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// Ramnit: a Park–Miller style generator, 8–19 letters from a–y, `.com`.
pub fn ramnit(seed: u32, n: usize) -> Vec<String> {
    let mut s = seed;
    let mut rand = |m: u32| {
        let ix = 16807u32
            .wrapping_mul(s % 127_773)
            .wrapping_sub(2836u32.wrapping_mul(s / 127_773));
        s = ix;
        ix % m
    };
    (0..n)
        .map(|_| {
            let len = rand(12) + 8;
            let l: String = (0..len)
                .map(|_| char::from(b'a' + rand(25) as u8))
                .collect();
            format!("{l}.com")
        })
        .collect()
}

/// CryptoLocker: date-seeded xorshifts, 12–15 letters, one of seven TLDs.
pub fn cryptolocker(n: usize) -> Vec<String> {
    let tlds = ["com", "net", "biz", "ru", "org", "co.uk", "info"];
    let mut out = Vec::new();
    for i in 0..n as u32 {
        let (mut y, mut m, mut d) = (2013u32 + i / 365, 1 + (i / 28) % 12, 1 + i % 28);
        d = d.wrapping_add(i);
        let mut s = String::new();
        let len = 12 + (y ^ m ^ d ^ i) % 4;
        for _ in 0..len {
            y = ((y ^ y.wrapping_mul(8)) >> 11) ^ ((y & 0xFFFF_FFF0) << 17);
            m = ((m ^ m.wrapping_mul(4)) >> 25) ^ ((m & 0xFFFF_FFF8) << 4);
            d = ((d ^ (d << 13)) >> 19) ^ ((d & 0xFFFF_FFFE) << 12);
            s.push(char::from(b'a' + ((y ^ m ^ d) % 25) as u8));
        }
        out.push(format!("{s}.{}", tlds[i as usize % tlds.len()]));
    }
    out
}

/// Necurs: 7–21 letters, many TLDs.
pub fn necurs(r: &mut Rng, n: usize) -> Vec<String> {
    let tlds = [
        "ac", "bz", "cx", "de", "kz", "la", "nf", "pw", "ru", "tv", "ug", "xxx",
    ];
    (0..n)
        .map(|_| {
            let len = 7 + r.below(15);
            let t = tlds[r.below(tlds.len() as u64) as usize];
            format!("{}.{t}", letters(r, AZ, len))
        })
        .collect()
}

/// Corebot: 12–23 characters from an alphabet without look-alikes (no 0, 1, 2, i, o).
pub fn corebot(r: &mut Rng, n: usize) -> Vec<String> {
    let alphabet = b"abcdefghjklmnpqrstuvwxyz3456789";
    (0..n)
        .map(|_| {
            let len = 12 + r.below(12);
            format!("{}.ddns.net", letters(r, alphabet, len))
        })
        .collect()
}

/// Hash-named families (Bamital's MD5 hex, Dyre's letter + SHA-256 hex): hex digests.
pub fn hex_digest(r: &mut Rng, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                format!("{:016x}{:016x}.info", r.next(), r.next())
            } else {
                let first = char::from(b'a' + r.below(26) as u8);
                format!(
                    "{first}{:016x}{:016x}{:x}.cc",
                    r.next(),
                    r.next(),
                    r.below(16)
                )
            }
        })
        .collect()
}

/// Simda: pronounceable, consonants and vowels alternating, 8–11 characters.
pub fn simda(r: &mut Rng, n: usize) -> Vec<String> {
    let consonants: &[u8] = b"qwrtpsdfghjklzxcvbnm";
    let vowels: &[u8] = b"eyuioa";
    (0..n)
        .map(|_| {
            let len = 8 + r.below(4);
            let s: String = (0..len)
                .map(|i| {
                    let set = if i % 2 == 0 { consonants } else { vowels };
                    char::from(set[r.below(set.len() as u64) as usize])
                })
                .collect();
            format!("{s}.com")
        })
        .collect()
}

/// Conficker.C: 4–9 letters (most are too short for the heuristic to judge).
pub fn conficker(r: &mut Rng, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let len = 4 + r.below(6);
            format!("{}.org", letters(r, AZ, len))
        })
        .collect()
}

/// Banjori: the first four letters of a fixed base name replaced each day.
pub fn banjori(r: &mut Rng, n: usize) -> Vec<String> {
    let base = "earnestnessbiophysicalohax";
    (0..n)
        .map(|_| format!("{}{}.com", letters(r, AZ, 4), &base[4..]))
        .collect()
}

/// Suppobox: two English words joined (a dictionary DGA, made to look real).
pub fn suppobox(r: &mut Rng, n: usize) -> Vec<String> {
    let words = [
        "heavy", "paper", "market", "thought", "father", "country", "table", "little", "summer",
        "between", "general", "follow", "several", "figure", "whether", "ground", "morning",
        "present", "picture", "strong", "season", "history", "travel", "because", "remember",
        "weather", "people", "window", "children", "mother", "before", "animal", "beauty",
        "answer", "garden", "letter", "silver", "journey", "doctor", "winter",
    ];
    (0..n)
        .map(|_| {
            let a = words[r.below(words.len() as u64) as usize];
            let b = words[r.below(words.len() as u64) as usize];
            format!("{a}{b}.net")
        })
        .collect()
}

/// Every family, by name, `n` names each.
pub fn all(n: usize) -> Vec<(&'static str, Vec<String>)> {
    let mut r = Rng::new(17);
    vec![
        ("ramnit", ramnit(0x2A3B_4C5D, n)),
        ("cryptolocker", cryptolocker(n)),
        ("necurs", necurs(&mut r, n)),
        ("corebot", corebot(&mut r, n)),
        ("hex digest", hex_digest(&mut r, n)),
        ("simda", simda(&mut r, n)),
        ("conficker", conficker(&mut r, n)),
        ("banjori", banjori(&mut r, n)),
        ("suppobox", suppobox(&mut r, n)),
    ]
}
