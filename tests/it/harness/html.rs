//! Reading pages as a browser would: form fields, HTML entities, the
//! sign-in form; and what a person sees on them: an element's value, the
//! error beside a field, the accessibility rules every page keeps.

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
        crate::harness::wait(
            self.state
                .registry()
                .create_user(gatehouse::registry::NewUser {
                    username: username.into(),
                    password: password.into(),
                    ..Default::default()
                }),
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

/// The `value` of the element with `id` (an `<input>`), or the text of a
/// `<textarea>`, unescaped.
pub fn element_value(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    if tag.starts_with("<textarea") {
        let text = &html[end + 1..];
        return Some(html_unescape(&text[..text.find("</textarea>")?]));
    }
    let v = tag.find("value=\"")? + "value=\"".len();
    let len = tag[v..].find('"')?;
    Some(html_unescape(&tag[v..v + len]))
}

/// The error shown beside `field` (the element `{field}-error`, which the
/// field names in its `aria-describedby`), when there is one.
pub fn error_beside(html: &str, field: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{field}-error\""))?;
    let text_start = at + html[at..].find('>')? + 1;
    let text_end = text_start + html[text_start..].find("</p>")?;
    assert!(
        html.contains(&format!("aria-describedby=\"{field}-hint {field}-error\"")),
        "the {field} field is described by its error"
    );
    Some(html_unescape(&html[text_start..text_end]))
}

/// How many field errors a page shows.
pub fn field_errors(html: &str) -> usize {
    html.matches("class=\"field-error\"").count()
}

/// The accessibility rules every page follows: a language, one `<h1>`, a
/// `<title>`, and a `<label for=…>` for every visible input, textarea and
/// select, matching its id.
pub fn assert_accessible(html: &str, page: &str) {
    assert!(html.contains("<html lang=\"en\">"), "{page}: <html lang>");
    assert_eq!(html.matches("<h1").count(), 1, "{page}: one <h1>");
    let title_start = html.find("<title>").expect("a <title>") + "<title>".len();
    let title_end = html.find("</title>").unwrap();
    assert!(
        !html[title_start..title_end].trim().is_empty(),
        "{page}: a non-empty <title>"
    );
    for tag_name in ["<input", "<textarea", "<select"] {
        let mut rest = html;
        while let Some(i) = rest.find(tag_name) {
            let tag_end = rest[i..].find('>').unwrap() + i;
            let tag = &rest[i..tag_end];
            rest = &rest[tag_end..];
            if tag.contains("type=\"hidden\"") {
                continue;
            }
            let id_at = tag
                .find(" id=\"")
                .unwrap_or_else(|| panic!("{page}: {tag} has no id"))
                + " id=\"".len();
            let id = &tag[id_at..id_at + tag[id_at..].find('"').unwrap()];
            assert!(
                html.contains(&format!("<label for=\"{id}\"")),
                "{page}: no <label for=\"{id}\">"
            );
        }
    }
}
