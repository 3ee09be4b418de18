//! How an error is told to a person: its own message and every cause under
//! it, as zero-to-production's `error_chain_fmt` does.
//!
//! Error types keep what caused them as their `source()` rather than pasting
//! its text into their own message, so that each layer adds what it knows
//! ("cannot open the database") and the operator still reads what the
//! database said underneath. The chain is printed once, at the edge: by the
//! binary before it exits, and by the access-log layer for a request that
//! failed on our side.

use std::error::Error;
use std::fmt;

/// An error and its causes. `{}` writes them on one line, `X: Y: Z`, for a
/// log field; `{:#}` writes one per line, `X\n  caused by: Y\n  caused by: Z`,
/// for an operator at a terminal.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let separator = if f.alternate() {
            "\n  caused by: "
        } else {
            ": "
        };
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, "{separator}{e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the database")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("database error")]
    struct Middle(#[source] std::io::Error);

    fn error() -> Outer {
        Outer(Middle(std::io::Error::other(
            "role \"nobody\" does not exist",
        )))
    }

    #[test]
    fn every_cause_is_written_on_its_own_line() {
        assert_eq!(
            format!("{:#}", Chain(&error())),
            "cannot open the database\n  caused by: database error\n  caused by: role \"nobody\" does not exist"
        );
    }

    #[test]
    fn the_plain_form_fits_on_one_line_for_logs() {
        assert_eq!(
            Chain(&error()).to_string(),
            "cannot open the database: database error: role \"nobody\" does not exist"
        );
    }
}
