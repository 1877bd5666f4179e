//! Waking a follower: an inotify watch (the `notify` crate) on the path's *directory* — and
//! on the target's directory when the path is a symlink — wakes it as soon as the file is
//! written, created, renamed or removed. Events for other names are ignored, except while a
//! rotated file is being drained (its new name is unknown). A full check runs every
//! `check_interval` anyway (events dropped on queue overflow, file systems that report
//! nothing); without inotify (off, no instance left, `fs.inotify.max_user_watches`
//! reached, directory missing) every `poll_interval`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{mpsc, Notify};

/// Which inotify events wake the task.
#[derive(Debug, Default)]
struct Filter {
    names: Vec<OsString>,
    /// Wake on any name (a rotated file whose new name is unknown is being drained).
    all: bool,
}

/// How a follower waits for its path to change.
pub(crate) struct Watch {
    path: PathBuf,
    poll_interval: Duration,
    check_interval: Duration,
    /// Shared with the source's stats: waiting by polling.
    polling: Arc<AtomicBool>,
    wake: Arc<Notify>,
    filter: Arc<Mutex<Filter>>,
    watcher: Option<RecommendedWatcher>,
    watched: Vec<PathBuf>,
    watches_ok: bool,
    watch_warned: bool,
    last_watch_check: Option<Instant>,
}

impl Watch {
    /// A watch of `path`, not started.
    pub(crate) fn new(
        path: &Path,
        poll_interval: Duration,
        check_interval: Duration,
        polling: Arc<AtomicBool>,
    ) -> Watch {
        Watch {
            path: path.to_path_buf(),
            poll_interval,
            check_interval,
            polling,
            wake: Arc::new(Notify::new()),
            filter: Arc::new(Mutex::new(Filter::default())),
            watcher: None,
            watched: Vec::new(),
            watches_ok: false,
            watch_warned: false,
            last_watch_check: None,
        }
    }

    /// Starts watching: inotify when `inotify`, else polling every `poll_interval`.
    pub(crate) fn start(&mut self, inotify: bool) {
        if !inotify {
            self.polling.store(true, Ordering::Relaxed);
            return;
        }
        let wake = Arc::clone(&self.wake);
        let filter = Arc::clone(&self.filter);
        let handler = move |res: notify::Result<notify::Event>| {
            let wanted = match &res {
                Ok(ev) => {
                    if matches!(ev.kind, EventKind::Access(_)) {
                        false
                    } else if ev.need_rescan() {
                        true
                    } else {
                        let f = filter.lock().unwrap_or_else(PoisonError::into_inner);
                        f.all
                            || ev.paths.iter().any(|p| {
                                p.file_name()
                                    .is_some_and(|n| f.names.iter().any(|w| w.as_os_str() == n))
                            })
                    }
                }
                Err(_) => true,
            };
            if wanted {
                wake.notify_one();
            }
        };
        match RecommendedWatcher::new(handler, notify::Config::default()) {
            Ok(w) => self.watcher = Some(w),
            Err(e) => {
                tracing::warn!(
                    path = %self.path.display(),
                    error = %e,
                    interval_ms = self.poll_interval.as_millis(),
                    "inotify unavailable (fs.inotify.max_user_instances?): polling instead"
                );
                self.polling.store(true, Ordering::Relaxed);
            }
        }
        self.update(true);
    }

    /// Keeps watches on the path's directory and its target's directory, and the wake
    /// filter's names, in line with what the path is now.
    pub(crate) fn update(&mut self, force: bool) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let due = self
            .last_watch_check
            .is_none_or(|t| t.elapsed() >= self.check_interval);
        if !(force || due || !self.watches_ok) {
            return;
        }
        self.last_watch_check = Some(Instant::now());
        let path = &self.path;
        let parent = |p: &Path| match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut dirs = vec![parent(path)];
        let mut names: Vec<OsString> = path.file_name().map(OsString::from).into_iter().collect();
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            if let Ok(target) = fs::canonicalize(path) {
                let d = parent(&target);
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
                if let Some(n) = target.file_name() {
                    names.push(n.to_os_string());
                }
            }
        }
        self.filter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .names = names;
        for old in std::mem::take(&mut self.watched) {
            if dirs.contains(&old) {
                self.watched.push(old);
            } else {
                let _ = watcher.unwatch(&old);
            }
        }
        let mut ok = true;
        for d in dirs {
            if self.watched.contains(&d) {
                continue;
            }
            match watcher.watch(&d, RecursiveMode::NonRecursive) {
                Ok(()) => self.watched.push(d),
                Err(e) => {
                    ok = false;
                    if !self.watch_warned {
                        self.watch_warned = true;
                        let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch);
                        tracing::warn!(
                            path = %self.path.display(),
                            dir = %d.display(),
                            error = %e,
                            interval_ms = self.poll_interval.as_millis(),
                            "{}: polling until the watch can be set",
                            if limit {
                                "inotify watch limit reached (fs.inotify.max_user_watches)"
                            } else {
                                "cannot watch the directory"
                            }
                        );
                    }
                }
            }
        }
        if ok && !self.watches_ok && self.watch_warned {
            tracing::info!(path = %self.path.display(), "inotify watch set: polling stopped");
            self.watch_warned = false;
        }
        self.watches_ok = ok;
        self.polling.store(!ok, Ordering::Relaxed);
    }

    /// Wake on events for any name in the directories (a rotated file is being drained).
    pub(crate) fn set_wake_all(&self, all: bool) {
        self.filter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .all = all;
    }

    /// Waits for an inotify event, the next check (`retry` when set: an error is being
    /// retried), or the channel's closing (`Err`).
    pub(crate) async fn wait<T>(
        &mut self,
        retry: Option<Duration>,
        tx: &mpsc::Sender<T>,
    ) -> Result<(), ()> {
        let timeout = if let Some(retry) = retry {
            retry
        } else if self.watcher.is_some() && self.watches_ok {
            self.check_interval
        } else {
            self.poll_interval
        };
        let full = tokio::select! {
            _ = self.wake.notified() => false,
            _ = tokio::time::sleep(timeout) => true,
            _ = tx.closed() => return Err(()),
        };
        if full {
            self.update(false);
        }
        Ok(())
    }
}
