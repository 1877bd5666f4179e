//! The Prometheus text exposition (format 0.0.4) of the agent's and the collector's
//! `/metrics`, written by `prometheus-client`: it escapes HELP texts and label values, names
//! counters with their `_total`, makes histogram buckets cumulative and formats floats the way
//! Go's clients do. Both processes keep plain atomics and read them once per scrape, so an
//! exporter is a closure over a [`Writer`] (a custom collector in the crate's terms), not a
//! registry of live metric objects.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
    NoLabelSet,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// What a write returns (a `fmt::Error` only if the buffer refused text, which a `String`
/// never does).
pub type Result = std::result::Result<(), fmt::Error>;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes metric families, each with its `# HELP` and `# TYPE` lines.
pub struct Writer<'a>(DescriptorEncoder<'a>);

impl fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Writer")
    }
}

/// The family name the encoder wants: it appends a counter's `_total` itself.
fn base(name: &str, kind: MetricType) -> &str {
    match kind {
        MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    }
}

impl Writer<'_> {
    /// A counter; `name` is the exposed name, `_total` included.
    pub fn counter<V>(&mut self, name: &str, help: &str, v: V) -> Result
    where
        V: EncodeCounterValue + Clone + fmt::Debug,
    {
        let kind = MetricType::Counter;
        ConstCounter::new(v).encode(
            self.0
                .encode_descriptor(base(name, kind), help, None, kind)?,
        )
    }

    /// A gauge.
    pub fn gauge<V>(&mut self, name: &str, help: &str, v: V) -> Result
    where
        V: EncodeGaugeValue + Clone + fmt::Debug,
    {
        let kind = MetricType::Gauge;
        ConstGauge::new(v).encode(self.0.encode_descriptor(name, help, None, kind)?)
    }

    /// A counter with one sample per label set (the HELP and TYPE lines even with none).
    pub fn counters<L, V>(
        &mut self,
        name: &str,
        help: &str,
        rows: impl IntoIterator<Item = (L, V)>,
    ) -> Result
    where
        L: EncodeLabelSet,
        V: EncodeCounterValue + Clone + fmt::Debug,
    {
        let kind = MetricType::Counter;
        let rows = rows.into_iter().map(|(l, v)| (l, ConstCounter::new(v)));
        self.family(base(name, kind), help, kind, rows)
    }

    /// A gauge with one sample per label set.
    pub fn gauges<L, V>(
        &mut self,
        name: &str,
        help: &str,
        rows: impl IntoIterator<Item = (L, V)>,
    ) -> Result
    where
        L: EncodeLabelSet,
        V: EncodeGaugeValue + Clone + fmt::Debug,
    {
        let rows = rows.into_iter().map(|(l, v)| (l, ConstGauge::new(v)));
        self.family(name, help, MetricType::Gauge, rows)
    }

    /// One family's HELP and TYPE lines, then a sample per label set: what
    /// [`Self::counters`] and [`Self::gauges`] share.
    fn family<L, M>(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        rows: impl IntoIterator<Item = (L, M)>,
    ) -> Result
    where
        L: EncodeLabelSet,
        M: EncodeMetric,
    {
        let mut m = self.0.encode_descriptor(name, help, None, kind)?;
        for (labels, metric) in rows {
            metric.encode(m.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// A histogram from each bucket's own count (`(upper bound, observations in it)`, not
    /// cumulative), the count of all observations and their sum.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        buckets: &[(f64, u64)],
        count: u64,
        sum: f64,
    ) -> Result {
        let kind = MetricType::Histogram;
        self.0
            .encode_descriptor(name, help, None, kind)?
            .encode_histogram::<NoLabelSet>(sum, count, buckets, None)
    }

    /// A histogram with one series per label set.
    pub fn histograms<'h, L>(
        &mut self,
        name: &str,
        help: &str,
        rows: impl IntoIterator<Item = (L, &'h Snapshot)>,
    ) -> Result
    where
        L: EncodeLabelSet,
    {
        let mut m = self
            .0
            .encode_descriptor(name, help, None, MetricType::Histogram)?;
        for (labels, h) in rows {
            m.encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
        }
        Ok(())
    }
}

/// Upper bounds (seconds) of [`WaitHistogram`]: from a free store (well under a
/// millisecond) to one stuck behind long transactions.
pub const WAIT_BUCKETS: [f64; 10] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// How long something waited (for a queue or a lock), recorded from any thread: each
/// bucket counts its own observations (the encoder makes them cumulative).
#[derive(Debug, Default)]
pub struct WaitHistogram {
    buckets: [AtomicU64; WAIT_BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
}

/// A histogram's figures at one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// `(upper bound, observations in that bucket only)`.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum: f64,
}

impl WaitHistogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = WAIT_BUCKETS.iter().position(|&b| s <= b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            buckets: WAIT_BUCKETS
                .iter()
                .zip(&self.buckets)
                .map(|(&b, n)| (b, n.load(Relaxed)))
                .collect(),
            count: self.count.load(Relaxed),
            sum: self.micros.load(Relaxed) as f64 / 1e6,
        }
    }
}

impl Snapshot {
    /// The figures of several histograms with the same buckets, as one.
    pub fn merged<'a>(all: impl IntoIterator<Item = &'a WaitHistogram>) -> Snapshot {
        let mut out = WaitHistogram::default().snapshot();
        for h in all {
            let s = h.snapshot();
            for (o, (_, n)) in out.buckets.iter_mut().zip(s.buckets) {
                o.1 += n;
            }
            out.count += s.count;
            out.sum += s.sum;
        }
        out
    }
}

/// One scrape's families, written by a closure when the registry encodes.
struct Scrape<F>(F);

impl<F> fmt::Debug for Scrape<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrape")
    }
}

impl<F> Collector for Scrape<F>
where
    F: Fn(&mut Writer<'_>) -> Result + Send + Sync + 'static,
{
    fn encode(&self, encoder: DescriptorEncoder) -> Result {
        (self.0)(&mut Writer(encoder))
    }
}

/// The exposition of the families `write` writes.
pub fn render<F>(write: F) -> String
where
    F: Fn(&mut Writer<'_>) -> Result + Send + Sync + 'static,
{
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(write)));
    let mut out = String::with_capacity(8192);
    // Writing into a String cannot fail; a family's own error would only cut the text short.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_histograms_have_labelled_series() {
        let a = WaitHistogram::default();
        a.observe(Duration::from_micros(50));
        a.observe(Duration::from_secs(9));
        let b = WaitHistogram::default();
        b.observe(Duration::from_millis(3));
        let both = Snapshot::merged([&a, &b]);
        assert_eq!(
            (both.count, both.buckets[0].1, both.buckets[3].1),
            (3, 1, 1)
        );
        let text =
            render(move |w| w.histograms("x_wait_seconds", "Waits.", [([("pool", "p")], &both)]));
        assert!(
            text.contains("x_wait_seconds_bucket{pool=\"p\",le=\"0.0001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("x_wait_seconds_bucket{pool=\"p\",le=\"5\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("x_wait_seconds_bucket{pool=\"p\",le=\"+Inf\"} 3\n"),
            "{text}"
        );
    }

    #[test]
    fn writes_the_text_format() {
        let text = render(|w| {
            w.counter("x_requests_total", "Requests.", 3u64)?;
            w.gauge("x_rate", "A rate.", 0.5f64)?;
            w.counters(
                "x_failures_total",
                "Failures, by reason.",
                [([("reason", "a \"b\"\n")], 1u64)],
            )?;
            w.histogram("x_seconds", "Time.", &[(0.5, 1), (1.0, 2)], 4, 2.5)
        });
        assert_eq!(
            text,
            "# HELP x_requests_total Requests.\n\
             # TYPE x_requests_total counter\n\
             x_requests_total 3\n\
             # HELP x_rate A rate.\n\
             # TYPE x_rate gauge\n\
             x_rate 0.5\n\
             # HELP x_failures_total Failures, by reason.\n\
             # TYPE x_failures_total counter\n\
             x_failures_total{reason=\"a \\\"b\\\"\\n\"} 1\n\
             # HELP x_seconds Time.\n\
             # TYPE x_seconds histogram\n\
             x_seconds_bucket{le=\"0.5\"} 1\n\
             x_seconds_bucket{le=\"1\"} 3\n\
             x_seconds_bucket{le=\"+Inf\"} 4\n\
             x_seconds_sum 2.5\n\
             x_seconds_count 4\n"
        );
    }
}
