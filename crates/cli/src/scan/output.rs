//! Event output for `--format ndjson` and `--format table`.

use std::io::{self, Write};

use logward_core::{json, Event};

/// Appends one NDJSON line.
pub fn ndjson(buf: &mut Vec<u8>, e: &Event<'_>) {
    json::write_event(buf, e);
    buf.push(b'\n');
}

pub const TABLE_HEADER: &str = "TIME                       HOST          DATASET  ACTION               OUTCOME  USER             SOURCE                  REASON";

/// Appends one aligned table row of an event (see [`columns`]).
pub fn table_row(buf: &mut Vec<u8>, e: &Event<'_>) {
    let time = e
        .timestamp
        .map(|t| t.to_string())
        .unwrap_or_else(|| "-".into());
    let cols: [(&str, usize); 8] = [
        (&time, 26),
        (e.host_name.as_deref().unwrap_or("-"), 13),
        (e.dataset.map_or("-", |d| d.as_str()), 8),
        (e.action().as_str(), 20),
        (e.outcome.as_str(), 8),
        (e.user_name.as_deref().unwrap_or("-"), 16),
        (e.source_address.as_deref().unwrap_or("-"), 23),
        (e.reason.unwrap_or("-"), 0),
    ];
    columns(buf, &cols);
}

/// Appends one row of columns, each cut to its width (0: no limit) and padded so the rows
/// align; a control character in a value is shown as `?` so a crafted log line cannot move
/// the cursor. Ends the row with a newline.
pub fn columns(buf: &mut Vec<u8>, cols: &[(&str, usize)]) {
    for (i, (text, width)) in cols.iter().enumerate() {
        if i > 0 {
            buf.push(b' ');
        }
        let mut shown = 0;
        for c in text.chars() {
            if *width > 0 && shown + 1 > *width {
                break;
            }
            let c = if c.is_control() { '?' } else { c };
            let mut tmp = [0u8; 4];
            buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            shown += 1;
        }
        if i + 1 < cols.len() {
            buf.extend(std::iter::repeat_n(b' ', width.saturating_sub(shown)));
        }
    }
    buf.push(b'\n');
}

/// Writes `buf` out when it has grown past `limit` bytes.
pub fn flush_if(out: &mut impl Write, buf: &mut Vec<u8>, limit: usize) -> io::Result<()> {
    if buf.len() >= limit {
        out.write_all(buf)?;
        buf.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use logward_core::{Action, Dataset, Outcome};
    use std::borrow::Cow;

    #[test]
    fn table_rows_align_and_neutralise_control_chars() {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.user_name = Some(Cow::Borrowed("evil\u{1b}[2Jname-that-is-long"));
        let mut buf = Vec::new();
        table_row(&mut buf, &e);
        let row = String::from_utf8(buf).unwrap();
        assert!(!row.contains('\u{1b}'));
        assert!(row.contains("evil?[2Jname-tha "));
        assert_eq!(row.find("sshd"), TABLE_HEADER.find("DATASET"));
        assert_eq!(row.find("evil"), TABLE_HEADER.find("USER"));
    }
}
