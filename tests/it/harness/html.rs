//! Reading pages as a browser would: form fields, HTML entities, the
//! sign-in form.

use super::TestApp;

/// Decodes the HTML entities a template escaper produces (named and
/// numeric), as a browser would.
pub fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `value` of the first input named `name` in an HTML page.
pub fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let end = tag[v..].find('"')?;
    Some(html_unescape(&tag[v..v + end]))
}

impl TestApp {
    /// Creates a user with the given password.
    pub fn user(&self, username: &str, password: &str) -> gatehouse::store::models::User {
        gatehouse::admin::create_user(
            &self.state.store,
            username,
            None,
            password,
            self.state.clock.now(),
        )
        .unwrap()
    }

    /// Loads the sign-in page and posts the form, as a browser would.
    pub async fn sign_in(&self, username: &str, password: &str, next: &str) -> reqwest::Response {
        let page = self
            .http
            .get(self.url("/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = form_field(&page, "csrf_token").expect("csrf token on the sign-in page");
        let next = form_field(&page, "next").unwrap();
        self.http
            .post(self.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("next", next.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }
}
