//! `type: file` — the local alert log the seeds keep: one JSON object per line (NDJSON), each
//! alert's ECS JSON plus `notified_at`, appended (`O_APPEND`) to a file created `0600`, and
//! rotated by size like logrotate's numbering: `alerts.log` → `alerts.log.1` → … →
//! `alerts.log.{keep}`, the oldest dropped. A digest writes one line per alert, so the file
//! stays one alert per line whatever the rate limits folded.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::limit::Rate;
use crate::message::Message;
use crate::sinks::outcome::{SendError, Sent};

/// A local file takes whatever comes; this only stops a runaway loop.
pub const RATES: &[Rate] = &[Rate::per_second(1000)];

notifier_config! {
    pub struct Config {
        /// The log file (`/var/log/logward/alerts.log`).
        pub path: String,
        /// Rotate before a write would take the file past this (`10MiB` by default; bytes,
        /// or with `KiB`, `MiB`, `GiB`).
        #[serde(default = "default_max_size")]
        pub max_size: Size,
        /// Rotated files to keep (`alerts.log.1` … `alerts.log.5`); 0 keeps none.
        #[serde(default = "default_keep")]
        pub keep: u32,
    }
}

fn default_max_size() -> Size {
    Size(10 << 20)
}

fn default_keep() -> u32 {
    5
}

/// A size in bytes, written as a number or with a binary unit (`512KiB`, `10MiB`, `1GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl Size {
    pub fn parse(s: &str) -> Option<Size> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().ok()?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "K" | "KiB" => 1 << 10,
            "M" | "MiB" => 1 << 20,
            "G" | "GiB" => 1 << 30,
            _ => return None,
        };
        n.checked_mul(mult).map(Size)
    }
}

impl schemars::JsonSchema for Size {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Bytes, or a number with `KiB`, `MiB` or `GiB`.",
            "type": ["integer", "string"],
            "minimum": 0,
        })
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size: bytes, or a number with KiB, MiB or GiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                Size::parse(v).ok_or_else(|| {
                    E::custom(format!("`{v}` is not a size (bytes, KiB, MiB or GiB)"))
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Config {
    pub fn check(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.path.trim().is_empty() {
            e.push("path is empty".into());
        }
        if self.max_size.0 < 4096 {
            e.push("max_size below 4 KiB: every alert or two would rotate the file".into());
        }
        if self.keep > 1000 {
            e.push("keep above 1000".into());
        }
        e
    }
}

#[derive(Debug)]
pub struct File {
    path: PathBuf,
    max_size: u64,
    keep: u32,
    /// One writer at a time: rotation renames must not interleave.
    lock: tokio::sync::Mutex<()>,
}

/// `alerts.log` → `alerts.log.N`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn rename_if_there(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Shifts `path.1 … path.{keep-1}` up by one (the last overwrites `path.{keep}`) and moves
/// `path` to `path.1`; with `keep` 0 the file is removed.
fn rotate(path: &Path, keep: u32) -> std::io::Result<()> {
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    for i in (1..keep).rev() {
        rename_if_there(&numbered(path, i), &numbered(path, i + 1))?;
    }
    std::fs::rename(path, numbered(path, 1))
}

/// Appends `data`, rotating first when it would take the file past `max_size` (a file
/// is never left empty by a rotation: one oversized batch still goes in whole).
fn append(path: &Path, data: &[u8], max_size: u64, keep: u32) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    if size > 0 && size.saturating_add(data.len() as u64) > max_size {
        rotate(path, keep)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    // One write of whole lines: O_APPEND keeps them whole beside other appenders.
    f.write_all(data)
}

/// The NDJSON lines for a message: each alert with `notified_at`.
pub fn lines(m: &Message, notified_at: &str) -> String {
    let one = |a: &Value| {
        let mut a = a.clone();
        match a.as_object_mut() {
            Some(obj) => {
                obj.insert("notified_at".into(), Value::from(notified_at));
                a
            }
            None => serde_json::json!({"alert": a, "notified_at": notified_at}),
        }
    };
    let alerts: Vec<Value> = match m.json.get("alerts").and_then(Value::as_array) {
        Some(list) if m.json.get("digest") == Some(&Value::Bool(true)) => {
            list.iter().map(one).collect()
        }
        _ => vec![one(&m.json)],
    };
    let mut out = String::new();
    for a in alerts {
        out.push_str(&a.to_string());
        out.push('\n');
    }
    out
}

impl File {
    pub fn new(c: &Config, _timeout: Duration) -> Result<File, String> {
        Ok(File {
            path: PathBuf::from(&c.path),
            max_size: c.max_size.0,
            keep: c.keep,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let data = lines(m, &now);
        let n = data.lines().count();
        let _guard = self.lock.lock().await;
        let (path, max, keep) = (self.path.clone(), self.max_size, self.keep);
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || append(&path, data.as_bytes(), max, keep))
            .await
            .map_err(|e| SendError::transient(format!("file writer: {e}")))?
            .map_err(|e| {
                let reason = format!("{shown}: {e}");
                // An operator must fix permissions; a full disk or an I/O error may pass.
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    SendError::permanent(reason)
                } else {
                    SendError::transient(reason)
                }
            })?;
        Ok(Sent::new(0, &format!("{n} line(s) appended")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(Size::parse("10MiB"), Some(Size(10 << 20)));
        assert_eq!(Size::parse("512 KiB"), Some(Size(512 << 10)));
        assert_eq!(Size::parse("4096"), Some(Size(4096)));
        assert_eq!(Size::parse("1GiB"), Some(Size(1 << 30)));
        assert_eq!(Size::parse("10MB"), None);
        assert_eq!(Size::parse("MiB"), None);
        assert_eq!(
            numbered(Path::new("a/alerts.log"), 3),
            PathBuf::from("a/alerts.log.3")
        );
    }
}
