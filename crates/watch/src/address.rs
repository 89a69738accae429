//! What the user types to name a store: `redis://…`, `rediss://…`, `redis-cluster://…`,
//! `sqlite:PATH`, `postgres://…` or `dir:PATH`, optionally followed by `?format=NAME` and (for
//! Redis) `prefix=TEXT` where the store's contents do not say which framework wrote them.

use std::{fmt, path::PathBuf};

use crate::format::Format;

/// A store to watch.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreAddress {
    /// Which kind of store, and where.
    pub kind: StoreKindName,
    /// The framework's format, if the user named it (else it is detected).
    pub format: Option<Format>,
    /// The Redis key prefix, if the user named it (else the format's default).
    pub prefix: Option<String>,
}

/// Which kind of store.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreKindName {
    /// A Redis server (or cluster): the URL as fred takes it, without the lab's own options.
    Redis(String),
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database: the URL without the lab's own options.
    Postgres(String),
    /// A folder of session files.
    Dir(PathBuf),
}

/// Why an address cannot be watched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadAddress {
    /// Not one of the schemes.
    #[error(
        "“{0}” is not a store address: use redis://HOST:PORT, rediss://…, sqlite:PATH, postgres://USER@HOST/DB or dir:PATH"
    )]
    Scheme(String),
    /// An unknown `format=`.
    #[error(
        "unknown format “{0}”: one of express, tower-sessions, django, php, flask (or leave it out to detect it)"
    )]
    Format(String),
    /// An option the lab does not know.
    #[error("unknown option “{0}” in the store address (the lab takes format= and prefix=)")]
    Option(String),
    /// Nothing after the scheme.
    #[error("“{0}” names no file or folder")]
    Empty(String),
}

impl StoreAddress {
    /// Parses what the user typed.
    pub fn parse(text: &str) -> Result<Self, BadAddress> {
        let text = text.trim();
        let (base, options) = split_options(text);
        let mut format = None;
        let mut prefix = None;
        let mut passed = Vec::new();
        for pair in options.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned();
            match name {
                "format" => {
                    format = Some(
                        Format::from_name(&value)
                            .ok_or_else(|| BadAddress::Format(value.clone()))?,
                    )
                }
                "prefix" => prefix = Some(value),
                _ => passed.push(pair),
            }
        }
        let with_passed = |base: &str| {
            if passed.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", passed.join("&"))
            }
        };
        let lower = base.to_ascii_lowercase();
        let kind = if lower.starts_with("redis://")
            || lower.starts_with("rediss://")
            || lower.starts_with("redis-cluster://")
        {
            StoreKindName::Redis(with_passed(base))
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            StoreKindName::Postgres(with_passed(base))
        } else if let Some(path) = strip_scheme(base, "sqlite") {
            if let Some(bad) = passed.first() {
                return Err(BadAddress::Option((*bad).to_owned()));
            }
            StoreKindName::Sqlite(path_of(base, path)?)
        } else if let Some(path) = strip_scheme(base, "dir") {
            if let Some(bad) = passed.first() {
                return Err(BadAddress::Option((*bad).to_owned()));
            }
            StoreKindName::Dir(path_of(base, path)?)
        } else {
            return Err(BadAddress::Scheme(session_lab_server::masked_url(text)));
        };
        Ok(Self {
            kind,
            format,
            prefix,
        })
    }

    /// The address as it may be shown (a password masked).
    pub fn shown(&self) -> String {
        self.to_string()
    }
}

fn split_options(text: &str) -> (&str, &str) {
    match text.split_once('?') {
        Some((base, options)) => (base, options),
        None => (text, ""),
    }
}

/// `sqlite:PATH` or `sqlite://PATH`.
fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    let rest = text
        .get(..scheme.len() + 1)
        .filter(|head| head.eq_ignore_ascii_case(&format!("{scheme}:")))
        .map(|_| &text[scheme.len() + 1..])?;
    Some(rest.strip_prefix("//").unwrap_or(rest))
}

fn path_of(text: &str, path: &str) -> Result<PathBuf, BadAddress> {
    if path.is_empty() {
        return Err(BadAddress::Empty(text.to_owned()));
    }
    Ok(PathBuf::from(path))
}

impl fmt::Display for StoreAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            StoreKindName::Redis(url) | StoreKindName::Postgres(url) => {
                f.write_str(&mask_query_password(&session_lab_server::masked_url(url)))?
            }
            StoreKindName::Sqlite(path) => write!(f, "sqlite:{}", path.display())?,
            StoreKindName::Dir(path) => write!(f, "dir:{}", path.display())?,
        }
        let mut options = Vec::new();
        if let Some(format) = self.format {
            options.push(format!("format={}", format.name()));
        }
        if let Some(prefix) = &self.prefix {
            options.push(format!("prefix={prefix}"));
        }
        if !options.is_empty() {
            write!(f, "?{}", options.join("&"))?;
        }
        Ok(())
    }
}

/// `?password=…` (and `sslpassword=…`) in a URL's query, masked: PostgreSQL takes a password
/// there too.
fn mask_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", masked.join("&"))
}

impl fmt::Debug for StoreAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreAddress({self})")
    }
}

impl fmt::Debug for StoreKindName {
    /// Masks a password, as the address's own `Display` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis(url) => write!(f, "Redis({})", session_lab_server::masked_url(url)),
            Self::Postgres(url) => write!(f, "Postgres({})", session_lab_server::masked_url(url)),
            Self::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
            Self::Dir(path) => write!(f, "Dir({})", path.display()),
        }
    }
}

impl StoreKindName {
    /// The kind's word: Redis, SQLite, PostgreSQL, files.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Redis(_) => "Redis",
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
            Self::Dir(_) => "session files",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_and_the_labs_options_are_taken_out() {
        let a = StoreAddress::parse("redis://:pw@127.0.0.1:6379/2?prefix=myapp:&format=express")
            .unwrap();
        assert_eq!(
            a.kind,
            StoreKindName::Redis("redis://:pw@127.0.0.1:6379/2".into())
        );
        assert_eq!(a.format, Some(Format::Express));
        assert_eq!(a.prefix.as_deref(), Some("myapp:"));
        assert!(!a.to_string().contains("pw"), "{a}");
        let pg = StoreAddress::parse("postgres://u@h/db?password=hunter2&sslmode=disable").unwrap();
        assert!(!pg.to_string().contains("hunter2"), "{pg}");
        assert!(pg.to_string().contains("sslmode=disable"), "{pg}");
        assert_eq!(
            StoreAddress::parse("sqlite:/tmp/db.sqlite3").unwrap().kind,
            StoreKindName::Sqlite("/tmp/db.sqlite3".into())
        );
        assert_eq!(
            StoreAddress::parse("sqlite:///tmp/x.db").unwrap().kind,
            StoreKindName::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            StoreAddress::parse("dir:/var/lib/php/sessions")
                .unwrap()
                .kind,
            StoreKindName::Dir("/var/lib/php/sessions".into())
        );
        assert_eq!(
            StoreAddress::parse("postgres://u@127.0.0.1:5432/app?sslmode=disable")
                .unwrap()
                .kind,
            StoreKindName::Postgres("postgres://u@127.0.0.1:5432/app?sslmode=disable".into())
        );
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        assert!(matches!(
            StoreAddress::parse("mysql://x"),
            Err(BadAddress::Scheme(_))
        ));
        assert!(matches!(
            StoreAddress::parse("redis://x?format=rails"),
            Err(BadAddress::Format(_))
        ));
        assert!(matches!(
            StoreAddress::parse("sqlite:"),
            Err(BadAddress::Empty(_))
        ));
        assert!(matches!(
            StoreAddress::parse("dir:/x?colour=red"),
            Err(BadAddress::Option(_))
        ));
    }
}
