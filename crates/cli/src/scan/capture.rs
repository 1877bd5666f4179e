//! `.pcap`/`.pcapng` files (recognised by their magic): streamed through the DNS packet
//! decoder, one `dns-query` event per query and its reply, output like any other event.
//! A file cut short or damaged gives every event before the damage, then an error.

use std::borrow::Cow;
use std::io::{Read, Write};

use logward_parse::dns::pcap::Reader;
use logward_parse::dns::{Decoder, Stats};

use super::{emit, output, rules, ScanError, Sink, Summary};

/// Reads the capture in `reader` (its head already put back in front).
pub(super) fn scan_capture(
    reader: impl Read,
    sink: Sink<'_>,
    summary: &mut Summary,
    replay: &mut Option<rules::Replay>,
    out: &mut impl Write,
    buf: &mut Vec<u8>,
) -> Result<(), ScanError> {
    let mut reader = Reader::new(reader)
        .map_err(|e| ScanError::Input(format!("cannot read {}: {e}", sink.path)))?;
    let mut decoder = Decoder::new();
    let mut damage = None;
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => decoder.push(p.linktype, p.ts, p.data),
            Ok(None) => break,
            Err(e) => {
                damage = Some(e);
                break;
            }
        }
        drain(&mut decoder, &sink, summary, replay, buf);
        output::flush_if(out, buf, 1 << 16).map_err(ScanError::Output)?;
    }
    decoder.finish();
    drain(&mut decoder, &sink, summary, replay, buf);
    summary.bytes += reader.offset();
    let skipped = skipped(&decoder.stats());
    if !skipped.is_empty() {
        eprintln!("logward: {}: {skipped}", sink.path);
    }
    match damage {
        Some(e) => Err(ScanError::Input(format!(
            "{}: {e}; the packets before it were scanned",
            sink.path
        ))),
        None => Ok(()),
    }
}

fn drain(
    decoder: &mut Decoder,
    sink: &Sink<'_>,
    summary: &mut Summary,
    replay: &mut Option<rules::Replay>,
    buf: &mut Vec<u8>,
) {
    for mut e in decoder.events() {
        summary.lines += 1;
        if sink.args.unparsed {
            continue;
        }
        e.file_path = Some(Cow::Borrowed(sink.path));
        emit(&mut e, sink.format, summary, replay, buf);
    }
}

/// What the decoder could not read, in words; empty when it read everything it should.
/// Frames that are simply not DNS are not worth a line.
fn skipped(s: &Stats) -> String {
    let parts = [
        (s.malformed, "frames with a broken header"),
        (s.unknown_link, "frames of an unknown link type"),
        (s.cut, "frames cut by the snap length"),
        (s.bad_messages, "DNS messages too short to read"),
        (s.partial_messages, "DNS messages read in part"),
        (s.fragments_dropped, "IP fragments or datagrams dropped"),
        (s.tcp_gaps, "gaps in TCP streams"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
}
