//! The lab's clock: real time plus however far the user has moved it forward. The server's
//! expiry and sweeps and the simulated browsers' jars all read it, so "+1 h" expires what an
//! hour would, at once.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

/// How far the clock may be moved ahead: ten years.
const MAX_AHEAD: Duration = Duration::days(3650);

/// Real time plus an offset the user sets. Clones share the offset.
#[derive(Clone, Debug)]
pub struct LabClock {
    /// How far ahead of real time, in milliseconds; watchers (the store's sweep) wake when it
    /// moves.
    ahead_ms: Arc<watch::Sender<i64>>,
}

impl Default for LabClock {
    fn default() -> Self {
        Self {
            ahead_ms: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl LabClock {
    /// The clock's time: real time, plus how far it was moved ahead.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.ahead()
    }

    /// How far ahead of real time the clock runs.
    pub fn ahead(&self) -> Duration {
        Duration::milliseconds(*self.ahead_ms.borrow())
    }

    /// Moves the clock forward by `by` (at most ten years ahead in all); returns how far ahead
    /// it now runs.
    pub fn advance(&self, by: Duration) -> Duration {
        let by = by.max(Duration::ZERO);
        self.ahead_ms.send_modify(|ahead| {
            let next = (Duration::milliseconds(*ahead) + by).min(MAX_AHEAD);
            *ahead = i64::try_from(next.whole_milliseconds()).unwrap_or(i64::MAX);
        });
        self.ahead()
    }

    /// Back to real time.
    pub fn reset(&self) {
        self.ahead_ms.send_replace(0);
    }

    /// Something that changes whenever the clock is moved (for tasks that sleep until a time
    /// on this clock).
    pub fn moved(&self) -> watch::Receiver<i64> {
        self.ahead_ms.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clones share the offset; a reset returns to real time; the offset is capped.
    #[test]
    fn moving_the_clock_moves_every_clone() {
        let clock = LabClock::default();
        let other = clock.clone();
        let moved = other.moved();
        assert_eq!(clock.advance(Duration::hours(1)), Duration::hours(1));
        assert!(moved.has_changed().unwrap());
        let lead = other.now() - OffsetDateTime::now_utc();
        assert!(lead > Duration::minutes(59) && lead <= Duration::hours(1));
        clock.advance(Duration::days(100_000));
        assert_eq!(other.ahead(), MAX_AHEAD);
        other.reset();
        assert_eq!(clock.ahead(), Duration::ZERO);
        assert_eq!(
            clock.advance(-Duration::hours(1)),
            Duration::ZERO,
            "never backwards"
        );
    }
}
