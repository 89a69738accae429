//! What a simulated browser does with a page, read from its HTML without running any script:
//! the images it loads, the forms on it (and whether a script submits the first one, as a
//! cross-site request forgery page does), and its links. A small tag reader, not an HTML
//! parser: it finds `<img src>`, `<form action method>` with its `<input name value>`s,
//! `<a href>`, and `.submit()` in a `<script>` or an `onload`; whatever else the page holds is
//! ignored. Bounded: at most [`MAX_EACH`] of each, in a page of at most what the browser read.

use url::Url;

/// The most images, forms and links read from one page.
pub const MAX_EACH: usize = 8;

/// A form on a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageForm {
    /// Where it goes (the page's own address when the form names none).
    pub action: Url,
    /// `POST` (else `GET`).
    pub post: bool,
    /// Its named inputs, in order.
    pub fields: Vec<(String, String)>,
}

impl PageForm {
    /// The fields as `application/x-www-form-urlencoded`.
    pub fn encoded(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.fields)
            .finish()
    }

    /// The address a `GET` form goes to (its fields as the query), or the action of a `POST`.
    pub fn target(&self) -> Url {
        let mut target = self.action.clone();
        if !self.post {
            target.set_query(Some(&self.encoded()));
        }
        target
    }
}

/// What a browser finds on a page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageParts {
    /// Images (loaded at once, as subresources).
    pub images: Vec<Url>,
    /// Forms.
    pub forms: Vec<PageForm>,
    /// Whether a script (or `onload`) submits the first form.
    pub submits_itself: bool,
    /// Links.
    pub links: Vec<Url>,
}

/// Reads `html`, served at `base`.
pub fn read_page(html: &str, base: &Url) -> PageParts {
    let mut parts = PageParts::default();
    let resolve = |reference: &str| base.join(reference.trim()).ok().filter(is_http);
    let mut open_form: Option<PageForm> = None;
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if let Some(comment) = rest.strip_prefix("!--") {
            // A comment hides the tags in it.
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let (tag, after) = read_tag(rest);
        rest = after;
        let Some(tag) = tag else { continue };
        match tag.name.as_str() {
            "img" => {
                if let Some(src) = tag.attr("src").and_then(resolve)
                    && parts.images.len() < MAX_EACH
                {
                    parts.images.push(src);
                }
            }
            "a" => {
                if let Some(href) = tag.attr("href").and_then(resolve)
                    && parts.links.len() < MAX_EACH
                {
                    parts.links.push(href);
                }
            }
            "form" => {
                let action = match tag.attr("action").filter(|a| !a.trim().is_empty()) {
                    Some(action) => resolve(action),
                    None => Some(base.clone()),
                };
                open_form = action.map(|action| PageForm {
                    action,
                    post: tag
                        .attr("method")
                        .is_some_and(|m| m.eq_ignore_ascii_case("post")),
                    fields: Vec::new(),
                });
            }
            "/form" => {
                if let Some(form) = open_form.take()
                    && parts.forms.len() < MAX_EACH
                {
                    parts.forms.push(form);
                }
            }
            "input" | "textarea" | "select" | "button" => {
                if let Some(form) = open_form.as_mut()
                    && let Some(name) = tag.attr("name").filter(|n| !n.is_empty())
                    && form.fields.len() < 64
                {
                    form.fields
                        .push((name.to_owned(), tag.attr("value").unwrap_or("").to_owned()));
                }
            }
            "script" => {
                let end = rest.find("</script").unwrap_or(rest.len());
                if rest[..end].contains(".submit()") {
                    parts.submits_itself = true;
                }
                rest = &rest[end..];
            }
            _ => {}
        }
        if tag
            .attr("onload")
            .is_some_and(|js| js.contains(".submit()"))
        {
            parts.submits_itself = true;
        }
    }
    if let Some(form) = open_form
        && parts.forms.len() < MAX_EACH
    {
        parts.forms.push(form);
    }
    parts
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// One tag: its name (lower case, `/form` for a closing one) and attributes.
struct Tag<'a> {
    name: String,
    attrs: Vec<(String, &'a str)>,
}

impl Tag<'_> {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| *value)
    }
}

/// Reads a tag from just after its `<`; returns it (if it is one) and the rest of the text.
fn read_tag(text: &str) -> (Option<Tag<'_>>, &str) {
    let name_len = text
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphanumeric() || (*i == 0 && *c == '/')))
        .map_or(text.len(), |(i, _)| i);
    if name_len == 0 || text.starts_with("/") && name_len == 1 {
        return (None, text);
    }
    let name = text[..name_len].to_ascii_lowercase();
    let mut rest = &text[name_len..];
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix('>') {
            rest = after;
            break;
        }
        let attr_len = rest
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(rest.len())
            .max(1);
        let attr = rest[..attr_len].to_ascii_lowercase();
        rest = rest[attr_len..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        let mut value = "";
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
            let (found, remaining) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let end = inner.find(quote).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = found;
            rest = remaining;
        }
        if attrs.len() < 32 {
            attrs.push((attr, value));
        }
    }
    (Some(Tag { name, attrs }), rest)
}

/// The count a counter page shows: its last number — the seed's `Number of views 3` → 3, and
/// any other counter (`<p>Visits: 3</p>` → 3) — or `None` for a page with no number. The one
/// reader of a views count: the lab's plot, `demo`, `load` and the audit's burst use it.
pub fn views_shown(body: &str) -> Option<u64> {
    body.split(|c: char| !c.is_ascii_digit())
        .rfind(|digits| !digits.is_empty())
        .and_then(|digits| digits.parse().ok())
}

/// The count a counter page shows: its text, tags left out, ends with a number ("Number of
/// views 12", `<p>Visits: 3</p>`); a page whose last words are not a number shows none.
pub fn counter_shown(body: &str) -> Option<u64> {
    let mut text = String::with_capacity(body.len().min(4096));
    let mut in_tag = false;
    for c in body.chars().take(64 * 1024) {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.trim_end().trim_end_matches(['.', '!']);
    let digits = text.len() - text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let before = text[..text.len() - digits].chars().next_back();
    // "id 0000…1001A" or "v1.2": the digits are part of a word, not a count.
    if before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-') {
        return None;
    }
    text[text.len() - digits..].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counter page's count, and pages that only mention numbers.
    #[test]
    fn a_counter_page_ends_with_its_count() {
        assert_eq!(counter_shown("Number of views 12"), Some(12));
        assert_eq!(counter_shown("<p>Visits: 3</p>\n"), Some(3));
        assert_eq!(counter_shown("Number of views 3."), Some(3));
        assert_eq!(counter_shown(r#"{"id":"000000001001","views":4}"#), None);
        assert_eq!(counter_shown("Logged in as alice (session 1234abc)"), None);
        assert_eq!(counter_shown("Account of alice"), None);
        assert_eq!(counter_shown("version v1.2"), None);
        assert_eq!(counter_shown("99999999999999999999999"), None);
    }

    /// The seed's page, another counter's markup and a page without a number.
    #[test]
    fn the_views_count_is_the_pages_last_number() {
        assert_eq!(views_shown("Number of views 12"), Some(12));
        assert_eq!(views_shown("<p>Visits: 3</p>"), Some(3));
        assert_eq!(views_shown("hello"), None);
        assert_eq!(
            views_shown("99999999999999999999999"),
            None,
            "too big for a count"
        );
    }

    fn base() -> Url {
        Url::parse("http://other-site.test/").unwrap()
    }

    /// The classic CSRF page: a hidden form a script submits, read with its fields; images
    /// and links resolved against the page.
    #[test]
    fn reads_a_forgery_page() {
        let parts = read_page(
            r#"<h1>Prize!</h1><IMG SRC="http://app.lab.test/account/email?email=x">
            <form action='http://app.lab.test/account/email' METHOD=post>
              <input type="hidden" name="email" value="mallory@other-site.test">
              <input type=submit>
            </form><a href="/next">next</a>
            <script>document.forms[0].submit()</script>"#,
            &base(),
        );
        assert_eq!(
            parts.images[0].as_str(),
            "http://app.lab.test/account/email?email=x"
        );
        assert_eq!(parts.forms.len(), 1);
        assert!(parts.forms[0].post);
        assert_eq!(parts.forms[0].encoded(), "email=mallory%40other-site.test");
        assert!(parts.submits_itself);
        assert_eq!(parts.links[0].as_str(), "http://other-site.test/next");
    }

    /// A GET form goes to its action with the fields as the query; `onload` submits too; a
    /// form with no action goes to the page itself.
    #[test]
    fn get_forms_and_onload() {
        let parts = read_page(
            r#"<body onload="document.forms[0].submit()"><form><input name=a value=1></form>"#,
            &base(),
        );
        assert!(parts.submits_itself);
        assert_eq!(
            parts.forms[0].target().as_str(),
            "http://other-site.test/?a=1"
        );
    }

    /// Garbage, unclosed tags, non-http links and floods end without a panic and within the
    /// bounds.
    #[test]
    fn garbage_and_floods_are_bounded() {
        for text in [
            "<",
            "<<<>>>",
            "<a href=",
            "<a href='",
            "<form",
            "</",
            "<img src=\"x",
            "é<é>",
        ] {
            let _ = read_page(text, &base());
        }
        let flood = "<img src=/a><a href=/b><form action=/c></form>".repeat(1000);
        let parts = read_page(&flood, &base());
        assert_eq!(parts.images.len(), MAX_EACH);
        assert_eq!(parts.links.len(), MAX_EACH);
        assert_eq!(parts.forms.len(), MAX_EACH);
        let parts = read_page("<a href='javascript:alert(1)'>x</a>", &base());
        assert!(parts.links.is_empty());
        let parts = read_page("<!-- <img src=/a> <a href=/b> --><a href=/c>", &base());
        assert!(parts.images.is_empty());
        assert_eq!(parts.links.len(), 1);
        let unclosed = read_page("<!-- <img src=/a>", &base());
        assert_eq!(unclosed, PageParts::default());
    }
}
