//! The scenes a scripted run of the window plays (`--screenshot PNG --scene NAME`): named here,
//! below both the command line that reads the name and the window that plays it.

/// The scenes `--scene` can play.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scene {
    /// The seed's lesson: A visits three times, B once.
    Seed,
    /// The lifecycle tour: A logs in, B hijacks A's cookie, C tampers with its own, and the
    /// timeline shows it all.
    Tour,
    /// Two server instances: A spreads its visits over both (run with `--store sqlite:…` to
    /// see one session continue across them).
    Instances,
    /// The audit before and after ticking Secure: the Audit tab shows what changed.
    Audit,
    /// A guided scenario solved: the race on a slow store, with a hint and Fix it showing.
    Scenario,
    /// Cross-site request forgery: the attacker's page on other-site.test, the lured Victim's
    /// browser posting its form, the Other site tab.
    Csrf,
}
