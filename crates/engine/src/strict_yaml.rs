//! Strict YAML loading for every config (agent, collector, rules) that reports *all* structural
//! errors at once, each at the offending key's own line:column, with a "did you mean" drawn
//! from the keys serde allows there.
//!
//! serde stops at the first error, and serde-saphyr places an unknown key at the first key of
//! its mapping. So the document is also read as a plain event tree (keys with their places and
//! extents); after each error the offending entry is blanked out of the text (spaces, newlines
//! kept, so every other place stays put) and the text deserialized again, until it loads or an
//! error cannot be pinned to an entry.

use saphyr_parser::{Event, Parser};
use serde::de::DeserializeOwned;

use crate::compile::ConfigError;

/// At most this many structural errors per file are reported (each costs a parse).
const MAX_ERRORS: usize = 50;

/// One `key: value` of a mapping in the source.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    /// 1-based line and column of the key.
    line: u64,
    column: u64,
    /// Char range of the whole entry: key start up to the next key or the mapping's end.
    cut: (usize, usize),
    /// (line, column) of the value's first and last character.
    value: ((u64, u64), (u64, u64)),
    /// The path of keys to this entry (sequence items are not named).
    path: Vec<String>,
    /// A sequence item (no key), not a mapping entry.
    item: bool,
}

/// An entry's identity: an item and the one entry of its mapping share their extent.
type Id = (usize, usize, bool);

impl Entry {
    fn id(&self) -> Id {
        (self.cut.0, self.cut.1, self.item)
    }
}

/// A mapping, or a sequence (its entries are then its items).
#[derive(Debug, Clone)]
struct Mapping {
    /// Where the mapping starts (line, column) and ends.
    span: ((u64, u64), (u64, u64)),
    entries: Vec<Entry>,
    seq: bool,
}

/// The places of a document's keys, for errors found after deserializing (semantic checks on
/// fields that carry no `Spanned`).
#[derive(Debug, Clone, Default)]
pub struct Places {
    maps: Vec<Mapping>,
}

impl Places {
    /// Reads the document's mappings; a document the parser refuses has no places.
    pub fn of(text: &str) -> Places {
        let mut b = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let mut events = Vec::new();
        for ev in parser.by_ref() {
            match ev {
                Ok((e, span)) => events.push((
                    e,
                    (span.start.line() as u64, span.start.col() as u64 + 1),
                    (span.end.line() as u64, span.end.col() as u64 + 1),
                    span.start.index(),
                    span.end.index(),
                )),
                Err(_) => return Places::default(),
            }
        }
        b.walk(&events);
        Places { maps: b.maps }
    }

    /// The line:column of the key at `path` (e.g. `["bans", "nft"]`), if it is written.
    pub fn key(&self, path: &[&str]) -> Option<(u64, u64)> {
        self.entries()
            .find(|e| {
                !e.item
                    && e.path.len() + 1 == path.len()
                    && e.path.iter().zip(path).all(|(a, b)| a == b)
                    && e.key == path[path.len() - 1]
            })
            .map(|e| (e.line, e.column))
    }

    /// The line:column of the value at `path`, else of the deepest written key on the way,
    /// else 1:1 — where an error about that setting is best shown.
    pub fn value_or_parent(&self, path: &[&str]) -> (u64, u64) {
        for n in (1..=path.len()).rev() {
            let prefix = &path[..n];
            if let Some(e) = self.entries().find(|e| {
                !e.item
                    && e.path.len() + 1 == n
                    && e.path.iter().zip(prefix).all(|(a, b)| a == b)
                    && e.key == prefix[n - 1]
            }) {
                return if n == path.len() {
                    e.value.0
                } else {
                    (e.line, e.column)
                };
            }
        }
        (1, 1)
    }

    /// The document's top-level keys, in order.
    pub fn top_keys(&self) -> Vec<&str> {
        self.entries()
            .filter(|e| e.path.is_empty() && !e.item)
            .map(|e| e.key.as_str())
            .collect()
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.maps.iter().flat_map(|m| m.entries.iter())
    }
}

type Ev<'a> = (Event<'a>, (u64, u64), (u64, u64), usize, usize);

#[derive(Default)]
struct Builder {
    maps: Vec<Mapping>,
}

impl Builder {
    fn walk(&mut self, events: &[Ev<'_>]) {
        let mut i = 0;
        while i < events.len() {
            match events[i].0 {
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    i = self.node(events, i, &[]);
                }
                _ => i += 1,
            }
        }
    }

    /// Reads the node starting at `i`; returns the index after it.
    fn node(&mut self, events: &[Ev<'_>], i: usize, path: &[String]) -> usize {
        match &events[i].0 {
            Event::MappingStart(..) => {
                let start = events[i].1;
                let slot = self.maps.len();
                self.maps.push(Mapping {
                    span: (start, start),
                    entries: Vec::new(),
                    seq: false,
                });
                let mut entries = Vec::new();
                let mut j = i + 1;
                while j < events.len() && !matches!(events[j].0, Event::MappingEnd) {
                    let key_ev = &events[j];
                    let key = match &key_ev.0 {
                        Event::Scalar(s, ..) => s.to_string(),
                        _ => String::new(),
                    };
                    let k_end = self.skip(events, j, path);
                    if k_end >= events.len() {
                        return k_end;
                    }
                    let mut inner = path.to_vec();
                    inner.push(key.clone());
                    let v_start = events[k_end].1;
                    let v_end_idx = self.node(events, k_end, &inner);
                    let v_end = events[v_end_idx.saturating_sub(1)].2;
                    let cut_end = events.get(v_end_idx).map_or(usize::MAX, |e| e.3);
                    entries.push(Entry {
                        key,
                        line: key_ev.1 .0,
                        column: key_ev.1 .1,
                        cut: (key_ev.3, cut_end),
                        value: (v_start, v_end),
                        path: path.to_vec(),
                        item: false,
                    });
                    j = v_end_idx;
                }
                let end = events.get(j).map_or(start, |e| e.2);
                self.maps[slot].span = (start, end);
                self.maps[slot].entries = entries;
                j + 1
            }
            Event::SequenceStart(..) => {
                let start = events[i].1;
                let slot = self.maps.len();
                self.maps.push(Mapping {
                    span: (start, start),
                    entries: Vec::new(),
                    seq: true,
                });
                let mut items = Vec::new();
                let mut j = i + 1;
                while j < events.len() && !matches!(events[j].0, Event::SequenceEnd) {
                    let first = &events[j];
                    let end = self.node(events, j, path);
                    let v_end = events[end.saturating_sub(1)].2;
                    items.push(Entry {
                        key: String::new(),
                        line: first.1 .0,
                        column: first.1 .1,
                        cut: (first.3, events.get(end).map_or(usize::MAX, |e| e.3)),
                        value: (first.1, v_end),
                        path: path.to_vec(),
                        item: true,
                    });
                    j = end;
                }
                let end = events.get(j).map_or(start, |e| e.2);
                self.maps[slot].span = (start, end);
                self.maps[slot].entries = items;
                j + 1
            }
            _ => i + 1,
        }
    }

    /// Skips a key node (keys that are mappings are not tracked).
    fn skip(&mut self, events: &[Ev<'_>], i: usize, _path: &[String]) -> usize {
        let mut depth = 0usize;
        let mut j = i;
        loop {
            match events.get(j).map(|e| &e.0) {
                None => return j,
                Some(Event::MappingStart(..) | Event::SequenceStart(..)) => depth += 1,
                Some(Event::MappingEnd | Event::SequenceEnd) => depth = depth.saturating_sub(1),
                _ => {}
            }
            j += 1;
            if depth == 0 {
                return j;
            }
        }
    }
}

/// Deserializes `text` strictly (unknown keys refused, YAML 1.2 booleans); on failure, every
/// structural error found, each at its key's place, with a suggestion for a misspelt key.
// `Options` is non_exhaustive: it cannot be built with a struct expression.
#[allow(clippy::field_reassign_with_default)]
pub fn from_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Vec<ConfigError>> {
    let parse = |t: &str| {
        let mut options = serde_saphyr::options::Options::default();
        options.with_snippet = false;
        // YAML 1.1's `y`/`n`/`on`/`off` booleans turn words into `false`.
        options.strict_booleans = true;
        serde_saphyr::from_str_with_options::<T>(t, options)
    };
    let first = match parse(text) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let err = |line: u64, column: u64, message: String| ConfigError {
        file: file.to_owned(),
        line: line.max(1),
        column: column.max(1),
        message,
    };
    let places = Places::of(text);
    let mut chars: Vec<char> = text.chars().collect();
    let mut removed: Vec<Id> = Vec::new();
    let mut errors = Vec::new();
    let mut suggested: Vec<String> = Vec::new();
    // Where the last blanked entry was (its mapping's start).
    let mut last_map: Option<(u64, u64)> = None;
    let mut next = Some(first);
    while let Some(e) = next.take() {
        let loc = e
            .location()
            .map(|l| (l.line(), l.column()))
            .filter(|&(l, _)| l > 0);
        let mut message = e.to_string();
        if let Some((l, c)) = loc {
            if let Some(m) = message.strip_suffix(&format!(" at line {l}, column {c}")) {
                message = m.to_owned();
            }
        }
        if let Some(field) = quoted_after(&message, "missing field `") {
            // A misspelt key already said "did you mean" this one; a blanked one was reported:
            // the mapping that lacks it is the one last blanked in. serde-saphyr's own place for
            // a missing key is only a guess (its mapping, its first key or what follows).
            let known = suggested.contains(&field) || blanked(&places, &field, &removed);
            let parent = match (known, last_map) {
                (true, Some(m)) => parent_of(&places, m, &removed),
                _ => loc.and_then(|l| find_parent(&places, l, &removed)),
            };
            let Some(parent) = parent else {
                if !known {
                    let (l, c) = loc.unwrap_or((1, 1));
                    errors.push(err(l, c, format!("missing key `{field}`")));
                }
                break;
            };
            if !known {
                errors.push(err(
                    parent.line,
                    parent.column,
                    format!("`{}`: missing key `{field}`", parent.key),
                ));
            }
            removed.push(parent.id());
            last_map = container_of(&places, parent).map(|m| m.span.0);
            blank(&mut chars, &places, parent, &removed);
            next = parse(&chars.iter().collect::<String>()).err();
            continue;
        }
        let unknown = quoted_after(&message, "unknown field `");
        let target = match &unknown {
            Some(key) => find_unknown(&places, key, loc, &removed),
            None => loc.and_then(|l| find_containing(&places, l, &removed)),
        };
        match (target, &unknown) {
            (Some(en), Some(key)) => {
                let allowed = list_after(&message, "expected one of ");
                suggested.extend(suggest(key, &allowed).map(str::to_owned));
                errors.push(err(en.line, en.column, unknown_message(key, &allowed)));
            }
            (Some(en), None) => {
                let (l, c) = loc.unwrap_or((en.line, en.column));
                if let Some(word) = quoted_after(&message, "unknown variant `") {
                    let allowed = list_after(&message, "expected one of ");
                    if let Some(s) = suggest(&word, &allowed) {
                        message.push_str(&format!(" (did you mean `{s}`?)"));
                    }
                }
                errors.push(err(l, c, format!("`{}`: {message}", en.key)));
            }
            (None, _) => {
                let (l, c) = loc.unwrap_or((1, 1));
                errors.push(err(l, c, message));
                break;
            }
        }
        let Some(en) = target else { break };
        if errors.len() >= MAX_ERRORS {
            break;
        }
        removed.push(en.id());
        last_map = container_of(&places, en).map(|m| m.span.0);
        blank(&mut chars, &places, en, &removed);
        let again: String = chars.iter().collect();
        next = parse(&again).err();
    }
    errors.sort_by_key(|e| (e.line, e.column));
    Err(errors)
}

/// The mapping entry with the unknown `key`: in the innermost mapping around the error's place
/// that has it, else the first one in the document that has it.
fn find_unknown<'p>(
    places: &'p Places,
    key: &str,
    loc: Option<(u64, u64)>,
    removed: &[Id],
) -> Option<&'p Entry> {
    let live = |m: &'p Mapping| {
        m.entries
            .iter()
            .find(|e| !e.item && e.key == key && !removed.contains(&e.id()))
    };
    if let Some(l) = loc {
        let around = places
            .maps
            .iter()
            .filter(|m| m.span.0 <= l && l <= m.span.1)
            .filter_map(|m| live(m).map(|e| (m.span.0, e)))
            .max_by_key(|(start, _)| *start);
        if let Some((_, e)) = around {
            return Some(e);
        }
    }
    places.maps.iter().find_map(live)
}

/// Whether a key named `key` was blanked out.
fn blanked(places: &Places, key: &str, removed: &[Id]) -> bool {
    places
        .entries()
        .any(|e| !e.item && e.key == key && removed.contains(&e.id()))
}

/// The mapping or sequence that holds `en`.
fn container_of<'p>(places: &'p Places, en: &Entry) -> Option<&'p Mapping> {
    places
        .maps
        .iter()
        .find(|m| m.entries.iter().any(|e| std::ptr::eq(e, en)))
}

/// The entry or item whose value is the collection starting at `start`.
fn parent_of<'p>(places: &'p Places, start: (u64, u64), removed: &[Id]) -> Option<&'p Entry> {
    places
        .entries()
        .filter(|e| !removed.contains(&e.id()) && e.value.0 == start)
        .min_by_key(|e| (e.line, e.column, e.item))
}

/// The entry whose value is the mapping at the place `l` (serde-saphyr places a missing key at
/// the mapping or at its first key).
fn find_parent<'p>(places: &'p Places, l: (u64, u64), removed: &[Id]) -> Option<&'p Entry> {
    let map = places
        .maps
        .iter()
        .filter(|m| m.span.0 == l || m.entries.first().is_some_and(|e| (e.line, e.column) == l))
        .max_by_key(|m| m.span.0)?;
    places
        .entries()
        .filter(|e| !removed.contains(&e.id()))
        .find(|e| e.value.0 == map.span.0)
}

/// The innermost entry whose key or value holds the place `l`.
fn find_containing<'p>(places: &'p Places, l: (u64, u64), removed: &[Id]) -> Option<&'p Entry> {
    places
        .entries()
        .filter(|e| !removed.contains(&e.id()))
        .filter(|e| (e.line, e.column) <= l && l <= e.value.1)
        .max_by_key(|e| (e.line, e.column, !e.item))
}

/// Blanks the entry out of `chars` (newlines kept; a block sequence item with its `-`); the
/// last entry left in a block mapping becomes `{}` (in a block sequence `[]`) so the parent's
/// value keeps its type.
fn blank(chars: &mut [char], places: &Places, en: &Entry, removed: &[Id]) {
    let (mut start, mut end) = (en.cut.0.min(chars.len()), en.cut.1.min(chars.len()));
    // The extent runs to the next node: leave the next block sequence item's `-` in place.
    if let Some(dash) = chars[start..end].iter().rposition(|c| !c.is_whitespace()) {
        let dash = start + dash;
        let line_start = chars[..dash]
            .iter()
            .rposition(|c| *c == '\n')
            .map_or(0, |i| i + 1);
        if chars[dash] == '-' && chars[line_start..dash].iter().all(|c| *c == ' ') {
            end = dash;
        }
    }
    if en.item {
        let before = chars[..start].iter().rposition(|c| *c != ' ');
        if let Some(b) = before.filter(|&b| chars[b] == '-') {
            start = b;
        }
    }
    for c in chars.iter_mut().take(end).skip(start) {
        if *c != '\n' && *c != '\r' {
            *c = ' ';
        }
    }
    let container = container_of(places, en);
    let last = container.is_some_and(|m| m.entries.iter().all(|e| removed.contains(&e.id())));
    // A flow collection (`{a: 1}`, `[a]`) is left empty and still a collection.
    let opener = chars[..start]
        .iter()
        .rev()
        .find(|c| **c != ' ' && **c != '\n');
    let flow = matches!(opener, Some('{' | '[' | ','));
    if last && !flow && end >= start + 2 {
        let seq = container.is_some_and(|m| m.seq);
        chars[start] = if seq { '[' } else { '{' };
        chars[start + 1] = if seq { ']' } else { '}' };
    }
}

/// The text between `prefix` and the next backquote.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_owned())
}

/// serde-saphyr's `expected one of a, b, c` list.
fn list_after(message: &str, prefix: &str) -> Vec<String> {
    match message.find(prefix) {
        Some(i) => message[i + prefix.len()..]
            .split(", ")
            .map(|s| s.trim_matches('`').to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => Vec::new(),
    }
}

/// `unknown key `kye`, did you mean `key`? (allowed here: …)`.
pub fn unknown_message(key: &str, allowed: &[String]) -> String {
    let mut m = format!("unknown key `{key}`");
    if let Some(s) = suggest(key, allowed) {
        m.push_str(&format!(", did you mean `{s}`?"));
    }
    if allowed.is_empty() {
        m.push_str(" (no keys are allowed here)");
    } else {
        m.push_str(&format!(" (allowed here: {})", allowed.join(", ")));
    }
    m
}

/// The allowed word closest to `word` by edit distance, when it is close enough to be a slip
/// (at most a third of the word's letters, at least one).
pub fn suggest<'a>(word: &str, allowed: &'a [String]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let word = word.to_lowercase();
    allowed
        .iter()
        .map(|a| (distance(&word, a), a))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a.as_str())
        // `start` for `start_at`: a word cut short.
        .or_else(|| {
            let mut prefixed = allowed.iter().filter(|a| {
                word.len() >= 3 && (a.starts_with(&word) || word.starts_with(a.as_str()))
            });
            match (prefixed.next(), prefixed.next()) {
                (Some(a), None) => Some(a.as_str()),
                _ => None,
            }
        })
}

/// Edit distance with transpositions (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, v) in d[0].iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Top {
        #[serde(default)]
        output: Option<Output>,
        #[serde(default)]
        bans: Option<Bans>,
        #[serde(default)]
        items: Vec<Item>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Output {
        #[serde(default)]
        format: String,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Bans {
        #[serde(default)]
        enabled: bool,
        #[serde(default)]
        ipv6_prefix: u8,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        #[serde(default)]
        count: u32,
    }

    fn errors(text: &str) -> Vec<String> {
        match from_str::<Top>("f.yaml", text) {
            Ok(v) => panic!("loaded: {v:?}"),
            Err(es) => es.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_valid_document_loads() {
        let t: Top = from_str(
            "f.yaml",
            "output: {format: text}\nbans: {enabled: true, ipv6_prefix: 64}\nitems: [{name: a, count: 2}]\n",
        )
        .expect("loads");
        assert_eq!(t.output.map(|o| o.format).as_deref(), Some("text"));
        assert_eq!(t.bans.map(|b| (b.enabled, b.ipv6_prefix)), Some((true, 64)));
        assert_eq!(
            t.items
                .iter()
                .map(|i| (i.name.as_str(), i.count))
                .collect::<Vec<_>>(),
            [("a", 2)]
        );
    }

    #[test]
    fn every_unknown_key_at_its_own_place_with_a_suggestion() {
        let e = errors(
            "output:\n  format: text\n  formt: x\nbans:\n  enabled: true\n  ipv6_prefx: 64\n\
             items:\n  - {name: a, cuont: 3}\n",
        );
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(e[0].starts_with("f.yaml:3:3: unknown key `formt`, did you mean `format`?"));
        assert!(
            e[1].starts_with("f.yaml:6:3: unknown key `ipv6_prefx`, did you mean `ipv6_prefix`?")
        );
        assert!(e[2].starts_with("f.yaml:8:15: unknown key `cuont`, did you mean `count`?"));
    }

    #[test]
    fn type_errors_and_only_keys_of_a_block() {
        let e = errors("output:\n  colour: red\nbans:\n  ipv6_prefix: lots\n");
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("f.yaml:2:3: unknown key `colour` (allowed here: format)"));
        assert!(
            e[1].starts_with("f.yaml:4:16: `ipv6_prefix`: invalid"),
            "{}",
            e[1]
        );
        // A required key's own error is not followed by "missing field".
        let e = errors("items:\n  - name: [1]\n");
        assert_eq!(e.len(), 1, "{e:#?}");
        // Nor is a misspelt one's; a key really missing is named at its mapping's key.
        let e = errors("items:\n  - {nmae: a}\n");
        assert_eq!(e.len(), 1, "{e:#?}");
        let e = errors("output: {format: a}\nbans: {enabled: 1}\n");
        assert_eq!(e.len(), 1, "{e:#?}");
    }

    #[test]
    fn errors_in_every_item_of_a_sequence() {
        let e =
            errors("items:\n  - {nmae: a}\n  - {name: b, cuont: 1}\n  - name: c\n    count: x\n");
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(e[0].starts_with("f.yaml:2:6: unknown key `nmae`, did you mean `name`?"));
        assert!(
            e[1].starts_with("f.yaml:3:15: unknown key `cuont`"),
            "{}",
            e[1]
        );
        assert!(
            e[2].starts_with("f.yaml:5:12: `count`: invalid"),
            "{}",
            e[2]
        );
    }

    #[test]
    fn suggestions_only_for_slips() {
        let allowed = ["format".to_owned(), "enabled".to_owned()];
        assert_eq!(suggest("fromat", &allowed), Some("format"));
        assert_eq!(suggest("colour", &allowed), None);
        assert_eq!(suggest("Enabled", &allowed), Some("enabled"));
        assert_eq!(suggest("enable_it", &allowed), Some("enabled"));
    }

    #[test]
    fn places_of_keys() {
        let p = Places::of("bans:\n  nft: [nft]\n  table: x\nother: {a: 1}\n");
        assert_eq!(p.key(&["bans", "table"]), Some((3, 3)));
        assert_eq!(p.key(&["other", "a"]), Some((4, 9)));
        assert_eq!(p.value_or_parent(&["bans", "nft"]), (2, 8));
        assert_eq!(p.value_or_parent(&["bans", "missing"]), (1, 1));
        assert_eq!(p.key(&["nothing"]), None);
    }
}
