//! `logward learn` builds login profiles from old logs (a .gz rotation included), and
//! `logward scan --rules default` scores new logins against them — with GeoIP from MaxMind's
//! test databases — without changing them unless `--learn` is given.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use logward_store::AgentStore as _;
use serde_json::Value;

fn logward(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_logward"))
        .args(args)
        .env("TZ", "UTC")
        .env_remove("LOGWARD_STATE_DIR")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// 2026-11-02 is a Monday: three weeks of weekday logins at 09:xx from London.
fn history() -> (String, String) {
    let mut older = String::new();
    let mut newer = String::new();
    for day in 0..21u32 {
        if day % 7 >= 5 {
            continue;
        }
        let (d, m) = (2 + day, day);
        let (month, dd) = if d > 30 { (12, d - 30) } else { (11, d) };
        let line = format!(
            "2026-{month:02}-{dd:02}T09:{m:02}:00+00:00 web01 sshd[100]: Accepted publickey for alice from 81.2.69.142 port 5000 ssh2: ED25519 SHA256:laptop\n"
        );
        if day < 10 {
            older.push_str(&line);
        } else {
            newer.push_str(&line);
        }
    }
    (older, newer)
}

fn alerts(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn profiles(dir: &Path) -> u64 {
    logward_store::SqliteStore::open_dir(dir)
        .unwrap()
        .profile_count()
        .unwrap()
}

#[test]
fn learnt_profiles_make_scan_flag_a_stolen_key_from_a_new_country() {
    let Some(g) = logward_test_support::corpus("geoip") else {
        return;
    };
    let g = g.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (older, newer) = history();
    // The older half as a gzip rotation, the newer as the live file.
    let gz = tmp.path().join("auth.log.1.gz");
    let mut w = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    w.write_all(older.as_bytes()).unwrap();
    w.finish().unwrap();
    let live = tmp.path().join("auth.log");
    std::fs::write(&live, &newer).unwrap();
    let state = tmp.path().join("state");
    let st = state.to_str().unwrap();

    let o = logward(&[
        "learn",
        "--state-dir",
        st,
        "--geoip",
        g,
        gz.to_str().unwrap(),
        live.to_str().unwrap(),
    ]);
    let note = String::from_utf8_lossy(&o.stderr);
    assert!(
        note.contains("15 logins learnt; 2 profiles written"),
        "{note}"
    );
    assert_eq!(profiles(&state), 2);

    // The stolen key at 03:00 from Changchun, and a usual login.
    let new = tmp.path().join("new.log");
    std::fs::write(
        &new,
        "2026-11-24T03:00:00+00:00 web01 sshd[100]: Accepted publickey for alice from 175.16.199.37 port 5000 ssh2: ED25519 SHA256:laptop\n\
         2026-11-24T09:05:00+00:00 web01 sshd[101]: Accepted publickey for alice from 81.2.69.142 port 5000 ssh2: ED25519 SHA256:laptop\n",
    )
    .unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            "--rules",
            "default",
            "--state-dir",
            st,
            "--geoip",
            g,
            "--format",
            "ndjson",
        ];
        args.extend_from_slice(extra);
        args.push(new.to_str().unwrap());
        alerts(&logward(&args))
    };
    let a = scan(&[]);
    let anomalies: Vec<&Value> = a
        .iter()
        .filter(|v| v["rule"]["id"] == "login-anomaly")
        .collect();
    assert_eq!(anomalies.len(), 1, "{a:#?}");
    let x = anomalies[0];
    assert_eq!(x["source"]["ip"], "175.16.199.37");
    assert_eq!(x["source"]["geo"]["city_name"], "Changchun");
    assert!(x["logward"]["score"].as_u64().unwrap() >= 60, "{x}");
    let reasons = x["logward"]["reasons"].to_string();
    assert!(
        reasons.contains("first login from this country"),
        "{reasons}"
    );
    // Changchun → London in six hours would be 1,300 km/h, but travel is measured from the
    // user's last login that raised nothing (London): the user back at the office is quiet.
    assert!(
        a.iter().all(|v| v["source"]["ip"] != "81.2.69.142"
            || !["impossible-travel", "login-anomaly"]
                .contains(&v["rule"]["id"].as_str().unwrap())),
        "{a:#?}"
    );

    // Without --learn the profiles did not change: the same scan gives the same alerts.
    let again = scan(&[]);
    assert_eq!(again.len(), a.len());
    // With --learn, Changchun is known afterwards: no longer a new country.
    scan(&["--learn"]);
    let after = scan(&[]);
    let reasons: Vec<String> = after
        .iter()
        .filter(|v| v["rule"]["id"] == "login-anomaly")
        .map(|v| v["logward"]["reasons"].to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| !r.contains("first login from this country")),
        "{reasons:?}"
    );
}

#[test]
fn a_missing_or_corrupt_database_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.mmdb");
    std::fs::write(&bad, b"not a database").unwrap();
    let log = tmp.path().join("a.log");
    std::fs::write(&log, "").unwrap();
    for db in [bad.clone(), tmp.path().join("missing.mmdb")] {
        let o = Command::new(env!("CARGO_BIN_EXE_logward"))
            .args(["learn", "--state-dir"])
            .arg(tmp.path().join("state"))
            .arg("--geoip")
            .arg(&db)
            .arg(&log)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--geoip") && err.contains(db.file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
    }
}
