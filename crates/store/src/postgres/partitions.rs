//! Day partitions of `fleet_events` and `alerts` (migration 0001): created before the first
//! row of a day is stored, dropped whole by retention. Days are UTC days of the collector's
//! clock (`received_at`, `stored_at`), named `<table>_dYYYYMMDD`.

use std::collections::HashSet;

use postgres::GenericClient;

/// Seconds in a day.
pub(super) const DAY: i64 = 86_400;

/// The (table, day) partitions this connection has created or seen, so the common case (today
/// exists) costs no statement.
#[derive(Debug, Default)]
pub(super) struct KnownDays {
    known: HashSet<(&'static str, i64)>,
}

impl KnownDays {
    /// Whether `(table, day)` is known to exist.
    pub(super) fn has(&self, table: &'static str, day: i64) -> bool {
        self.known.contains(&(table, day))
    }

    /// Records that `(table, day)` exists.
    pub(super) fn add(&mut self, table: &'static str, day: i64) {
        self.known.insert((table, day));
    }

    /// Forgets every day (after retention dropped some, or a failed transaction).
    pub(super) fn clear(&mut self) {
        self.known.clear();
    }
}

/// Makes sure the partition of `table` for the day holding `t` exists, in the caller's
/// transaction. Creators are serialised by an advisory lock on the day, so two collectors
/// storing the first rows of a day do not race on the catalogue. A caller whose transaction
/// fails must [`KnownDays::clear`]: the partition it thought it made was rolled back.
pub(super) fn ensure(
    client: &mut impl GenericClient,
    days: &mut KnownDays,
    table: &'static str,
    t: i64,
) -> Result<(), postgres::Error> {
    let day = day_of(t);
    if days.has(table, day) {
        return Ok(());
    }
    client.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1), $2::integer)",
        &[&table, &i32::try_from(day.div_euclid(DAY)).unwrap_or(0)],
    )?;
    client.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF {table} FOR VALUES FROM ({day}) TO ({})",
        partition_name(table, day),
        day + DAY
    ))?;
    days.add(table, day);
    Ok(())
}

/// A day partition as found in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Partition {
    pub(super) name: String,
    /// Its range of storage times, `from` included, `to` not.
    pub(super) from: i64,
    pub(super) to: i64,
}

/// The partitions of `table` whose whole range is before `cutoff` (retention drops these),
/// oldest first.
pub(super) fn before(
    client: &mut impl GenericClient,
    table: &'static str,
    cutoff: i64,
) -> Result<Vec<Partition>, postgres::Error> {
    let rows = client.query(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::text::regclass",
        &[&table],
    )?;
    let mut found: Vec<Partition> = rows
        .iter()
        .filter_map(|r| {
            let (from, to) = bounds(r.get::<_, Option<&str>>(1)?)?;
            Some(Partition {
                name: r.get(0),
                from,
                to,
            })
        })
        .filter(|p| p.to <= cutoff)
        .collect();
    found.sort_by_key(|p| p.from);
    Ok(found)
}

/// The two numbers of a range bound as PostgreSQL prints it:
/// `FOR VALUES FROM ('1796601600') TO ('1796688000')`. `None` for anything else (a default
/// partition an administrator added is never dropped).
fn bounds(expr: &str) -> Option<(i64, i64)> {
    let mut n = expr
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter(|s| !s.is_empty())
        .map(str::parse::<i64>);
    match (n.next(), n.next(), n.next()) {
        (Some(Ok(from)), Some(Ok(to)), None) => Some((from, to)),
        _ => None,
    }
}

/// The first second of the UTC day holding `t`.
pub(super) fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY) * DAY
}

/// The partition's name for the day starting at `day` (`fleet_events_d20261207`).
pub(super) fn partition_name(table: &str, day: i64) -> String {
    let days = day.div_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    format!("{table}_d{y:04}{m:02}{d:02}")
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_are_utc_days() {
        assert_eq!(partition_name("alerts", 0), "alerts_d19700101");
        // 2026-12-07T03:00:00Z
        let t = 1_796_612_400;
        assert_eq!(day_of(t) % DAY, 0);
        assert_eq!(
            partition_name("fleet_events", day_of(t)),
            "fleet_events_d20261207"
        );
        assert_eq!(partition_name("x", day_of(951_782_400)), "x_d20000229");
    }

    #[test]
    fn range_bounds_are_read_back() {
        assert_eq!(
            bounds("FOR VALUES FROM ('1796601600') TO ('1796688000')"),
            Some((1_796_601_600, 1_796_688_000))
        );
        assert_eq!(
            bounds("FOR VALUES FROM ('-86400') TO ('0')"),
            Some((-86_400, 0))
        );
        assert_eq!(bounds("DEFAULT"), None);
        assert_eq!(bounds("FOR VALUES FROM (MINVALUE) TO ('5')"), None);
    }
}
