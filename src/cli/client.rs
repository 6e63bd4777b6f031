use super::{block_on, open_store, Failure, Operator};
use crate::config::Config;
use crate::registry::clients::{ClientChange, RegistrationTokens};
use crate::registry::{ClientMetadata, NewClient};
use crate::store::models::Client;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and (confidential clients) secret once.
    Create(CreateClient),
    /// List clients.
    List {
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        /// The client's id.
        client_id: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Change a client: the fields given are replaced, the others keep
    /// their values; the result is checked as a whole, as at `create`.
    Update(UpdateClient),
    /// Delete a client and every grant and token issued to it.
    Delete {
        /// The client's id.
        client_id: String,
    },
    /// Replace a confidential client's secret; prints the new one once.
    RotateSecret {
        /// The client's id.
        client_id: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateClient {
    /// The name people see on the consent page.
    #[arg(long)]
    pub name: String,
    /// Allowed redirect URIs, matched exactly (a loopback http one on any
    /// port): https, http://127.0.0.1, http://[::1] or http://localhost, or
    /// a native app's scheme such as com.example.app:/cb.
    #[arg(long = "redirect-uri", num_args = 1..)]
    pub redirect_uri: Vec<String>,
    /// authorization_code, refresh_token, client_credentials,
    /// urn:ietf:params:oauth:grant-type:device_code, implicit, password
    #[arg(long = "grant-type", num_args = 1.., required = true)]
    pub grant_type: Vec<String>,
    /// Space-separated scopes the client may ask for.
    #[arg(long, default_value = "")]
    pub scope: String,
    /// A public client (no secret), e.g. a mobile or single-page app.
    #[arg(long)]
    pub public: bool,
    /// Restrict a confidential client to one auth method: basic or post.
    #[arg(long)]
    pub auth_method: Option<String>,
    /// The app's home page (https), linked from the consent page.
    #[arg(long)]
    pub website: Option<String>,
    /// Allow this client to call /introspect (RFC 7662).
    #[arg(long)]
    pub introspect: bool,
    /// Where OpenID Connect RP-initiated logout may send people back to
    /// (matched exactly; the same rules as redirect URIs).
    #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
    pub post_logout_redirect_uri: Vec<String>,
    /// A resource (RFC 8707) this client may name with `resource`, beyond
    /// GATEHOUSE_RESOURCES: a URI, or a prefix ending in / (repeatable).
    #[arg(long = "resource", num_args = 1..)]
    pub resource: Vec<String>,
    /// Print one JSON object (with the secret, shown only this once).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateClient {
    /// The client's id.
    pub client_id: String,
    /// The name people see on the consent page.
    #[arg(long)]
    pub name: Option<String>,
    /// Replaces every redirect URI (the same rules as at create); an
    /// empty value leaves none.
    #[arg(long = "redirect-uri", num_args = 1..)]
    pub redirect_uri: Option<Vec<String>>,
    /// Replaces the grant types.
    #[arg(long = "grant-type", num_args = 1..)]
    pub grant_type: Option<Vec<String>>,
    /// Space-separated scopes the client may ask for (replaces them).
    #[arg(long)]
    pub scope: Option<String>,
    /// A confidential client's auth method: basic, post, or both.
    #[arg(long, value_name = "basic|post|both")]
    pub auth_method: Option<String>,
    /// The app's home page (https); an empty value removes it.
    #[arg(long)]
    pub website: Option<String>,
    /// Allow this client to introspect any token (RFC 7662).
    #[arg(long, overrides_with = "no_introspect")]
    pub introspect: bool,
    /// Allow it to introspect only the tokens issued to it.
    #[arg(long, overrides_with = "introspect")]
    pub no_introspect: bool,
    /// Replaces where OpenID Connect RP-initiated logout may send people
    /// back to; an empty value leaves none.
    #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
    pub post_logout_redirect_uri: Option<Vec<String>>,
    /// Replaces the resources (RFC 8707) this client may name beyond
    /// GATEHOUSE_RESOURCES; an empty value leaves none.
    #[arg(long = "resource", num_args = 1..)]
    pub resource: Option<Vec<String>>,
    /// Print one JSON object, as `client show --json` does.
    #[arg(long)]
    pub json: bool,
}

impl UpdateClient {
    fn change(self) -> ClientChange {
        // `--redirect-uri ''` empties the list.
        let list = |v: Vec<String>| v.into_iter().filter(|u| !u.is_empty()).collect();
        let blank_is_none = |v: String| (!v.trim().is_empty()).then_some(v);
        ClientChange {
            name: self.name,
            website: self.website.map(blank_is_none),
            redirect_uris: self.redirect_uri.map(list),
            grant_types: self.grant_type,
            scope: self.scope,
            auth_method: self.auth_method.map(|m| (m != "both").then_some(m)),
            can_introspect: match (self.introspect, self.no_introspect) {
                (true, _) => Some(true),
                (false, true) => Some(false),
                (false, false) => None,
            },
            post_logout_redirect_uris: self.post_logout_redirect_uri.map(list),
            resources: self.resource.map(list),
        }
    }
}

/// A client as `--json` prints it: its RFC 7591 metadata (the same
/// document `POST /register` answers with), and what only the operator
/// sets or sees.
#[derive(serde::Serialize)]
struct ClientJson<'a> {
    #[serde(flatten)]
    metadata: ClientMetadata,
    /// The same as `client_uri`, by its older name.
    website: Option<&'a str>,
    owner: Option<&'a str>,
    public: bool,
    introspect: bool,
    created_at: i64,
    /// RFC 8707: the resources it may name beyond GATEHOUSE_RESOURCES.
    resources: Vec<&'a str>,
}

fn client_json(c: &Client, secret: Option<String>) -> String {
    let doc = ClientJson {
        metadata: ClientMetadata {
            client_secret: secret,
            // Always a list here, empty when there are none.
            post_logout_redirect_uris: Some(
                c.post_logout_redirect_uri_list()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ),
            ..ClientMetadata::of(c)
        },
        website: c.website.as_deref(),
        owner: c.owner.as_deref(),
        public: c.is_public,
        introspect: c.can_introspect,
        created_at: c.created_at,
        resources: c.resources.iter().collect(),
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

fn print_client(c: &Client) {
    println!("client_id:    {}", c.id);
    println!("name:         {}", c.name);
    println!(
        "type:         {}",
        if c.is_public {
            "public"
        } else {
            "confidential"
        }
    );
    println!("auth method:  {}", c.auth_method_name());
    println!("application type: {}", c.application_type.as_str());
    println!("grant types:  {}", c.grant_types);
    println!("scope:        {}", c.scope);
    println!("redirect URIs: {}", c.redirect_uris);
    if let Some(site) = &c.website {
        println!("website:      {site}");
    }
    if c.can_introspect {
        println!("introspects:  any token (RFC 7662)");
    }
    if !c.post_logout_redirect_uris.is_empty() {
        println!("post-logout redirect URIs: {}", c.post_logout_redirect_uris);
    }
    if !c.resources.is_empty() {
        println!("resources:    {}", c.resources);
    }
}

pub fn run(cmd: ClientCommand, config: &Config) -> Result<(), Failure> {
    match cmd {
        ClientCommand::Create(a) => {
            let op = Operator::open(config)?;
            let spec = NewClient {
                name: a.name,
                website: a.website,
                redirect_uris: a.redirect_uri,
                grant_types: a.grant_type,
                scope: a.scope,
                public: a.public,
                auth_method: a.auth_method,
                can_introspect: a.introspect,
                post_logout_redirect_uris: a.post_logout_redirect_uri,
                resources: a.resource,
                ..Default::default()
            };
            let created = block_on(
                op.registry()
                    .register_client(spec, RegistrationTokens::default()),
            )?
            .map_err(Failure::other)?;
            if a.json {
                println!("{}", client_json(&created.client, created.secret.clone()));
            } else {
                print_client(&created.client);
                if let Some(s) = &created.secret {
                    println!("client_secret: {s}");
                    println!("(the secret is shown only now; store it safely)");
                }
            }
        }
        ClientCommand::List { json } => {
            let clients = open_store(config)?
                .conn()
                .and_then(|mut c| c.list_clients())
                .map_err(Failure::other)?;
            if json {
                let v: Vec<_> = clients.iter().map(|c| client_json(c, None)).collect();
                println!("[{}]", v.join(","));
            } else if clients.is_empty() {
                println!("no clients");
            } else {
                for c in clients {
                    println!("{}  {}  [{}]", c.id, c.name, c.grant_types);
                }
            }
        }
        ClientCommand::Show { client_id, json } => {
            let c = open_store(config)?
                .conn()
                .and_then(|mut c| c.find_client(&client_id))
                .map_err(Failure::other)?
                .ok_or_else(|| Failure::other(format!("no client with id '{client_id}'")))?;
            if json {
                println!("{}", client_json(&c, None));
            } else {
                print_client(&c);
            }
        }
        ClientCommand::Update(a) => {
            let (id, json) = (a.client_id.clone(), a.json);
            let change = a.change();
            if change.is_empty() {
                return Err(Failure::usage(
                    "nothing to change: give at least one field (see gatehouse client update --help)",
                ));
            }
            let op = Operator::open(config)?;
            let client =
                block_on(op.registry().change_client(&id, change))?.map_err(Failure::other)?;
            if json {
                println!("{}", client_json(&client, None));
            } else {
                print_client(&client);
            }
        }
        ClientCommand::Delete { client_id } => {
            let op = Operator::open(config)?;
            block_on(op.registry().delete_client(&client_id))?.map_err(Failure::other)?;
            println!("deleted client {client_id}");
        }
        ClientCommand::RotateSecret { client_id, json } => {
            let op = Operator::open(config)?;
            let secret = block_on(op.registry().rotate_client_secret(&client_id))?
                .map_err(Failure::other)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": client_id, "client_secret": secret})
                );
            } else {
                println!("client_secret: {secret}");
                println!("(the old secret no longer works; the new one is shown only now)");
            }
        }
    }
    Ok(())
}
