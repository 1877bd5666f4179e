//! The *stdin* source: lines from the agent's own standard input until end of file (a pipe
//! such as `tail -F log | logward run`, or a replay). No checkpoint: stdin cannot be resumed.

use std::sync::Arc;

use tokio::io::{AsyncRead, BufReader};
use tokio::sync::mpsc::Sender;

use super::command::{line_text, read_line_capped, LineEnd};
use super::{Payload, SourceItem};

/// What the stdin source read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StdinSummary {
    /// Lines sent into the pipeline.
    pub lines: u64,
    /// Lines longer than `logward_parse::MAX_LINE`, cut.
    pub truncated: u64,
    /// Whether the input was read to its end (else the pipeline went away first or a read
    /// failed).
    pub eof: bool,
}

/// Reads the agent's stdin into `tx` until end of file or until the receiver is dropped.
///
/// stdin's descriptor is duplicated into a `tokio::fs::File` (reads run on tokio's blocking
/// pool, which works for pipes, terminals and files alike).
pub async fn run(id: Arc<str>, tx: Sender<SourceItem>) -> StdinSummary {
    use std::os::fd::AsFd;
    let fd = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(e) => {
            tracing::error!(source = %id, "cannot use stdin: {e}");
            return StdinSummary::default();
        }
    };
    let file = tokio::fs::File::from_std(std::fs::File::from(fd));
    run_reader(id, file, tx).await
}

/// The stdin source over any byte stream (what [`run`] does with stdin).
pub async fn run_reader<R: AsyncRead + Unpin>(
    id: Arc<str>,
    input: R,
    tx: Sender<SourceItem>,
) -> StdinSummary {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut buf = Vec::new();
    let mut summary = StdinSummary::default();
    loop {
        let end = tokio::select! {
            end = read_line_capped(&mut reader, &mut buf, logward_parse::MAX_LINE) => end,
            _ = tx.closed() => return summary,
        };
        let cut = match end {
            Ok(LineEnd::Complete { cut } | LineEnd::Partial { cut }) => cut,
            Ok(LineEnd::Eof) => {
                summary.eof = true;
                tracing::info!(source = %id, lines = summary.lines, "end of stdin");
                return summary;
            }
            Err(e) => {
                tracing::error!(source = %id, "reading stdin: {e}");
                return summary;
            }
        };
        if cut {
            summary.truncated += 1;
        }
        let item = SourceItem {
            source: Arc::clone(&id),
            payload: Payload::Line(line_text(&buf, cut)),
            checkpoint: None,
        };
        if tx.send(item).await.is_err() {
            return summary;
        }
        summary.lines += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn text(item: &SourceItem) -> &str {
        match &item.payload {
            Payload::Line(l) => l,
            Payload::Event(_) | Payload::Committed(_) => panic!("stdin gives lines"),
        }
    }

    #[tokio::test]
    async fn reads_lines_until_eof_including_a_last_line_without_newline() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let input: &[u8] = b"one\r\ntwo\n\nthree";
        let summary = run_reader(Arc::from("stdin"), input, tx).await;
        assert_eq!(
            summary,
            StdinSummary {
                lines: 4,
                truncated: 0,
                eof: true
            }
        );
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            assert_eq!(&*item.source, "stdin");
            assert!(item.checkpoint.is_none());
            got.push(text(&item).to_owned());
        }
        assert_eq!(got, ["one", "two", "", "three"]);
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_counted() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let mut input = vec![b'x'; logward_parse::MAX_LINE + 10];
        input.extend_from_slice(b"\nok\n");
        let summary = run_reader(Arc::from("stdin"), &input[..], tx).await;
        assert_eq!((summary.lines, summary.truncated), (2, 1));
        assert_eq!(
            text(&rx.recv().await.unwrap()).len(),
            logward_parse::MAX_LINE
        );
        assert_eq!(text(&rx.recv().await.unwrap()), "ok");
    }

    #[tokio::test]
    async fn stops_when_the_pipeline_goes_away_while_input_is_idle() {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let (mut writer, reader) = tokio::io::duplex(64);
        let task = tokio::spawn(run_reader(Arc::from("stdin"), reader, tx));
        writer.write_all(b"a\n").await.unwrap();
        drop(rx);
        let summary = tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("the source noticed the closed channel")
            .unwrap();
        assert!(!summary.eof);
        drop(writer);
    }
}
