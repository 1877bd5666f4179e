//! logward's rule workflow: chains of filters and actions, counters over windows, built-in rulesets. Pure, no I/O.
