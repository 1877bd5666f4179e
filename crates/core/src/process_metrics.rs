//! The standard `process_*` metrics of a Prometheus client (CPU time, memory, file descriptors,
//! start time) for this process, read from `/proc/self` — shared by the agent's and the
//! collector's `/metrics`. The one place core reads files: a handful of procfs reads per
//! scrape, parsed here so both exporters say the same thing.

/// Clock ticks per second of `/proc` times (USER_HZ: 100 on every Linux architecture that
/// matters; Prometheus's own procfs library assumes the same).
const USER_HZ: f64 = 100.0;

/// One reading of `/proc/self` (fields that could not be read are `None`, and not shown).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl Sample {
    /// Reads `/proc/self/{stat,status,limits,fd}` and `/proc/stat` (boot time).
    pub fn read() -> Sample {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        Sample::parse(
            read("/proc/self/stat").as_deref(),
            read("/proc/self/status").as_deref(),
            read("/proc/self/limits").as_deref(),
            read("/proc/stat").as_deref(),
            open_fds,
        )
    }

    /// The sample from the files' texts (pure, for tests).
    pub fn parse(
        stat: Option<&str>,
        status: Option<&str>,
        limits: Option<&str>,
        proc_stat: Option<&str>,
        open_fds: Option<u64>,
    ) -> Sample {
        // Fields after the command name, which may hold spaces and parentheses: the first
        // one after the last `)` is field 3 (state).
        let fields: Vec<&str> = stat
            .and_then(|s| s.rfind(')').map(|i| &s[i + 1..]))
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let cpu_seconds = match (field(14), field(15)) {
            (Some(u), Some(s)) => Some((u + s) as f64 / USER_HZ),
            _ => None,
        };
        let kb = |key: &str| {
            status?
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .map(|v| v * 1024)
        };
        let max_fds = limits.and_then(|l| {
            l.lines()
                .find_map(|l| l.strip_prefix("Max open files"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        });
        let btime = proc_stat.and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        let start_time_seconds = match (btime, field(22)) {
            (Some(b), Some(ticks)) => Some(b as f64 + ticks as f64 / USER_HZ),
            _ => None,
        };
        Sample {
            cpu_seconds,
            resident_bytes: kb("VmRSS:"),
            virtual_bytes: field(23).or_else(|| kb("VmSize:")),
            open_fds,
            max_fds,
            start_time_seconds,
        }
    }

    /// The families (HELP, TYPE, sample) of every value read.
    pub fn write(&self, w: &mut crate::exposition::Writer<'_>) -> crate::exposition::Result {
        if let Some(v) = self.cpu_seconds {
            w.counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                v,
            )?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                self.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                self.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                self.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                self.max_fds,
            ),
        ];
        for (name, help, v) in gauges {
            if let Some(v) = v {
                w.gauge(name, help, v)?;
            }
        }
        if let Some(v) = self.start_time_seconds {
            w.gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                v,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (log ward) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 3 0 \
                    12345 104857600 2000 18446744073709551615";
        let status = "Name:\tlogward\nVmSize:\t  102400 kB\nVmRSS:\t    8000 kB\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        let s = Sample::parse(
            Some(stat),
            Some(status),
            Some(limits),
            Some("cpu 1 2 3\nbtime 1700000000\n"),
            Some(7),
        );
        assert_eq!(
            s,
            Sample {
                cpu_seconds: Some(2.0),
                resident_bytes: Some(8000 * 1024),
                virtual_bytes: Some(104_857_600),
                open_fds: Some(7),
                max_fds: Some(1024),
                start_time_seconds: Some(1_700_000_123.45),
            }
        );
        let out = crate::exposition::render(move |w| s.write(w));
        // A float counter: the encoder writes 2 seconds as `2.0`.
        assert!(out.contains("\nprocess_cpu_seconds_total 2.0\n"), "{out}");
        assert!(out.contains("\nprocess_max_fds 1024\n"), "{out}");
        // Nothing readable: nothing shown.
        let out =
            crate::exposition::render(|w| Sample::parse(None, None, None, None, None).write(w));
        assert!(out.is_empty());
    }

    #[test]
    fn reads_this_process() {
        let s = Sample::read();
        assert!(s.resident_bytes.is_some_and(|b| b > 0), "{s:?}");
        assert!(s.open_fds.is_some_and(|n| n > 0), "{s:?}");
        assert!(s.start_time_seconds.is_some_and(|t| t > 1.0e9), "{s:?}");
    }
}
