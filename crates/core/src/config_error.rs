//! The one located configuration error: what `logward check`, the daemon and the collector
//! print for a bad rules file, agent config or collector config, at its file:line:column.

use std::fmt;

/// One configuration error, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// Every error of a file, in file order: all are reported at once, not the first alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_at_file_line_column_one_per_line() {
        let e = |line, message: &str| ConfigError {
            file: "agent.yaml".into(),
            line,
            column: 3,
            message: message.into(),
        };
        let all = ConfigErrors(vec![e(1, "bad key"), e(7, "bad duration")]);
        assert_eq!(
            all.to_string(),
            "agent.yaml:1:3: bad key\nagent.yaml:7:3: bad duration"
        );
    }
}
