//! The filter box's language: an id prefix, `id:`, `data:`, `browser:` / `@NAME`, `external`.

use super::holders::{Holders, Maker};
use crate::server::SessionId;

/// What the filter box asks for.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Matcher {
    /// Plain text: an id prefix, the start of a holder's name (or of "external"), or text in
    /// the data. Typing more only narrows it.
    Any {
        text: String,
        lower: String,
        prefix: Option<(u128, u128)>,
    },
    /// `id:PREFIX`.
    IdPrefix {
        text: String,
        prefix: Option<(u128, u128)>,
    },
    /// `data:TEXT`.
    Data(String),
    /// `browser:NAME` or `@NAME`; `external` for sessions no simulated browser holds.
    Browser(String),
}

impl Matcher {
    pub(super) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let lower = text.to_lowercase();
        Some(if let Some(prefix) = text.strip_prefix("id:") {
            let prefix = prefix.trim();
            Self::IdPrefix {
                text: prefix.to_owned(),
                prefix: SessionId::prefix_bits(prefix),
            }
        } else if let Some(data) = text.strip_prefix("data:") {
            Self::Data(data.trim().to_owned())
        } else if let Some(name) = lower
            .strip_prefix("browser:")
            .or_else(|| lower.strip_prefix('@'))
        {
            Self::Browser(name.trim().to_owned())
        } else {
            Self::Any {
                prefix: SessionId::prefix_bits(text),
                text: text.to_owned(),
                lower,
            }
        })
    }

    pub(super) fn matches(&self, id: SessionId, data: &str, holders: &Holders) -> bool {
        let by_prefix = |prefix: &Option<(u128, u128)>| {
            prefix.is_some_and(|(mask, value)| id.text_bits() & mask == value)
        };
        match self {
            Self::Any {
                text,
                lower,
                prefix,
            } => {
                let held = holders.of(id);
                let made = holders.made_by(id);
                by_prefix(prefix)
                    || held.iter().any(|n| n.starts_with(lower.as_str()))
                    || made.is_some_and(|m| m.keyword().starts_with(lower.as_str()))
                    || (held.is_empty() && made.is_none() && "external".starts_with(lower.as_str()))
                    || data.contains(text.as_str())
            }
            Self::IdPrefix { prefix, .. } => by_prefix(prefix),
            Self::Data(text) => data.contains(text.as_str()),
            Self::Browser(name) => {
                let held = holders.of(id);
                match name.as_str() {
                    "external" => held.is_empty() && holders.made_by(id).is_none(),
                    "load" => holders.made_by(id) == Some(Maker::Load),
                    "audit" => holders.made_by(id) == Some(Maker::Audit),
                    _ => held.iter().any(|n| n == name),
                }
            }
        }
    }

    /// Whether everything `self` matches, `wider` matched too (so `self` need only look
    /// through `wider`'s matches).
    pub(super) fn narrows(&self, wider: &Self) -> bool {
        match (self, wider) {
            (Self::Any { text, .. }, Self::Any { text: old, .. })
            | (Self::IdPrefix { text, .. }, Self::IdPrefix { text: old, .. }) => {
                text.starts_with(old.as_str())
            }
            (Self::Data(text), Self::Data(old)) => text.contains(old.as_str()),
            _ => false,
        }
    }

    /// The few sessions a browser's filter can match, found without a pass over the store.
    pub(super) fn only_held(&self) -> Option<&str> {
        match self {
            Self::Browser(name) if !matches!(name.as_str(), "external" | "load" | "audit") => {
                Some(name)
            }
            _ => None,
        }
    }
}
