//! Who holds each session: the browsers whose jars carry its cookie, and the sessions the
//! window's own loads and audits made.

use super::IdMap;
use crate::server::SessionId;

/// What of the window's, other than its browsers, made a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maker {
    /// The header's Load.
    Load,
    /// The Audit tab's probes.
    Audit,
}

impl Maker {
    /// The word the sessions table shows, and the filter takes (lowercase).
    pub fn name(self) -> &'static str {
        match self {
            Self::Load => "Load",
            Self::Audit => "Audit",
        }
    }

    pub(super) fn keyword(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Audit => "audit",
        }
    }

    /// What the tag means, for its hover.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Load => {
                "Made by the window's Load: one of its browsers holds this session's cookie."
            }
            Self::Audit => "Made by the Audit tab's probes, which held this session's cookie.",
        }
    }
}

/// Who holds a session's cookie: the lowercase names of the simulated browsers whose jars
/// carry it. Sessions nobody holds are "external" — unless the window's Load or Audit made them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Holders {
    by_session: IdMap<Vec<String>>,
    /// Sessions the window's loads and audits made, in the order they came.
    made: IdMap<Maker>,
    made_order: std::collections::VecDeque<SessionId>,
}

impl Holders {
    /// From each browser's name and the sessions its jar carries.
    pub fn new<'a>(jars: impl IntoIterator<Item = (&'a str, Vec<SessionId>)>) -> Self {
        let mut by_session: IdMap<Vec<String>> = IdMap::default();
        for (name, sessions) in jars {
            for session in sessions {
                let names = by_session.entry(session).or_default();
                let name = name.to_lowercase();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Self {
            by_session,
            ..Self::default()
        }
    }

    /// Takes the browsers' jars from `jars` (the loads' sessions stay as they are); returns the
    /// sessions whose holders changed. Cost: the jars' cookies, not the loads' sessions.
    pub fn replace_jars(&mut self, jars: Holders) -> Vec<SessionId> {
        let changed = jars.changed_from(self);
        self.by_session = jars.by_session;
        changed
    }

    /// Remembers sessions a load or an audit made, keeping the latest `most`. Cost: the
    /// sessions added.
    pub fn add_made(&mut self, by: Maker, sessions: &[SessionId], most: usize) {
        for id in sessions {
            if self.made.insert(*id, by).is_none() {
                self.made_order.push_back(*id);
            }
        }
        while self.made_order.len() > most {
            if let Some(old) = self.made_order.pop_front() {
                self.made.remove(&old);
            }
        }
    }

    /// Whether the window's loads or audits made any session.
    pub fn has_made(&self) -> bool {
        !self.made.is_empty()
    }

    /// Which of the window's loads or audits made `session`, if one did.
    pub fn made_by(&self, session: SessionId) -> Option<Maker> {
        self.made.get(&session).copied()
    }

    /// The lowercase names of the browsers holding `session`.
    pub fn of(&self, session: SessionId) -> &[String] {
        self.by_session.get(&session).map_or(&[], Vec::as_slice)
    }

    /// The sessions browser `name` (lowercase) holds.
    pub(super) fn held_by<'a>(&'a self, name: &'a str) -> impl Iterator<Item = SessionId> + 'a {
        self.by_session
            .iter()
            .filter(move |(_, names)| names.iter().any(|n| n == name))
            .map(|(id, _)| *id)
    }

    /// The sessions whose holders differ between `self` and `other`.
    pub fn changed_from(&self, other: &Self) -> Vec<SessionId> {
        let mut changed: Vec<SessionId> = self
            .by_session
            .iter()
            .filter(|(id, names)| other.by_session.get(id) != Some(names))
            .map(|(id, _)| *id)
            .collect();
        changed.extend(
            other
                .by_session
                .keys()
                .filter(|id| !self.by_session.contains_key(id)),
        );
        changed
    }
}
