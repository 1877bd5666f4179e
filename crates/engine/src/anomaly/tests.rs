use super::*;

const DAY: i64 = 86_400;
/// 2026-11-02, a Monday, 00:00 UTC.
const T0: i64 = 1_793_577_600;

fn office<'a>(time: i64) -> Login<'a> {
    Login {
        time,
        user: "alice",
        host: "web01",
        ip: Some("81.2.69.142".parse().unwrap()),
        method: Some("publickey"),
        key: Some("SHA256:laptop"),
        country: Some("GB"),
        city: Some("London"),
        location: Some((51.5142, -0.0931)),
        radius_km: 10,
        asn: Some(2856),
        ..Login::default()
    }
}

/// Three weeks of weekday logins at 09:xx from the office.
fn warm(d: &mut Detector) {
    for day in 0..21 {
        if day % 7 >= 5 {
            continue;
        }
        let v = d.login(
            &office(T0 + day * DAY + 9 * 3600 + day * 60),
            &mut NoProfiles,
        );
        assert!(v.rules.is_empty(), "day {day}: {v:?}");
    }
}

#[test]
fn hours_and_weekdays_follow_the_offset() {
    let l = Login {
        time: T0 + 23 * 3600,
        utc_offset: 2 * 3600,
        ..Login::default()
    };
    assert_eq!((l.hour(), l.weekday()), (1, 1));
    assert_eq!(office(T0).weekday(), 0);
}

#[test]
fn a_stolen_key_from_a_new_country_at_night_is_an_anomaly_with_reasons() {
    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    let mut l = office(T0 + 22 * DAY + 3 * 3600);
    l.ip = Some("175.16.199.1".parse().unwrap());
    l.country = Some("CN");
    l.city = Some("Changchun");
    l.location = Some((43.88, 125.3228));
    l.asn = Some(4134);
    let v = d.login(&l, &mut NoProfiles);
    assert!(v.warm);
    assert!(v.rules.contains(&RULE_ANOMALY), "{v:?}");
    assert!(v.score >= 0.6, "{}", v.score);
    assert!(v.lof.unwrap() > 1.5, "{:?}", v.lof);
    let words = features::words(&v.reasons, 3);
    assert!(words.contains("country"), "{words}");
}

#[test]
fn a_usual_login_is_not_an_anomaly_and_warm_up_holds_back_the_score() {
    let mut d = Detector::new(Settings::default());
    // Before warm-up even a login from a new country raises no login-anomaly.
    for i in 0..3 {
        d.login(&office(T0 + i * DAY + 9 * 3600), &mut NoProfiles);
    }
    let mut l = office(T0 + 3 * DAY + 9 * 3600);
    l.country = Some("SE");
    l.city = Some("Linköping");
    l.location = Some((58.4167, 15.6167));
    l.asn = Some(3301);
    let v = d.login(&l, &mut NoProfiles);
    assert!(!v.warm);
    assert!(!v.rules.contains(&RULE_ANOMALY), "{v:?}");
    // London → Linköping in a day is plausible.
    assert!(!v.rules.contains(&RULE_TRAVEL), "{v:?}");

    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    let v = d.login(&office(T0 + 22 * DAY + 9 * 3600 + 600), &mut NoProfiles);
    assert!(v.rules.is_empty(), "{v:?}");
    assert!(v.score < 0.2, "{}", v.score);
}

#[test]
fn impossible_travel_fires_from_the_second_login() {
    let mut d = Detector::new(Settings::default());
    d.login(&office(T0 + 9 * 3600), &mut NoProfiles);
    let mut l = office(T0 + 10 * 3600);
    l.country = Some("CN");
    l.city = Some("Changchun");
    l.location = Some((43.88, 125.3228));
    let v = d.login(&l, &mut NoProfiles);
    assert_eq!(v.rules, vec![RULE_TRAVEL], "{v:?}");
    assert!(v.features.travel_kmh.unwrap() > 5000.0);
    assert!(features::words(&v.reasons, 1).contains("impossible travel"));
}

#[test]
fn success_after_failures_counts_and_then_resets() {
    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    let ip: IpAddr = "81.2.69.160".parse().unwrap();
    let t = T0 + 22 * DAY + 9 * 3600;
    for i in 0..12 {
        d.failure(ip, t - 100 + i);
    }
    let mut l = office(t);
    l.ip = Some(ip);
    let v = d.login(&l, &mut NoProfiles);
    assert_eq!(v.features.failures_before, 12);
    assert!(v.rules.contains(&RULE_ANOMALY), "{v:?}");
    let v = d.login(&office(t + 60), &mut NoProfiles);
    assert_eq!(v.features.failures_before, 0);
}

#[test]
fn a_new_account_used_at_once_from_a_new_asn_is_the_warm_up_exception() {
    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    let t = T0 + 22 * DAY + 14 * 3600;
    d.account_created("web01", "backup2", t - 120);
    let l = Login {
        time: t,
        user: "backup2",
        host: "web01",
        ip: Some("89.160.20.112".parse().unwrap()),
        method: Some("password"),
        asn: Some(29518),
        ..Login::default()
    };
    let v = d.login(&l, &mut NoProfiles);
    assert!(v.features.new_account && v.features.host_new_asn, "{v:?}");
    assert!(v.rules.contains(&RULE_ANOMALY), "{v:?}");
}

#[test]
fn profiles_persist_through_the_loader() {
    struct Saved(HashMap<String, Profile>);
    impl ProfileLoader for Saved {
        fn load(&mut self, key: &str) -> Option<Profile> {
            self.0.get(key).cloned()
        }
    }
    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    let saved: HashMap<String, Profile> = d.take_dirty().into_iter().collect();
    assert!(saved.contains_key(&Detector::key("web01", "alice")));
    assert!(saved.contains_key(&Detector::host_key("web01")));
    assert!(d.take_dirty().is_empty());
    let mut fresh = Detector::new(Settings::default());
    let mut loader = Saved(saved);
    let p = fresh.profile(&Detector::key("web01", "alice"), &mut loader);
    assert_eq!(p.logins, 15);
    let v = fresh.login(&office(T0 + 22 * DAY + 9 * 3600), &mut loader);
    assert!(v.warm && v.rules.is_empty(), "{v:?}");
    // A usual login needs no LOF (it could not change the verdict); an odd one is scored
    // against the history that came through the loader.
    assert_eq!(v.lof, None);
    let mut odd = office(T0 + 22 * DAY + 3 * 3600);
    changchun(&mut odd);
    let v = fresh.login(&odd, &mut loader);
    assert!(v.lof.is_some_and(|l| l > 1.5), "{v:?}");
}

fn changchun(l: &mut Login<'_>) {
    l.ip = Some("175.16.199.1".parse().unwrap());
    l.country = Some("CN");
    l.city = Some("Changchun");
    l.location = Some((43.88, 125.3228));
    l.asn = Some(4134);
}

#[test]
fn travel_is_measured_from_the_last_login_that_raised_nothing() {
    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    let t = T0 + 22 * DAY + 9 * 3600;
    d.login(&office(t), &mut NoProfiles);
    // The attacker, twenty minutes after the user's own login.
    let mut a = office(t + 1200);
    changchun(&mut a);
    let v = d.login(&a, &mut NoProfiles);
    assert!(v.rules.contains(&RULE_TRAVEL), "{v:?}");
    // The user again from the office an hour later: not "travel" back from Changchun.
    let v = d.login(&office(t + 3 * 3600), &mut NoProfiles);
    assert!(v.rules.is_empty(), "{v:?}");
    assert!(v.features.travel_km.unwrap() < 1.0, "{v:?}");
}

#[test]
fn a_country_the_hosts_users_come_from_weighs_less_and_an_attackers_does_not_become_usual() {
    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    // bob works from Changchun: CN becomes usual on web01.
    for day in 0..5 {
        let mut l = office(T0 + day * DAY + 2 * 3600);
        l.user = "bob";
        changchun(&mut l);
        d.login(&l, &mut NoProfiles);
    }
    let mut l = office(T0 + 23 * DAY + 2 * 3600);
    changchun(&mut l);
    let v = d.login(&l, &mut NoProfiles);
    assert!(
        v.features.new_country && v.features.host_usual_country,
        "{v:?}"
    );
    assert!(features::words(&v.reasons, 5).contains("others log in from it here"));

    // Alerted logins from SE teach the host nothing: the fourth is still "never seen here".
    let mut d = Detector::new(Settings::default());
    for user in ["u1", "u2", "u3", "u4"] {
        let mut l = office(T0 + 9 * 3600);
        l.user = user;
        warm_user(&mut d, user);
        l.time = T0 + 22 * DAY + 3 * 3600;
        l.country = Some("SE");
        l.city = Some("Linköping");
        l.location = Some((58.4167, 15.6167));
        l.asn = Some(3301);
        l.ip = Some("89.160.20.112".parse().unwrap());
        let v = d.login(&l, &mut NoProfiles);
        assert!(v.rules.contains(&RULE_ANOMALY), "{user}: {v:?}");
        assert!(!v.features.host_usual_country, "{user}: {v:?}");
    }
}

fn warm_user(d: &mut Detector, user: &str) {
    for day in 0..21 {
        if day % 7 < 5 {
            let mut l = office(T0 + day * DAY + 9 * 3600 + day * 60);
            l.user = user;
            d.login(&l, &mut NoProfiles);
        }
    }
}

#[test]
fn usual_hours_hold_in_the_local_time_of_where_the_login_comes_from() {
    let l = Login {
        time: T0 + 3600,
        location: Some((35.68, 139.69)),
        ..Login::default()
    };
    // 01:00 UTC is 10:18 mean solar time in Tokyo.
    assert_eq!(l.solar_hour(), Some(10));
    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    // 09:00 in Tokyo is 00:00 on web01's clock (UTC): unusual there, usual for alice.
    let mut trip = office(T0 + 22 * DAY);
    trip.location = Some((35.68, 139.69));
    let v = d.login(&trip, &mut NoProfiles);
    assert!(!v.features.unusual_hour, "{v:?}");
    // 03:00 in London is unusual in both clocks.
    let v = d.login(&office(T0 + 23 * DAY + 3 * 3600), &mut NoProfiles);
    assert!(v.features.unusual_hour, "{v:?}");
}

#[test]
fn a_never_used_method_at_night_is_hard_evidence_whatever_the_lof_says() {
    let mut d = Detector::new(Settings::default());
    warm(&mut d);
    let mut l = office(T0 + 22 * DAY + 3 * 3600);
    l.method = Some("password");
    l.key = None;
    l.ip = Some("81.2.69.143".parse().unwrap());
    let v = d.login(&l, &mut NoProfiles);
    assert!(v.features.new_method && v.features.unusual_hour, "{v:?}");
    assert!(v.rules.contains(&RULE_ANOMALY), "{v:?}");
    assert!(features::words(&v.reasons, 1).contains("never used before, at an unusual hour"));
}

#[test]
fn users_with_a_single_login_get_a_verdict_without_history() {
    let mut d = Detector::new(Settings::default());
    // Even an odd first login: no history, so no warm profile, no LOF and no travel.
    let mut l = office(T0 + 3 * 3600);
    changchun(&mut l);
    l.method = Some("password");
    let v = d.login(&l, &mut NoProfiles);
    assert!(!v.warm && v.lof.is_none() && v.rules.is_empty(), "{v:?}");
    assert_eq!(v.features.travel_km, None);
    assert!(!v.features.new_country && !v.features.new_method, "{v:?}");
    // A second user with one login each on the same host: both profiles kept apart.
    let mut b = office(T0 + 4 * 3600);
    b.user = "bob";
    let v = d.login(&b, &mut NoProfiles);
    assert!(v.rules.is_empty(), "{v:?}");
    let dirty = d.take_dirty();
    assert_eq!(dirty.len(), 3, "alice, bob and the host");
    assert!(dirty.iter().all(|(_, p)| p.logins >= 1));
}

/// A Windows logon event as the Windows decoder makes it (`logward_parse::windows`).
fn windows_logon<'a>(
    id: u32,
    dataset: logward_core::Dataset,
    outcome: logward_core::Outcome,
    logon_type: Option<&'static str>,
    user: &'a str,
) -> logward_core::Event<'a> {
    use std::borrow::Cow;
    let mut e = logward_core::Event::new(dataset, logward_core::Action::UserLogin, outcome);
    e.timestamp = Some(logward_core::Timestamp {
        unix: T0 + 9 * 3600,
        nanos: 0,
        offset: 0,
    });
    e.host_name = Some(Cow::Borrowed("DC01"));
    e.user_name = Some(Cow::Borrowed(user));
    e.set_source(Cow::Borrowed("81.2.69.142"), None);
    e.winlog = Some(Box::new(logward_core::Winlog {
        event_id: id,
        logon_type,
        ..logward_core::Winlog::default()
    }));
    e
}

#[test]
fn windows_interactive_and_rdp_logons_are_scored_and_machine_logons_are_not() {
    use logward_core::{Dataset, Outcome};
    let sec = Dataset::WindowsSecurity;
    let scored = [
        windows_logon(4624, sec, Outcome::Success, Some("interactive"), "alice"),
        windows_logon(
            4624,
            sec,
            Outcome::Success,
            Some("remote-interactive"),
            "alice",
        ),
        windows_logon(
            4624,
            sec,
            Outcome::Success,
            Some("cached-interactive"),
            "alice",
        ),
        windows_logon(
            4624,
            sec,
            Outcome::Success,
            Some("cached-remote-interactive"),
            "alice",
        ),
        windows_logon(1149, Dataset::WindowsRdp, Outcome::Success, None, "alice"),
    ];
    let noise = [
        windows_logon(4624, sec, Outcome::Success, Some("network"), "alice"),
        windows_logon(4624, sec, Outcome::Success, Some("service"), "alice"),
        windows_logon(4624, sec, Outcome::Success, Some("batch"), "alice"),
        windows_logon(4624, sec, Outcome::Success, Some("system"), "SYSTEM"),
        windows_logon(4624, sec, Outcome::Success, Some("unlock"), "alice"),
        windows_logon(
            4624,
            sec,
            Outcome::Success,
            Some("new-credentials"),
            "alice",
        ),
        windows_logon(4624, sec, Outcome::Success, None, "alice"),
        windows_logon(4624, sec, Outcome::Success, Some("interactive"), "DWM-1"),
        windows_logon(4624, sec, Outcome::Success, Some("interactive"), "umfd-0"),
        windows_logon(
            4624,
            sec,
            Outcome::Success,
            Some("remote-interactive"),
            "PC01$",
        ),
        windows_logon(
            4624,
            sec,
            Outcome::Success,
            Some("interactive"),
            "ANONYMOUS LOGON",
        ),
        // A TGT, a service ticket and an NTLM validation vouch for a logon logged elsewhere.
        windows_logon(4768, sec, Outcome::Success, None, "alice"),
        windows_logon(4769, sec, Outcome::Success, None, "alice"),
        windows_logon(4776, sec, Outcome::Success, None, "alice"),
    ];
    // OpenSSH for Windows' login is sshd's.
    let mut ssh = windows_logon(4, sec, Outcome::Success, None, "alice");
    ssh.dataset = Some(Dataset::Sshd);
    let scored: Vec<_> = scored.into_iter().chain([ssh]).collect();
    let mut stage = Stage::new(Settings::default(), Scope::Host);
    for e in &scored {
        let (_, v) = stage.event(e, &mut NoProfiles);
        assert!(v.is_some(), "not scored: {:?}", e.winlog);
    }
    for e in &noise {
        let (alerts, v) = stage.event(e, &mut NoProfiles);
        assert!(v.is_none() && alerts.is_empty(), "scored: {:?}", e.winlog);
    }
    assert_eq!(stage.stats().logins, scored.len() as u64);
    // A failed network logon (SMB guessing) is a failure of its address all the same, as an
    // SSH one is: a later RDP logon from it reads them.
    let fail = windows_logon(
        4625,
        sec,
        Outcome::Failure,
        Some("network"),
        "Administrator",
    );
    stage.event(&fail, &mut NoProfiles);
    assert_eq!(stage.stats().failures, 1);
    // A user name that only looks like Windows' own accounts is a person's.
    assert!(!stage::is_windows_service_account("DWM-"));
    assert!(!stage::is_windows_service_account("dwm-admin"));
    assert!(stage::is_windows_service_account("NETWORK SERVICE"));
}
