//! Conformance with fail2ban's annotated web-application samples (Grafana, GitLab, Webmin,
//! Drupal, Guacamole, Monit, Bitwarden, Vaultwarden, openHAB, phpMyAdmin, Centreon); the
//! rules of the check are in `common/fail2ban.rs`.

mod common;

use common::fail2ban::check;

#[test]
fn fail2ban_grafana() {
    check("grafana", &[]);
}

#[test]
fn fail2ban_gitlab() {
    check("gitlab", &[]);
}

#[test]
fn fail2ban_webmin_auth() {
    check("webmin-auth", &[]);
}

#[test]
fn fail2ban_drupal_auth() {
    check("drupal-auth", &[]);
}

#[test]
fn fail2ban_guacamole() {
    check("guacamole", &[]);
}

#[test]
fn fail2ban_monit() {
    check("monit", &[]);
}

#[test]
fn fail2ban_bitwarden() {
    check("bitwarden", &[]);
}

#[test]
fn fail2ban_vaultwarden() {
    check("vaultwarden", &[]);
}

#[test]
fn fail2ban_openhab() {
    check("openhab", &[]);
}

#[test]
fn fail2ban_phpmyadmin_syslog() {
    check("phpmyadmin-syslog", &[]);
}

#[test]
fn fail2ban_centreon() {
    check("centreon", &[]);
}
