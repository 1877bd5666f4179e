//! `logward scan`: decode log files offline and print events, a table or a summary.

pub mod anomaly;
mod capture;
pub mod inputs;
pub mod output;
pub mod reader;
pub mod rules;
pub mod summary;
mod xml;

use std::borrow::Cow;
use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use logward_core::{Action, Event, Timestamp};
use logward_parse::{clock, LineDecoder, YearResolver, YearRule, Zone};

use inputs::Input;
use reader::LineReader;
use summary::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One ECS JSON object per line.
    Ndjson,
    /// Aligned columns for people.
    Table,
    /// Counts: actions, outcomes, top sources and users, unrecognised and bad lines.
    Summary,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files, globs, directories or `-` for stdin. Rotations (`auth.log.2.gz`, `secure-20261115`)
    /// are read oldest first. With none, the system's auth logs (auth.log*, secure*).
    pub paths: Vec<String>,
    /// Output format [default: table on a terminal, ndjson otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Add `event.original` (the raw line) to each event.
    #[arg(long)]
    pub raw: bool,
    /// Print only the lines no decoder recognised (to write new decoders).
    #[arg(long)]
    pub unparsed: bool,
    /// Year of the first year-less (BSD syslog) line; later lines roll over at New Year.
    /// [default: inferred from each file's modification time]
    #[arg(long, conflicts_with = "reference_time")]
    pub year: Option<i32>,
    /// No line is later than this RFC 3339 time: year-less lines get the latest year that
    /// keeps them before it (what a file's mtime does by default).
    #[arg(long, value_parser = parse_reference)]
    pub reference_time: Option<Timestamp>,
    /// How many source addresses and users the summary lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Run the rule workflow (`default` for the built-in ruleset, or a rules file) with the
    /// log's own timestamps as the clock and print the alerts instead of the events.
    #[arg(long, value_name = "default|FILE")]
    pub rules: Option<String>,
    /// Where login profiles live (the agent's state directory): `--rules` reads them, and
    /// `--learn` writes what the scan learnt back. [default: the agent's state directory,
    /// when it has a store]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// GeoIP/ASN databases for `--rules`: a MaxMind-format .mmdb file or a folder of them.
    #[arg(long, value_name = "PATH")]
    pub geoip: Option<PathBuf>,
    /// With `--rules`: an agent config whose `dns:` section's DNS check runs on the
    /// `dns-query` events before the rules, as in `logward run` (trusted clients, domains and
    /// types, dedup, threat lists, heuristics, owners; the intel API is not asked offline).
    #[arg(long, value_name = "FILE", requires = "rules")]
    pub config: Option<PathBuf>,
    /// With `--rules`: update the stored login profiles with the scanned logins.
    #[arg(long, requires = "rules")]
    pub learn: bool,
    /// Score logins without the local outlier factor (the plain features alone).
    #[arg(long, hide = true)]
    pub no_lof: bool,
    /// `logward learn`: profiles only, no rules and no alerts.
    #[arg(skip)]
    pub learn_only: bool,
    /// Where to look for the system's auth logs when no PATH is given.
    #[arg(long, default_value = "/var/log", hide = true)]
    pub system_log_dir: PathBuf,
}

/// The DNS check `path`'s `dns:` section configures (`None`: none), built as `logward run`
/// builds it; a threat list that cannot be read is said on stderr (and is empty, as in the
/// agent until its file appears).
fn dns_check(path: &Path) -> anyhow::Result<Option<logward_agent::dns_check::DnsCheck>> {
    let loaded = logward_agent::config::load(path)
        .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    let Some((check, outcomes)) =
        logward_agent::dns_check::DnsCheck::configured(&loaded.config.dns)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
    else {
        return Ok(None);
    };
    for o in outcomes.iter().filter(|o| o.is_problem()) {
        eprintln!("logward: DNS {o}");
    }
    Ok(Some(check))
}

fn parse_reference(s: &str) -> Result<Timestamp, String> {
    match Timestamp::parse_rfc3339(s.as_bytes()) {
        Some((ts, used)) if used == s.len() => Ok(ts),
        _ => Err("expected an RFC 3339 time such as 2026-11-22T10:00:00Z".into()),
    }
}

/// Exit status: 0 all read; 1 nothing to scan; 2 some path could not be read, or an `.evtx`
/// file or a capture was damaged (the others, and the rest of it, were still scanned).
pub fn run(args: ScanArgs) -> anyhow::Result<i32> {
    let mut status = 0;
    let (inputs, errors) = if args.paths.is_empty() {
        let found = inputs::system_logs(&args.system_log_dir);
        if found.is_empty() {
            eprintln!(
                "logward: no auth logs found in {} (looked for auth.log* and secure*). \
                 Name the files to scan, or - for stdin; on journald-only systems try \
                 `journalctl -o json | logward scan -`.",
                args.system_log_dir.display()
            );
            return Ok(1);
        }
        (found.into_iter().map(Input::File).collect(), Vec::new())
    } else {
        inputs::expand(&args.paths)
    };
    let mut replay = if args.rules.is_some() || args.learn_only {
        let program = args.rules.as_deref().map(rules::load).transpose()?;
        let mut anomaly = anomaly::Anomaly::open(
            args.state_dir.as_deref(),
            Some(logward_agent::daemon::default_state_dir()),
            args.geoip.as_deref(),
            args.learn || args.learn_only,
            !args.no_lof,
        )?;
        if let Some(path) = &args.config {
            anomaly.set_dns(dns_check(path)?);
        }
        Some(rules::Replay::new(program, Some(anomaly)))
    } else {
        None
    };
    let mut summary = Summary::default();
    for e in &errors {
        eprintln!("logward: {}: {}", e.arg, e.reason);
        summary.unreadable += 1;
        status = 2;
    }
    let format = args.format.unwrap_or(if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Ndjson
    });
    let progress = Progress::new(&inputs);
    let started = Instant::now();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    if format == Format::Table && !args.unparsed {
        buf.extend_from_slice(if replay.is_some() {
            rules::TABLE_HEADER.as_bytes()
        } else {
            output::TABLE_HEADER.as_bytes()
        });
        buf.push(b'\n');
    }
    // One decoder for the whole scan, so a session that spans a rotation stays correlated.
    let mut decoder = LineDecoder::new(YearResolver::fixed(1970, 0));
    for input in &inputs {
        let result = scan_input(
            input,
            &args,
            format,
            &mut decoder,
            &mut summary,
            &mut replay,
            &mut out,
            &mut buf,
            &progress,
        );
        match result {
            Ok(()) => {}
            Err(ScanError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                return Ok(status)
            }
            Err(ScanError::Output(e)) => return Err(e.into()),
            Err(ScanError::Input(msg)) => {
                eprintln!("logward: {msg}");
                summary.unreadable += 1;
                status = 2;
            }
        }
    }
    if summary.evtx_damage > 0 {
        status = 2;
    }
    // Audit execs still waiting for their EXECVE when the input ended (not lost).
    decoder.finish();
    joined(
        &mut decoder,
        None,
        &args,
        format,
        &mut summary,
        &mut replay,
        &mut buf,
    );
    progress.finish();
    if let Some(note) = replay
        .as_mut()
        .map(rules::Replay::finish)
        .transpose()?
        .flatten()
    {
        eprintln!("{note}");
    }
    if format == Format::Summary && !args.unparsed && !args.learn_only {
        match &replay {
            Some(r) => buf.extend_from_slice(r.render_summary(summary.lines).as_bytes()),
            None => buf.extend_from_slice(summary.render(args.top, started.elapsed()).as_bytes()),
        }
    }
    if let Err(e) = out.write_all(&buf).and_then(|()| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    Ok(status)
}

enum ScanError {
    /// The input could not be opened or read: reported, the scan goes on.
    Input(String),
    /// Writing the output failed: the scan stops.
    Output(io::Error),
}

fn year_rule(args: &ScanArgs, mtime: Option<std::time::SystemTime>) -> YearRule {
    if let Some(y) = args.year {
        return YearRule::Fixed(y);
    }
    if let Some(r) = args.reference_time {
        return YearRule::Reference(r);
    }
    let t = mtime.unwrap_or_else(std::time::SystemTime::now);
    let unix = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    YearRule::Reference(Timestamp {
        unix,
        nanos: 0,
        offset: clock::local_offset_at(unix),
    })
}

/// The events the decoder completed without a line of their own (audit execs whose EXECVE
/// never came), output like the lines' events; `path` is the file being read, if any.
fn joined(
    decoder: &mut LineDecoder,
    path: Option<&str>,
    args: &ScanArgs,
    format: Format,
    summary: &mut Summary,
    replay: &mut Option<rules::Replay>,
    buf: &mut Vec<u8>,
) {
    while let Some(mut e) = decoder.take_joined() {
        if args.unparsed {
            continue;
        }
        e.file_path = path.map(|p| Cow::Owned(p.to_owned()));
        if !args.raw {
            e.original = None;
        }
        emit(&mut e, format, summary, replay, buf);
    }
}

/// One event out: through the rules when replaying, else counted or written.
fn emit(
    e: &mut Event<'_>,
    format: Format,
    summary: &mut Summary,
    replay: &mut Option<rules::Replay>,
    buf: &mut Vec<u8>,
) {
    if let Some(r) = replay.as_mut() {
        r.event(e, format, buf);
    } else {
        match format {
            Format::Summary => summary.count(e),
            Format::Ndjson => output::ndjson(buf, e),
            Format::Table => output::table_row(buf, e),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn scan_input(
    input: &Input,
    args: &ScanArgs,
    format: Format,
    decoder: &mut LineDecoder,
    summary: &mut Summary,
    replay: &mut Option<rules::Replay>,
    out: &mut impl Write,
    buf: &mut Vec<u8>,
    progress: &Progress,
) -> Result<(), ScanError> {
    let (reader, path_text, mtime): (Box<dyn Read>, String, _) = match input {
        Input::Stdin => (Box::new(io::stdin().lock()), "-".to_owned(), None),
        Input::File(path) => {
            let file = File::open(path)
                .map_err(|e| ScanError::Input(format!("cannot read {}: {e}", path.display())))?;
            let meta = file.metadata().ok();
            if meta.as_ref().is_some_and(|m| m.is_dir()) {
                return Err(ScanError::Input(format!(
                    "{} is a directory",
                    path.display()
                )));
            }
            let mtime = meta.and_then(|m| m.modified().ok());
            let counted = Counted {
                inner: file,
                progress: progress.bytes.clone(),
            };
            (
                open_maybe_gz(counted, path).map_err(ScanError::Input)?,
                path.display().to_string(),
                mtime,
            )
        }
    };
    summary.files += 1;
    // wtmp/btmp are binary records, recognised by their content whatever their name.
    let mut reader = reader;
    let head = read_head(&mut reader, UTMP_PROBE)
        .map_err(|e| ScanError::Input(format!("cannot read {path_text}: {e}")))?;
    // Packet captures (.pcap, .pcapng) by their magic: DNS queries from the wire.
    if logward_parse::dns::pcap::is_capture(&head) {
        let sink = Sink {
            args,
            format,
            path: &path_text,
        };
        let reader = io::Cursor::new(head).chain(reader);
        return capture::scan_capture(reader, sink, summary, replay, out, buf);
    }
    // .evtx files too, by their magic (`ElfFile`), whatever their name.
    if logward_parse::windows::evtx::is_evtx(&head) {
        let sink = Sink {
            args,
            format,
            path: &path_text,
        };
        return scan_evtx(
            input, head, reader, sink, summary, replay, out, buf, progress,
        );
    }
    if logward_parse::utmp::looks_like_utmp(&head) {
        let sink = Sink {
            args,
            format,
            path: &path_text,
        };
        return scan_utmp(head, reader, sink, summary, replay, out, buf);
    }
    // Event XML is read as a stream of events (a `wevtutil` export is one long line).
    let utf16 = xml::is_utf16le_xml(&head);
    let event_xml = utf16 || logward_parse::windows::xml::looks_like_xml(&head);
    let mut reader: Box<dyn Read> = Box::new(io::Cursor::new(head).chain(reader));
    if utf16 {
        reader = Box::new(xml::Utf16Le::new(reader));
    }
    if event_xml {
        let sink = Sink {
            args,
            format,
            path: &path_text,
        };
        return xml::scan_xml(reader, sink, summary, replay, out, buf);
    }
    decoder.set_years(YearResolver::new(year_rule(args, mtime), Zone::Local));
    let mut lines = LineReader::new(reader);
    let mut out_err: Option<io::Error> = None;
    let path_cow: &str = &path_text;
    let result = lines.for_each_line(|line| {
        if out_err.is_some() {
            return;
        }
        summary.lines += 1;
        let mut e = Event::default();
        let made = decoder.decode_into(&line.text, &mut e);
        // Older than this line's event: audit execs that ended without an EXECVE.
        if decoder.has_joined() {
            joined(decoder, Some(path_cow), args, format, summary, replay, buf);
        }
        if !made {
            // A line of Windows Event XML whose event ends on a later line.
            return;
        }
        // Recognised lines with no security meaning (an access log's ordinary requests) carry
        // their dataset: they are parsed, not "unparsed".
        let unknown = e.action() == Action::Unknown && e.dataset.is_none();
        if args.unparsed {
            if unknown {
                buf.extend_from_slice(line.text.as_bytes());
                buf.push(b'\n');
            }
        } else {
            e.file_path = Some(Cow::Borrowed(path_cow));
            e.file_line = Some(line.number);
            e.offset = Some(line.offset);
            // A Windows record's own text (XML joined over lines) is its original.
            if !args.raw {
                e.original = None;
            } else if e.original.is_none() {
                e.original = Some(Cow::Borrowed(&line.text));
            }
            emit(&mut e, format, summary, replay, buf);
        }
        if format == Format::Summary && args.unparsed {
            summary.count(&e);
        }
        if line.number % 65_536 == 0 {
            progress.tick();
        }
        if let Err(e) = output::flush_if(out, buf, 1 << 16) {
            out_err = Some(e);
        }
    });
    summary.bytes += lines.bytes_read;
    summary.issues.add(&lines.issues);
    // An Event XML event still open at the end of the input is cut off: an error event.
    decoder.end_input();
    if decoder.has_joined() {
        joined(decoder, Some(path_cow), args, format, summary, replay, buf);
    }
    summary.issues.malformed_records += decoder.take_windows_errors() + decoder.take_dns_errors();
    if let Some(e) = out_err {
        return Err(ScanError::Output(e));
    }
    result.map_err(|e| {
        ScanError::Input(format!(
            "{path_text}: read error after line {} ({e}); the lines before it were scanned",
            summary.lines
        ))
    })
}

/// Bytes read ahead to tell a utmp file: the layout detector's sample of records.
const UTMP_PROBE: usize =
    logward_parse::utmp::DETECT_RECORDS * logward_parse::utmp::Layout::Time64.record_size();

/// Reads up to `n` bytes (fewer only at the end of the input).
fn read_head(r: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.by_ref().take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Where decoded events go: the scan's options and the input's name.
struct Sink<'a> {
    args: &'a ScanArgs,
    format: Format,
    path: &'a str,
}

/// A wtmp/btmp file through the utmp decoder (the agent's `utmp` source's): one event per
/// record, streamed in 64 KiB pieces, kind from the name or the records.
fn scan_utmp(
    head: Vec<u8>,
    mut rest: Box<dyn Read>,
    sink: Sink<'_>,
    summary: &mut Summary,
    replay: &mut Option<rules::Replay>,
    out: &mut impl Write,
    buf: &mut Vec<u8>,
) -> Result<(), ScanError> {
    use logward_parse::utmp::{guess_kind, Reader};
    let name = Path::new(sink.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut reader = Reader::new(guess_kind(&name, &head));
    let mut events = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let mut piece = head;
    let mut read_error = None;
    loop {
        if piece.is_empty() {
            reader.finish(&mut events);
        } else {
            reader.feed(&piece, &mut events);
        }
        for mut e in events.drain(..) {
            summary.lines += 1;
            if sink.args.unparsed {
                continue;
            }
            e.file_path = Some(Cow::Borrowed(sink.path));
            emit(&mut e, sink.format, summary, replay, buf);
            output::flush_if(out, buf, 1 << 16).map_err(ScanError::Output)?;
        }
        if piece.is_empty() {
            break;
        }
        piece = match rest.read(&mut chunk) {
            Ok(n) => chunk[..n].to_vec(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                read_error = Some(e);
                Vec::new()
            }
        };
    }
    summary.bytes += reader.consumed();
    match read_error {
        Some(e) => Err(ScanError::Input(format!(
            "{}: read error ({e}); the records before it were scanned",
            sink.path
        ))),
        None => Ok(()),
    }
}

/// Damaged pieces of one `.evtx` file printed one by one; past this, only how many more.
const EVTX_DAMAGE_SHOWN: u64 = 20;

/// An `.evtx` file: one event per record through `windows::decode`, then the same output,
/// rules and summary as lines. A plain file is read in place, chunk by chunk; a compressed
/// one or stdin is read whole first (the format needs to seek). Damage is reported per
/// piece on stderr and counted; every other record is still scanned.
#[allow(clippy::too_many_arguments)]
fn scan_evtx(
    input: &Input,
    head: Vec<u8>,
    mut rest: Box<dyn Read>,
    sink: Sink<'_>,
    summary: &mut Summary,
    replay: &mut Option<rules::Replay>,
    out: &mut impl Write,
    buf: &mut Vec<u8>,
    progress: &Progress,
) -> Result<(), ScanError> {
    use logward_parse::windows::{self, EvtxReader};
    let cannot = |e: io::Error| ScanError::Input(format!("cannot read {}: {e}", sink.path));
    let in_place = match input {
        Input::File(path) => EvtxReader::open(path).ok(),
        Input::Stdin => None,
    };
    let reader = match in_place {
        Some(r) => r,
        None => {
            let mut all = head;
            rest.read_to_end(&mut all).map_err(cannot)?;
            EvtxReader::from_bytes(all).map_err(cannot)?
        }
    };
    let mut reader = reader.with_original(sink.args.raw);
    let start = progress.bytes.get();
    let mut damage = 0u64;
    while let Some(item) = reader.next() {
        let rec = match item {
            Ok(rec) => rec,
            Err(e) => {
                damage += 1;
                if damage <= EVTX_DAMAGE_SHOWN {
                    eprintln!("logward: {}: {e}", sink.path);
                }
                continue;
            }
        };
        summary.lines += 1;
        if !sink.args.unparsed {
            let mut e = windows::decode(&rec);
            e.file_path = Some(Cow::Borrowed(sink.path));
            emit(&mut e, sink.format, summary, replay, buf);
        }
        // Its buffers hold the next records.
        reader.recycle(rec);
        if summary.lines % 4096 == 0 {
            progress.bytes.set(start + reader.bytes_read());
            progress.tick();
        }
        output::flush_if(out, buf, 1 << 16).map_err(ScanError::Output)?;
    }
    if damage > EVTX_DAMAGE_SHOWN {
        eprintln!(
            "logward: {}: {} more damaged pieces not shown",
            sink.path,
            damage - EVTX_DAMAGE_SHOWN
        );
    }
    if damage > 0 {
        eprintln!(
            "logward: {}: {damage} damaged piece(s); every other record was scanned",
            sink.path
        );
    }
    progress.bytes.set(start + reader.bytes_read());
    summary.bytes += reader.bytes_read();
    summary.evtx_files += 1;
    summary.evtx_damage += damage;
    Ok(())
}

/// Gzip by name or by magic bytes (a rotated file renamed without `.gz` still reads).
fn open_maybe_gz<R: Read + 'static>(inner: R, path: &Path) -> Result<Box<dyn Read>, String> {
    let mut r = BufReader::with_capacity(1 << 16, inner);
    let head = std::io::BufRead::fill_buf(&mut r)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    if gz {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(r)))
    } else {
        Ok(Box::new(r))
    }
}

/// Counts bytes read from a file for the progress bar.
struct Counted<R> {
    inner: R,
    progress: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.set(self.progress.get() + n as u64);
        Ok(n)
    }
}

/// A progress bar on stderr, only when stderr is a terminal and the input is large.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    bytes: Rc<Cell<u64>>,
}

impl Progress {
    const LARGE: u64 = 64 << 20;

    fn new(inputs: &[Input]) -> Self {
        let total: u64 = inputs
            .iter()
            .filter_map(|i| match i {
                Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
                Input::Stdin => None,
            })
            .sum();
        let bar = (io::stderr().is_terminal() && total >= Self::LARGE).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr_with_hz(4),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            bytes: Rc::new(Cell::new(0)),
        }
    }

    fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.bytes.get());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `logward learn`: build the login profiles from old logs.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Files, globs, directories or `-`; rotations (.gz too) are read oldest first. With
    /// none, the system's auth logs.
    pub paths: Vec<String>,
    /// Where the profiles are written [default: the agent's state directory].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// GeoIP/ASN databases: a MaxMind-format .mmdb file or a folder of them.
    #[arg(long, value_name = "PATH")]
    pub geoip: Option<PathBuf>,
    /// Year of the first year-less (BSD syslog) line.
    #[arg(long, conflicts_with = "reference_time")]
    pub year: Option<i32>,
    /// No line is later than this RFC 3339 time.
    #[arg(long, value_parser = parse_reference)]
    pub reference_time: Option<Timestamp>,
    #[arg(long, default_value = "/var/log", hide = true)]
    pub system_log_dir: PathBuf,
}

/// Runs `learn` as a scan that only feeds the profiles.
pub fn learn(args: LearnArgs) -> anyhow::Result<i32> {
    let state_dir = args
        .state_dir
        .unwrap_or_else(logward_agent::daemon::default_state_dir);
    run(ScanArgs {
        paths: args.paths,
        format: Some(Format::Summary),
        raw: false,
        unparsed: false,
        year: args.year,
        reference_time: args.reference_time,
        top: 0,
        rules: None,
        config: None,
        state_dir: Some(state_dir),
        geoip: args.geoip,
        learn: true,
        no_lof: false,
        learn_only: true,
        system_log_dir: args.system_log_dir,
    })
}
