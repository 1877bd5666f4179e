//! `windows::decode` never panics on arbitrary records (any channel, event id, field names
//! and values), and never names a peer that is not an IP address read from the event's own
//! address fields: IpAddress, ClientIP, IPString, Param3, Address, or the peer the sshd
//! decoder reads from an OpenSSH `payload`. WorkstationName, user names and every other
//! value an attacker chooses never become `source.*`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use logward_parse::windows::{decode, WinRecord};
use proptest::prelude::*;

const CHANNELS: &[&str] = &[
    "Security",
    "System",
    "OpenSSH/Operational",
    "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
    "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational",
    "Microsoft-Windows-PowerShell/Operational",
    "Application",
];

const IDS: &[u32] = &[
    4624, 4625, 4634, 4647, 4648, 4672, 4688, 4697, 4720, 4722, 4724, 4728, 4732, 4740, 4757, 4768,
    4769, 4771, 4776, 4781, 1102, 104, 7045, 1149, 131, 140, 21, 23, 24, 25, 4, 4103, 4104,
];

/// The fields that may name a peer.
const ADDRESS_FIELDS: &[&str] = &["IpAddress", "ClientIP", "IPString", "Param3", "Address"];

const NAMES: &[&str] = &[
    "IpAddress",
    "IpPort",
    "ClientIP",
    "IPString",
    "Param1",
    "Param2",
    "Param3",
    "Address",
    "User",
    "TargetUserName",
    "SubjectUserName",
    "NewTargetUserName",
    "WorkstationName",
    "Workstation",
    "Status",
    "SubStatus",
    "LogonType",
    "MemberName",
    "MemberSid",
    "NewProcessName",
    "NewProcessId",
    "CommandLine",
    "payload",
    "process",
    "TargetDomainName",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just("-".to_owned()),
        Just("::1".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("::ffff:203.0.113.7".to_owned()),
        Just("203.0.113.7:3389".to_owned()),
        Just("[2001:db8::1]:50".to_owned()),
        Just("0xc000006d".to_owned()),
        Just("0x18".to_owned()),
        Just("CN=a\\,b,DC=x".to_owned()),
        Just("198.51.100.9".to_owned()),
        Just(
            "Failed password for x from 198.51.100.2 port 22 ssh2: from 192.0.2.1 port 1 ssh2"
                .to_owned()
        ),
        Just("Invalid user u from 192.0.2.3 port 22".to_owned()),
        "[0-9a-fx:.\\[\\]%-]{0,24}",
    ]
}

fn record() -> impl Strategy<Value = WinRecord> {
    (
        prop_oneof![
            prop::sample::select(CHANNELS).prop_map(str::to_owned),
            any::<String>()
        ],
        prop_oneof![prop::sample::select(IDS), any::<u32>()],
        prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(NAMES).prop_map(str::to_owned),
                    any::<String>()
                ],
                value(),
            ),
            0..12,
        ),
    )
        .prop_map(|(channel, event_id, data)| {
            let mut r = WinRecord {
                channel,
                event_id,
                ..WinRecord::default()
            };
            for (k, v) in data {
                r.push_data(&k, v);
            }
            r
        })
}

/// Whether `ip` is what one of the record's address fields (or an OpenSSH payload) says.
fn named_by(r: &WinRecord, ip: std::net::IpAddr) -> bool {
    let fields = r.data.iter().filter(|(k, _)| {
        ADDRESS_FIELDS.contains(&k.as_str())
            || (k == "payload" && r.channel == "OpenSSH/Operational")
    });
    for (_, v) in fields {
        // The address itself, `A:P`, `[A]:P`, or (payload) any word of the text.
        for word in v.split([' ', '[', ']']).chain([v.as_str()]) {
            let candidates = [Some(word), word.rsplit_once(':').map(|(a, _)| a)];
            for c in candidates.into_iter().flatten() {
                if logward_core::parse_ip(c) == Some(ip) {
                    return true;
                }
            }
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_never_panics_nor_invents_a_peer(r in record()) {
        let e = decode(&r);
        // A peer is always an address, and always one the event's address fields name.
        if let Some(addr) = &e.source_address {
            let ip = e.source_ip;
            prop_assert!(ip.is_some(), "a peer that is not an address: {addr:?} from {r:?}");
            prop_assert!(named_by(&r, ip.unwrap()), "peer {addr} not from an address field: {r:?}");
        }
        prop_assert!(e.source_ip.is_none() || e.source_address.is_some());
        // Every field is kept.
        prop_assert_eq!(e.winlog.as_ref().map(|w| w.event_data.len()), Some(r.data.len()));
    }
}
