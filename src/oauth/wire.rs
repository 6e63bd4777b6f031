//! Form-encoded request bodies, parsed once with the RFC 6749 rules.

use super::OAuthError;

/// A parsed `application/x-www-form-urlencoded` body.
#[derive(Debug, Default, Clone)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// RFC 6749 §3.2: the body must be form-encoded; parameters must not be
    /// included more than once; parameters sent without a value are treated
    /// as omitted (§3.1).
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Form, OAuthError> {
        let ct = content_type.unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::InvalidRequest(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
        Self::parse_pairs(body)
    }

    pub fn parse_pairs(body: &[u8]) -> Result<Form, OAuthError> {
        let raw: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            OAuthError::InvalidRequest("the body is not valid form encoding".into())
        })?;
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            if pairs.iter().any(|(pk, _)| *pk == k) {
                return Err(OAuthError::InvalidRequest(format!(
                    "parameter '{k}' is included more than once"
                )));
            }
            pairs.push((k, v));
        }
        // Checked after the duplicate test so `a=&a=x` is still refused.
        pairs.retain(|(_, v)| !v.is_empty());
        Ok(Form { pairs })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::InvalidRequest(format!("missing parameter '{key}'")))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_3_2_repeated_parameter_is_invalid_request() {
        let e = Form::parse(Some("application/x-www-form-urlencoded"), b"a=1&a=2").unwrap_err();
        assert_eq!(e.code(), "invalid_request");
    }

    #[test]
    fn rfc6749_3_1_empty_values_count_as_omitted() {
        let f = Form::parse(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"a=&b=2",
        )
        .unwrap();
        assert_eq!(f.get("a"), None);
        assert_eq!(f.get("b"), Some("2"));
    }

    #[test]
    fn json_bodies_are_refused() {
        let e = Form::parse(Some("application/json"), b"{}").unwrap_err();
        assert_eq!(e.code(), "invalid_request");
    }
}
