//! The closed vocabularies of `event.*` (DESIGN.md, "Event fields").

/// `event.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Kind {
    #[default]
    Event,
    Alert,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Alert => "alert",
        }
    }
}

/// `event.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Outcome {
    Success,
    Failure,
    #[default]
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Unknown];
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// `event.action`: the one name for each kind of thing that happens (DESIGN.md's table,
    /// extended in docs/EVENTS.md).
    Action {
        UserLogin => "user-login",
        UserLogout => "user-logout",
        SessionStart => "session-start",
        ConnectionOpened => "connection-opened",
        ConnectionClosed => "connection-closed",
        ConnectionProbe => "connection-probe",
        PrivilegeEscalation => "privilege-escalation",
        UserCreated => "user-created",
        UserDeleted => "user-deleted",
        UserModified => "user-modified",
        PasswordChanged => "password-changed",
        GroupCreated => "group-created",
        GroupDeleted => "group-deleted",
        GroupModified => "group-modified",
        GroupMemberAdded => "group-member-added",
        GroupMemberRemoved => "group-member-removed",
        LogCleared => "log-cleared",
        DnsQuery => "dns-query",
        ServiceAbuse => "service-abuse",
        ProcessStarted => "process-started",
        ServiceInstalled => "service-installed",
        Unknown => "unknown",
    }
}

string_enum! {
    /// `event.dataset`: which decoder (family) produced the event.
    Dataset {
        Sshd => "sshd",
        Sudo => "sudo",
        Su => "su",
        Shadow => "shadow",
        Logind => "logind",
        Login => "login",
        Pam => "pam",
        Wtmp => "wtmp",
        Btmp => "btmp",
        WindowsSecurity => "windows.security",
        WindowsSystem => "windows.system",
        WindowsRdp => "windows.rdp",
        WindowsOpenssh => "windows.openssh",
        WindowsPowershell => "windows.powershell",
        Windows => "windows",
        Syslog => "syslog",
        Auditd => "auditd",
        Dropbear => "dropbear",
        Xrdp => "xrdp",
        Cowrie => "cowrie",
        Postfix => "postfix",
        Dovecot => "dovecot",
        Exim => "exim",
        Courier => "courier",
        Cyrus => "cyrus",
        Sendmail => "sendmail",
        UwImap => "uw-imap",
        Sieve => "sieve",
        Roundcube => "roundcube",
        Vsftpd => "vsftpd",
        Proftpd => "proftpd",
        PureFtpd => "pure-ftpd",
        Wuftpd => "wu-ftpd",
        Nginx => "nginx",
        Apache => "apache",
        HttpAccess => "http.access",
        Lighttpd => "lighttpd",
        Haproxy => "haproxy",
        Squid => "squid",
        ThreeProxy => "3proxy",
        Mysql => "mysql",
        Mssql => "mssql",
        Mongodb => "mongodb",
        Openvpn => "openvpn",
        Grafana => "grafana",
        Gitlab => "gitlab",
        Webmin => "webmin",
        Drupal => "drupal",
        Guacamole => "guacamole",
        Asterisk => "asterisk",
        Freeswitch => "freeswitch",
        Portsentry => "portsentry",
        Monit => "monit",
        Vaultwarden => "vaultwarden",
        Openhab => "openhab",
        Phpmyadmin => "phpmyadmin",
        Centreon => "centreon",
        Named => "named",
        Fail2ban => "fail2ban",
        Doas => "doas",
        DnsDnsmasq => "dns.dnsmasq",
        DnsBind => "dns.bind",
        DnsUnbound => "dns.unbound",
        DnsResolved => "dns.resolved",
        DnsZeek => "dns.zeek",
        DnsPacketbeat => "dns.packetbeat",
        DnsCapture => "dns.capture",
    }
}

/// `event.category`, a small set kept as bits so events stay `Copy`-cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Category(u8);

impl Category {
    pub const AUTHENTICATION: Category = Category(1);
    pub const SESSION: Category = Category(2);
    pub const IAM: Category = Category(4);
    pub const NETWORK: Category = Category(8);
    pub const HOST: Category = Category(16);
    pub const PROCESS: Category = Category(32);
    pub const INTRUSION_DETECTION: Category = Category(64);
    pub const CONFIGURATION: Category = Category(128);
    const NAMES: [(Category, &'static str); 8] = [
        (Category::AUTHENTICATION, "authentication"),
        (Category::SESSION, "session"),
        (Category::IAM, "iam"),
        (Category::NETWORK, "network"),
        (Category::HOST, "host"),
        (Category::PROCESS, "process"),
        (Category::INTRUSION_DETECTION, "intrusion_detection"),
        (Category::CONFIGURATION, "configuration"),
    ];

    pub const fn empty() -> Category {
        Category(0)
    }
    pub const fn union(self, other: Category) -> Category {
        Category(self.0 | other.0)
    }
    pub const fn contains(self, other: Category) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The names of the categories in the set, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(c, _)| self.contains(*c))
            .map(|(_, n)| n)
    }
    pub fn from_name(name: &str) -> Option<Category> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(c, _)| *c)
    }
}

impl Action {
    /// The category DESIGN.md's table gives each action.
    pub const fn category(self) -> Category {
        match self {
            Action::UserLogin | Action::PrivilegeEscalation => Category::AUTHENTICATION,
            Action::UserLogout | Action::SessionStart => Category::SESSION,
            Action::ConnectionOpened
            | Action::ConnectionClosed
            | Action::ConnectionProbe
            | Action::DnsQuery => Category::NETWORK,
            Action::UserCreated
            | Action::UserDeleted
            | Action::UserModified
            | Action::PasswordChanged
            | Action::GroupCreated
            | Action::GroupDeleted
            | Action::GroupModified
            | Action::GroupMemberAdded
            | Action::GroupMemberRemoved => Category::IAM,
            Action::LogCleared => Category::HOST,
            Action::ServiceAbuse => Category::INTRUSION_DETECTION,
            Action::ProcessStarted => Category::PROCESS,
            Action::ServiceInstalled => Category::CONFIGURATION,
            Action::Unknown => Category::empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Action::parse("login"), None);
    }

    #[test]
    fn category_set_lists_names_in_order() {
        let c = Category::SESSION.union(Category::AUTHENTICATION);
        assert_eq!(c.names().collect::<Vec<_>>(), ["authentication", "session"]);
        assert!(Category::empty().is_empty());
        assert_eq!(Category::from_name("iam"), Some(Category::IAM));
    }
}
