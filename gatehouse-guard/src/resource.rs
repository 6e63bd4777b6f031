//! RFC 9728 OAuth 2.0 Protected Resource Metadata, pure: where a resource's
//! metadata document lives and what it says. The guard publishes it for its
//! audience, the resource server's canonical resource URI (RFC 8707 §2),
//! and names its absolute URL in every `WWW-Authenticate` challenge
//! (RFC 9728 §5.1), so a client that meets a 401 can find the
//! authorization server (what every MCP client does).

use serde_json::{json, Map, Value};

/// The RFC 9728 §3 well-known URI suffix.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What a [`GuardBuilder`](crate::GuardBuilder) was told about the
/// resource, beyond its URI.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetadataSettings {
    pub enabled: bool,
    pub scopes_supported: Option<Vec<String>>,
    pub resource_name: Option<String>,
    pub resource_documentation: Option<String>,
}

/// The published document and where it is.
#[derive(Debug, Clone)]
pub(crate) struct ResourceMetadata {
    /// Absolute URL, as named in challenges.
    pub url: String,
    /// Its path on the resource server, to mount it at.
    pub path: String,
    pub document: Value,
}

/// RFC 9728 §3.1: the metadata URL of `resource`, an absolute http(s) URI
/// with a host and no fragment (RFC 8707 §2) or user information. "Any
/// terminating slash (/) following the host component MUST be removed
/// before inserting /.well-known/ and the well-known URI path suffix
/// between the host component and the path and/or query components."
/// Returns the absolute URL and its path; `None` for anything else.
pub(crate) fn metadata_location(resource: &str) -> Option<(String, String)> {
    let mut url = url::Url::parse(resource).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let path = match url.path() {
        "/" => String::new(),
        p => p.to_string(),
    };
    url.set_path(&format!("{WELL_KNOWN}{path}"));
    Some((url.to_string(), url.path().to_string()))
}

impl MetadataSettings {
    /// The document for `resource` (kept exactly as configured: RFC 9728
    /// §3.3 has clients compare it with the URI they started from) served
    /// by `issuer`'s tokens; `None` when the metadata is off. `Err` when
    /// it is on and `resource` cannot have metadata (see
    /// [`metadata_location`]).
    pub fn resolve(&self, issuer: &str, resource: &str) -> Result<Option<ResourceMetadata>, ()> {
        if !self.enabled {
            return Ok(None);
        }
        let (url, path) = metadata_location(resource).ok_or(())?;
        let mut doc = Map::new();
        doc.insert("resource".into(), json!(resource));
        doc.insert("authorization_servers".into(), json!([issuer]));
        if let Some(scopes) = &self.scopes_supported {
            doc.insert("scopes_supported".into(), json!(scopes));
        }
        // RFC 6750 §2.1 only: the guard reads no form body or query.
        doc.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some(name) = &self.resource_name {
            doc.insert("resource_name".into(), json!(name));
        }
        if let Some(docs) = &self.resource_documentation {
            doc.insert("resource_documentation".into(), json!(docs));
        }
        Ok(Some(ResourceMetadata {
            url,
            path,
            document: Value::Object(doc),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9728_3_1_well_known_goes_between_host_and_path() {
        for (resource, url, path) in [
            (
                "https://mcp.example.com/mcp",
                "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
                "/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "http://127.0.0.1:8080/mcp",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp",
                "/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://api.example/v1/tools/",
                "https://api.example/.well-known/oauth-protected-resource/v1/tools/",
                "/.well-known/oauth-protected-resource/v1/tools/",
            ),
        ] {
            assert_eq!(
                metadata_location(resource),
                Some((url.to_string(), path.to_string())),
                "{resource}"
            );
        }
    }

    #[test]
    fn rfc9728_3_1_terminating_slash_after_the_host_is_removed() {
        let want = Some((
            "https://api.example/.well-known/oauth-protected-resource".to_string(),
            "/.well-known/oauth-protected-resource".to_string(),
        ));
        assert_eq!(metadata_location("https://api.example/"), want);
        assert_eq!(metadata_location("https://api.example"), want);
    }

    #[test]
    fn rfc9728_3_1_query_stays_after_the_path() {
        assert_eq!(
            metadata_location("https://api.example/r?tenant=1"),
            Some((
                "https://api.example/.well-known/oauth-protected-resource/r?tenant=1".to_string(),
                "/.well-known/oauth-protected-resource/r".to_string(),
            ))
        );
    }

    #[test]
    fn rfc8707_2_a_resource_is_an_absolute_uri_without_fragment() {
        for bad in [
            "api",
            "/mcp",
            "urn:example:api",
            "ftp://x/y",
            "https://x/mcp#frag",
            "https://user:pw@x/mcp",
            "file:///etc/passwd",
        ] {
            assert_eq!(metadata_location(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc9728_2_document_names_resource_servers_scopes_and_header_only() {
        let settings = MetadataSettings {
            enabled: true,
            scopes_supported: Some(vec!["mcp".into()]),
            resource_name: Some("Notes MCP".into()),
            resource_documentation: None,
        };
        let m = settings
            .resolve("https://auth.example", "https://mcp.example.com/mcp")
            .unwrap()
            .unwrap();
        assert_eq!(
            m.document,
            json!({
                "resource": "https://mcp.example.com/mcp",
                "authorization_servers": ["https://auth.example"],
                "scopes_supported": ["mcp"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Notes MCP",
            })
        );
        assert_eq!(
            m.url,
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn rfc9728_3_3_resource_is_published_exactly_as_configured() {
        // `https://API.example` would become `https://api.example/` if it
        // went through a URL parser; the client compares byte for byte.
        let settings = MetadataSettings {
            enabled: true,
            ..Default::default()
        };
        let m = settings
            .resolve("https://auth.example", "https://API.example")
            .unwrap()
            .unwrap();
        assert_eq!(m.document["resource"], "https://API.example");
        assert!(m.document.get("scopes_supported").is_none());
        assert_eq!(
            m.url,
            "https://api.example/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn metadata_is_off_unless_asked_for() {
        let off = MetadataSettings::default();
        assert!(off
            .resolve("https://auth.example", "api")
            .unwrap()
            .is_none());
        let on = MetadataSettings {
            enabled: true,
            ..Default::default()
        };
        assert!(on.resolve("https://auth.example", "api").is_err());
    }
}
