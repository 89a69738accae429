//! Why each finding matters, how to fix it (express-session's option, tower-sessions' call, or
//! the general rule) and where it is described: OWASP WSTG, the ZAP rule that flags it, CWE.

/// The words that go with a finding.
pub(super) struct Advice {
    pub why: &'static str,
    pub fix: &'static str,
    pub references: &'static [&'static str],
}

/// The advice for finding `id`.
pub(super) fn advice(id: &str) -> Advice {
    match id {
        "cookie-no-httponly" => Advice {
            why: "Page scripts can read the session cookie (document.cookie), so one injected \
                  script (XSS) sends the session to an attacker.",
            fix: "express-session: cookie: { httpOnly: true } (its default). tower-sessions: \
                  SessionManagerLayer::with_http_only(true) (its default).",
            references: &["WSTG-SESS-02", "ZAP 10010", "CWE-1004"],
        },
        "cookie-no-secure" => Advice {
            why: "Without Secure the browser also sends the cookie over plain http, where anyone \
                  on the network path can read it and take over the session.",
            fix: "Serve over https and set express-session: cookie: { secure: true } (behind a \
                  proxy also app.set('trust proxy', 1)); tower-sessions: with_secure(true).",
            references: &["WSTG-SESS-02", "ZAP 10011", "CWE-614"],
        },
        "cookie-no-samesite" => Advice {
            why: "Without SameSite the cookie's cross-site behaviour is left to each browser's \
                  default (Lax in Chrome, not everywhere): cross-site requests may carry the \
                  session (CSRF).",
            fix: "express-session: cookie: { sameSite: 'lax' } (or 'strict'); tower-sessions: \
                  with_same_site(SameSite::Lax) (its default is Strict).",
            references: &["WSTG-SESS-02", "ZAP 10054", "CWE-1275"],
        },
        "cookie-samesite-none-insecure" => Advice {
            why: "Browsers refuse SameSite=None without Secure: the cookie is not stored at all, \
                  so sessions silently do not stick.",
            fix: "Add Secure (and serve over https), or use SameSite=Lax unless the session must \
                  cross sites.",
            references: &["WSTG-SESS-02", "ZAP 10054", "CWE-1275"],
        },
        "cookie-samesite-none" => Advice {
            why: "SameSite=None sends the session with every request any other site makes \
                  (images, forms, fetches): every state-changing route needs its own CSRF \
                  defence.",
            fix: "Use SameSite=Lax unless the session must cross sites; if it must, protect \
                  state-changing routes with CSRF tokens.",
            references: &["WSTG-SESS-05", "ZAP 10054", "CWE-352"],
        },
        "cookie-domain-wide" => Advice {
            why: "A Domain attribute sends the cookie to every subdomain too: any of them (a \
                  forgotten staging host, user content) receives the session.",
            fix: "Leave Domain unset (a host-only cookie) unless subdomains must share the \
                  session. express-session: no cookie.domain; tower-sessions: no with_domain.",
            references: &["WSTG-SESS-02", "CWE-1275"],
        },
        "cookie-long-lived" => Advice {
            why: "A persistent session cookie that lives for weeks keeps the session alive on \
                  shared and lost devices long after the user left.",
            fix: "Keep session cookies short (hours) or browser-session cookies, with an idle \
                  timeout on the server. express-session: cookie.maxAge; tower-sessions: \
                  with_expiry(Expiry::OnInactivity(…)).",
            references: &["WSTG-SESS-07", "CWE-613"],
        },
        "cookie-too-large" => Advice {
            why: "Browsers drop cookies over about 4096 bytes: the session is lost.",
            fix: "Keep the session's data on the server and only an id in the cookie.",
            references: &["WSTG-SESS-02", "RFC 6265 §6.1"],
        },
        "session-id-guessable" => Advice {
            why: "An id that follows a pattern (a counter, the time) can be predicted: an \
                  attacker computes other users' ids and takes over their sessions.",
            fix: "Make ids from a cryptographically secure random source (express-session's \
                  default genid, uid-safe, is; tower-sessions' ids are 128 random bits).",
            references: &["WSTG-SESS-01", "CWE-330", "CWE-341"],
        },
        "session-id-weak" => Advice {
            why: "Fewer than 64 bits of effective entropy lets an attacker find live sessions by \
                  trying ids (OWASP's floor is 64 bits).",
            fix: "Use at least 128 random bits from a CSPRNG for every id.",
            references: &["WSTG-SESS-01", "CWE-331", "OWASP ASVS V3.2.2"],
        },
        "session-id-duplicate" => Advice {
            why: "Two new visitors got the same id: they share one session.",
            fix: "Make ids from a cryptographically secure random source with enough bits.",
            references: &["WSTG-SESS-01", "CWE-330"],
        },
        "session-fixation-adopted" => Advice {
            why: "The server keeps a session under an id the client made up: an attacker plants \
                  an id in a victim's browser, waits for the login, and uses the same id.",
            fix: "Never create a session under an id the server did not issue (tower-sessions \
                  and express-session do not); regenerate the id at login.",
            references: &["WSTG-SESS-03", "ZAP 40013", "CWE-384"],
        },
        "session-fixation-login" => Advice {
            why: "The id stays the same across login: whoever knew it before (a planted or \
                  sniffed id) holds the logged-in session afterwards.",
            fix: "Issue a new id at login. express-session: req.session.regenerate(…); \
                  tower-sessions: session.cycle_id().await.",
            references: &["WSTG-SESS-03", "ZAP 40013", "CWE-384"],
        },
        "logout-session-alive" => Advice {
            why: "After logout the old cookie still opens the session: a copy of it (a shared \
                  computer, a stolen cookie) keeps working.",
            fix: "Delete the session on the server at logout. express-session: \
                  req.session.destroy(…); tower-sessions: session.delete().await (or flush()).",
            references: &["WSTG-SESS-06", "CWE-613"],
        },
        "logout-keeps-anonymous-session" => Advice {
            why: "Logout took the user out of the session but kept the session: the old cookie \
                  still opens it, and whatever else it holds (a cart, preferences, a pending \
                  form) goes on for whoever has a copy.",
            fix: "Destroy the session at logout instead of deleting one key. express-session: \
                  req.session.destroy(…); Django: logout() (flush); tower-sessions: \
                  session.flush().await; PHP: session_destroy().",
            references: &["WSTG-SESS-06", "CWE-613"],
        },
        "logout-route-fails" => Advice {
            why: "The logout route answers an error, so a user who logs out stays logged in \
                  (and the audit cannot judge what a logout would do).",
            fix: "Make the route answer the request a browser sends: a form POST with its \
                  Content-Length (WEBrick answers 411 without one), the CSRF token the app \
                  expects, or give the audit the route as the app serves it (--logout \
                  \"GET /logout\").",
            references: &["WSTG-SESS-06"],
        },
        "store-grows-anonymous" => Advice {
            why: "Every request without a cookie writes a new record, so crawlers, bots and \
                  health checks fill the store (memory, disk, a Redis eviction that drops real \
                  sessions) with sessions nobody will use.",
            fix: "Create a session only when there is something to keep. express-session: \
                  saveUninitialized: false; PHP: call session_start() only on pages that \
                  use the session (it writes a file for every visitor); Flask and Django: do \
                  not touch the session on pages that do not need it; tower-sessions saves \
                  only sessions that were changed.",
            references: &["CWE-400", "CWE-770"],
        },
        "store-ttl-mismatch" => Advice {
            why: "The store's lifetime and the cookie's disagree: a record that outlives its \
                  cookie is dead weight (or a copy of the cookie keeps working longer than \
                  users think); one that dies first logs users out early.",
            fix: "Derive both from one setting. express-session: cookie.maxAge (connect-redis \
                  uses it as the TTL); Django: SESSION_COOKIE_AGE; tower-sessions: \
                  with_expiry(…) sets both.",
            references: &["WSTG-SESS-07", "CWE-613"],
        },
        "store-record-never-expires" => Advice {
            why: "Records without an expiry stay until something deletes them: abandoned \
                  sessions pile up, and an old copied cookie keeps opening its session.",
            fix: "Give records a TTL: connect-redis sets one from cookie.maxAge (or its ttl \
                  option); Django's clearsessions command removes expired rows; \
                  tower-sessions' stores expire records by their expiry_date.",
            references: &["WSTG-SESS-07", "CWE-613"],
        },
        "login-old-record-kept" => Advice {
            why: "Login gave a new id but left the old record: the old cookie (perhaps planted \
                  or copied before login) still opens the pre-login session until it expires.",
            fix: "Regenerate by replacing, not copying: express-session's \
                  req.session.regenerate() destroys the old record; Django's cycle_key() and \
                  PHP's session_regenerate_id(true) delete it; tower-sessions' cycle_id().",
            references: &["WSTG-SESS-03", "CWE-384"],
        },
        "logout-cookie-kept" => Advice {
            why: "The logout response does not clear the cookie, so the browser keeps sending a \
                  dead id (harmless if the session is gone, confusing if it is not).",
            fix: "Clear the cookie at logout (res.clearCookie(name) in Express; tower-sessions \
                  clears it when the session is deleted).",
            references: &["WSTG-SESS-06"],
        },
        "session-id-in-url" => Advice {
            why: "An id in a URL leaks through the Referer header, logs, history and shared \
                  links.",
            fix: "Carry the session only in a cookie; never put the id in URLs or pages.",
            references: &["WSTG-SESS-04", "ZAP 3", "CWE-598"],
        },
        "cache-control-missing" => Advice {
            why: "A response that sets the session cookie without Cache-Control: no-store may \
                  be stored by a shared cache and handed, cookie and all, to someone else.",
            fix: "Send Cache-Control: no-store (or private) on responses that set the session \
                  cookie or show session data.",
            references: &["WSTG-SESS-04", "ZAP 10015", "CWE-525"],
        },
        "lost-updates" => Advice {
            why: "Concurrent requests of one session each load it, change it and save it whole: \
                  the last save wins and the others' changes are lost (express-session and \
                  plain tower-sessions both do this).",
            fix: "Serialise a session's requests (a per-session lock), or change session data \
                  with atomic store operations instead of read-modify-write of the whole \
                  record.",
            references: &["CWE-362", "CWE-367"],
        },
        "expiry-not-visible" => Advice {
            why: "Nothing in the cookie says when the session ends: only the server's own idle \
                  timeout (invisible from outside) ends it. express-session's MemoryStore keeps \
                  such sessions forever.",
            fix: "Set an idle timeout on the server and say it in the cookie. express-session: \
                  cookie.maxAge with rolling: true; tower-sessions: \
                  with_expiry(Expiry::OnInactivity(…)).",
            references: &["WSTG-SESS-07", "CWE-613"],
        },
        "logout-not-revocable" => Advice {
            why: "A session kept in the cookie is the cookie: the server holds nothing it could \
                  delete, so logout only asks the browser to forget it. Any copy (a stolen \
                  cookie, a shared computer's history, a proxy log) stays logged in until it \
                  expires.",
            fix: "Keep sessions on the server (express-session, Django's database sessions, \
                  tower-sessions with a store), or check a server-side revocation list or a \
                  per-user version on every request, with a short expiry inside the signed data.",
            references: &["WSTG-SESS-06", "CWE-613"],
        },
        "client-data-readable" => Advice {
            why: "Signing stops changes, not reading: the data is base64, and anyone holding the \
                  cookie decodes it. Whatever the session holds (a role, an email, a cart) is \
                  disclosed to the user, to scripts if the cookie is not HttpOnly, and to logs.",
            fix: "Keep only what the user may see in a signed cookie, or encrypt it (Rails' \
                  encrypted store, the cookie crate's private jar), or keep the data on the \
                  server and only an id in the cookie.",
            references: &["WSTG-SESS-01", "CWE-315"],
        },
        "client-data-unsigned" => Advice {
            why: "The session's data travels unsigned: a user edits the cookie and the server \
                  believes the new data (another user's id, a role, a price).",
            fix: "Sign the cookie (cookie-session: keys and signed: true, its default; Flask: \
                  SECRET_KEY) or keep the data on the server.",
            references: &["WSTG-SESS-01", "CWE-565", "CWE-642"],
        },
        "client-signature-unchecked" => Advice {
            why: "A signature the server does not check protects nothing: any data, any claims, \
                  can be sent as the session.",
            fix: "Verify the signature (or the encryption's tag) on every request and refuse the \
                  cookie when it does not match; use the framework's own session loader.",
            references: &["WSTG-SESS-01", "CWE-347"],
        },
        "client-rollback" => Advice {
            why: "Each answer gives the browser a new signed copy of the state, and every older \
                  copy stays valid: a user replays the copy from before a purchase, a used \
                  coupon or a demotion and gets that state back.",
            fix: "Keep state that must not go back (balances, one-time actions, roles) on the \
                  server; or put a version in the signed data and check it against the server's.",
            references: &["WSTG-SESS-01", "CWE-294"],
        },
        "client-no-expiry" => Advice {
            why: "The cookie's Max-Age only tells the browser when to forget it; the value itself \
                  carries no time the server checks, so a copy taken once works until the \
                  secret changes.",
            fix: "Put an expiry in the signed data and check it (itsdangerous' max_age, Django's \
                  SESSION_COOKIE_AGE, a JWT's exp); cookie-session: keep an expiry field and \
                  refuse it when past.",
            references: &["WSTG-SESS-07", "CWE-613"],
        },
        "jwt-alg-none" => Advice {
            why: "A token with alg: none has no signature; a server that accepts it lets anyone \
                  write any claims (another user, an admin role).",
            fix: "Verify with a fixed, expected algorithm (jsonwebtoken's Validation::new(HS256), \
                  jose's algorithms: ['HS256']); never take the algorithm from the token.",
            references: &["WSTG-SESS-10", "CWE-347", "CVE-2015-9235"],
        },
        "jwt-no-exp" => Advice {
            why: "A JWT without exp is good forever: logout cannot revoke it, and only changing \
                  the signing key ends a stolen copy.",
            fix: "Set exp (minutes to hours for a session token) and check it; refresh tokens \
                  kept on the server for longer sessions.",
            references: &["WSTG-SESS-10", "CWE-613"],
        },
        "jwt-long-lived" => Advice {
            why: "The longer a token lives, the longer a stolen copy works: a JWT cannot be \
                  revoked without a server-side list.",
            fix: "Keep exp short and renew it while the user is active.",
            references: &["WSTG-SESS-10", "CWE-613"],
        },
        _ => Advice {
            why: "",
            fix: "",
            references: &[],
        },
    }
}
