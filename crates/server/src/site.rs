//! What the embedded server keeps beside its sessions, for the lessons that need more than a
//! counter: user accounts with passwords and e-mail addresses (the state a forged request
//! changes), the attacker's page it serves on `other-site.test`, and the counter behind the
//! deliberately weak session ids.
//!
//! One `Site` per lab, shared by its server instances and kept across new settings and store
//! restarts (accounts are not sessions: a restarted memory store forgets who is logged in, not
//! who has an account).

use parking_lot::{Mutex, MutexGuard};
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tower_sessions::session::Id;

use super::SessionId;

/// The host the attacker's page is served on: another site altogether.
pub const ATTACKER_HOST: &str = session_lab_base::hosts::OTHER_SITE_HOST;

/// Every host the attacker's page is served on: another site, and a sibling subdomain of the
/// app whose pages anyone may write (same site, so its cookies can reach the app).
pub const ATTACKER_HOSTS: [&str; 2] = [ATTACKER_HOST, session_lab_base::hosts::SANDBOX_HOST];

/// The attacker's page: its HTML and, if any, a `Set-Cookie` it answers with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttackerPage {
    /// The page.
    pub html: String,
    /// A `Set-Cookie` header value (empty: none).
    pub set_cookie: String,
}

impl AttackerPage {
    /// The page a new lab serves.
    pub fn new_lab() -> Self {
        Self {
            html: DEFAULT_PAGE.to_owned(),
            set_cookie: String::new(),
        }
    }
}

/// The accounts every lab starts with: user, password, e-mail. The passwords are printed on
/// the login form: this is a lab, and the lessons are about sessions, not about passwords.
pub const ACCOUNTS: [(&str, &str, &str); 3] = [
    ("alice", "wonderland", "alice@app.lab.test"),
    ("bob", "builder", "bob@app.lab.test"),
    ("mallory", "attacker", "mallory@other-site.test"),
];

/// The most bytes of the attacker's page kept.
pub const MAX_PAGE_BYTES: usize = 64 * 1024;

/// The longest e-mail address `/account/email` takes, in characters.
pub const MAX_EMAIL_CHARS: usize = 254;

/// The attacker's page a new lab serves: harmless, with what the lab's browsers do with a
/// page in a comment.
pub const DEFAULT_PAGE: &str = "<h1>Cute cats</h1>
<!-- Your page on other-site.test. The lab's browsers load its <img src=…>, submit a
     <form action=… method=post> that a script submits (document.forms[0].submit()), and,
     when you send them the link, click its first <a href=…>. -->
";

/// The server's accounts, the attacker's page and the weak id counter.
#[derive(Clone, Debug)]
pub struct Site {
    inner: Arc<SiteInner>,
}

#[derive(Debug)]
struct SiteInner {
    /// User → (password, e-mail).
    accounts: Mutex<BTreeMap<String, (String, String)>>,
    /// What the attacker's hosts answer with.
    page: Mutex<AttackerPage>,
    /// The last counted id handed out.
    counted: AtomicU64,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            inner: Arc::new(SiteInner {
                accounts: Mutex::new(
                    ACCOUNTS
                        .iter()
                        .map(|(user, password, email)| {
                            (
                                (*user).to_owned(),
                                ((*password).to_owned(), (*email).to_owned()),
                            )
                        })
                        .collect(),
                ),
                page: Mutex::new(AttackerPage::new_lab()),
                // Counted ids start where the list is easy to read.
                counted: AtomicU64::new(1000),
            }),
        }
    }
}

/// Why a login by password failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginRefused {
    /// No account has this name.
    NoSuchUser,
    /// The password is not the account's.
    WrongPassword,
}

impl Site {
    fn accounts(&self) -> MutexGuard<'_, BTreeMap<String, (String, String)>> {
        self.inner.accounts.lock()
    }

    /// Whether `password` is `user`'s.
    pub fn check_password(&self, user: &str, password: &str) -> Result<(), LoginRefused> {
        match self.accounts().get(user) {
            None => Err(LoginRefused::NoSuchUser),
            Some((kept, _)) if kept == password => Ok(()),
            Some(_) => Err(LoginRefused::WrongPassword),
        }
    }

    /// `user`'s e-mail address, if they have an account.
    pub fn email(&self, user: &str) -> Option<String> {
        self.accounts().get(user).map(|(_, email)| email.clone())
    }

    /// Changes `user`'s e-mail address; false when they have no account.
    pub fn set_email(&self, user: &str, email: &str) -> bool {
        match self.accounts().get_mut(user) {
            Some((_, kept)) => {
                email.clone_into(kept);
                true
            }
            None => false,
        }
    }

    /// Every account's user and e-mail, by user.
    pub fn emails(&self) -> Vec<(String, String)> {
        self.accounts()
            .iter()
            .map(|(user, (_, email))| (user.clone(), email.clone()))
            .collect()
    }

    /// The attacker's page.
    pub fn page(&self) -> AttackerPage {
        self.inner.page.lock().clone()
    }

    /// Replaces the attacker's page (its HTML cut to [`MAX_PAGE_BYTES`] and its `Set-Cookie`
    /// to 4 KiB, on character boundaries).
    pub fn set_page(&self, page: &AttackerPage) {
        let cut = |text: &str, most: usize| {
            let mut end = text.len().min(most);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_owned()
        };
        *self.inner.page.lock() = AttackerPage {
            html: cut(&page.html, MAX_PAGE_BYTES),
            set_cookie: cut(page.set_cookie.trim(), 4096),
        };
    }

    /// The accounts (with their first e-mail addresses) and the page a new lab has.
    pub fn reset(&self) {
        *self.accounts() = Self::default().accounts().clone();
        self.set_page(&AttackerPage::new_lab());
    }

    /// The next counted session id (the weak generator).
    pub fn next_counted(&self) -> Id {
        counted_id(self.inner.counted.fetch_add(1, Ordering::Relaxed) + 1).into()
    }
}

/// The `n`th counted id: its text is `n` in 21 decimal digits and an `A` (22 characters of
/// base64url, as every tower-sessions id), so a learner reads the count in the cookie.
pub fn counted_id(n: u64) -> SessionId {
    let text = format!("{n:021}A");
    text.parse::<Id>()
        .map(SessionId::from)
        .expect("21 digits and an A are 16 bytes of base64url")
}

/// The id an attacker would guess comes after `id`: the next count if `id` is a counted one,
/// else the next number (which, for a random id, names nothing).
pub fn next_guess(id: SessionId) -> SessionId {
    let text = Id::from(id).to_string();
    match text
        .strip_suffix('A')
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u64>().ok())
    {
        Some(n) => counted_id(n + 1),
        None => SessionId(id.0.wrapping_add(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counted ids read as their count, and the guess after one is the next count; after a
    /// random id the guess is another id, not a counted one.
    #[test]
    fn counted_ids_read_as_numbers_and_are_guessed() {
        let id = counted_id(1001);
        assert_eq!(Id::from(id).to_string(), "000000000000000001001A");
        assert_eq!(next_guess(id), counted_id(1002));
        let random = SessionId::from(Id::default());
        assert_eq!(next_guess(random).0, random.0.wrapping_add(1));
    }

    /// Passwords are checked; an e-mail changes only for an account that exists; the page is
    /// cut on a character boundary.
    #[test]
    fn accounts_and_page() {
        let site = Site::default();
        assert_eq!(site.check_password("alice", "wonderland"), Ok(()));
        assert_eq!(
            site.check_password("alice", "x"),
            Err(LoginRefused::WrongPassword)
        );
        assert_eq!(
            site.check_password("eve", "x"),
            Err(LoginRefused::NoSuchUser)
        );
        assert!(site.set_email("alice", "a@b.test"));
        assert_eq!(site.email("alice").as_deref(), Some("a@b.test"));
        assert!(!site.set_email("eve", "e@b.test"));
        site.set_page(&AttackerPage {
            html: "é".repeat(MAX_PAGE_BYTES),
            set_cookie: "é".repeat(4096),
        });
        assert!(site.page().html.len() <= MAX_PAGE_BYTES);
        assert!(site.page().set_cookie.len() <= 4096);
    }
}
