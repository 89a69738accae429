//! *Copy as curl*: the command that sends an exchange's request again, byte for byte where it
//! matters (method, URL, the `Cookie` header, the user agent, a form's body).

use url::Url;

use crate::browser::{Exchange, is_lab_host};

/// Quotes `text` for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The curl command for `exchange`'s request. A request to one of the lab's names gets
/// `--resolve` to the embedded server at `lab_server` (only the lab's browsers know those
/// names) and, over https, `--insecure` (the lab's certificate authority is the lab's alone).
pub fn curl_command(exchange: &Exchange, lab_server: Option<&str>) -> String {
    let mut parts = vec!["curl".to_owned(), quote(&exchange.url)];
    let server_ip = lab_server
        .and_then(|u| Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_owned));
    if let (Some(ip), Ok(url)) = (server_ip, Url::parse(&exchange.url))
        && let Some(host) = url.host_str()
        && is_lab_host(host)
    {
        let port = url.port_or_known_default().unwrap_or(80);
        parts.push(format!(
            "--resolve {}",
            quote(&format!("{host}:{port}:{ip}"))
        ));
        if url.scheme() == "https" {
            parts.push("--insecure".to_owned());
        }
    }
    for (name, value) in &exchange.request_headers {
        if name.eq_ignore_ascii_case("content-type") && exchange.request_body.is_some() {
            continue;
        }
        parts.push(format!(
            "-H {}",
            quote(&format!("{}: {value}", header_case(name)))
        ));
    }
    match (&exchange.request_body, exchange.method.as_str()) {
        (Some(body), _) => parts.push(format!("--data-raw {}", quote(body))),
        (None, "GET") => {}
        // Quoted like everything else: a method read from a shared lab's HAR is text from
        // someone else, and must never become a shell command.
        (None, method) => parts.push(format!("-X {}", quote(method))),
    }
    parts.join(" ")
}

/// `user-agent` → `User-Agent`, as DevTools writes them.
fn header_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(url: &str, body: Option<&str>) -> Exchange {
        Exchange {
            sent_at: time::OffsetDateTime::UNIX_EPOCH,
            method: if body.is_some() { "POST" } else { "GET" }.to_owned(),
            url: url.to_owned(),
            cookie_header: Some("id=a'b".to_owned()),
            request_headers: vec![
                ("user-agent".to_owned(), "SessionLab/0.1 (A)".to_owned()),
                ("cookie".to_owned(), "id=a'b".to_owned()),
            ],
            request_body: body.map(str::to_owned),
            http_version: "HTTP/1.1".to_owned(),
            not_sent: Vec::new(),
            from: Default::default(),
            blocked: Vec::new(),
            status: 200,
            reason: "OK".to_owned(),
            response_headers: Vec::new(),
            body: String::new(),
            latency: std::time::Duration::ZERO,
        }
    }

    /// Quotes survive the shell; lab names are resolved to the server; a form is posted.
    #[test]
    fn commands_replay_what_was_sent() {
        assert_eq!(
            curl_command(&exchange("http://127.0.0.1:3000/", None), None),
            r"curl 'http://127.0.0.1:3000/' -H 'User-Agent: SessionLab/0.1 (A)' -H 'Cookie: id=a'\''b'"
        );
        let lab = Some("http://127.0.0.1:4000/");
        let command = curl_command(
            &exchange("https://app.lab.test:4000/login", Some("user=ann")),
            lab,
        );
        assert!(command.contains("--resolve 'app.lab.test:4000:127.0.0.1' --insecure"));
        assert!(command.ends_with("--data-raw 'user=ann'"), "{command}");
    }

    /// A method from an opened file (a HAR) is quoted: it cannot run anything.
    #[test]
    fn a_hostile_method_stays_one_argument() {
        let mut hostile = exchange("http://127.0.0.1:3000/", None);
        hostile.method = "GET; touch /tmp/pwned #".to_owned();
        let command = curl_command(&hostile, None);
        assert!(
            command.ends_with("-X 'GET; touch /tmp/pwned #'"),
            "{command}"
        );
    }
}
