pub use super::columns::{AuthMethod, Contacts, GrantTypes, Scopes, UriList};
use crate::oauth::{ApplicationType, ClientPolicy, GrantType, RedirectUris};
use crate::store::dispatch;
use crate::store::schema::clients;
use crate::store::{DbConn, StoreError, StoreResult, Tx};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use std::io::Write;

/// OpenID Connect DCR §2 `application_type` as the `clients` column holds
/// it: its name, `web` or `native`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct StoredApplicationType(pub ApplicationType);

impl std::ops::Deref for StoredApplicationType {
    type Target = ApplicationType;
    fn deref(&self) -> &ApplicationType {
        &self.0
    }
}

impl<DB> FromSql<Text, DB> for StoredApplicationType
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let s = String::from_sql(bytes)?;
        ApplicationType::parse(&s)
            .map(StoredApplicationType)
            .ok_or_else(|| format!("unknown application type '{s}'").into())
    }
}

impl ToSql<Text, Sqlite> for StoredApplicationType {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.as_str());
        Ok(IsNull::No)
    }
}

impl ToSql<Text, Pg> for StoredApplicationType {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_str().as_bytes())?;
        Ok(IsNull::No)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Client {
    pub id: String,
    pub secret_hash: Option<String>,
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: UriList,
    pub grant_types: GrantTypes,
    pub scope: Scopes,
    pub is_public: bool,
    pub auth_method: AuthMethod,
    pub can_introspect: bool,
    /// The id of the person who registered it on the application pages;
    /// `None` for the operator's (CLI) and `POST /register` clients.
    pub owner: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub logo_uri: Option<String>,
    /// RFC 7591 `contacts`.
    pub contacts: Contacts,
    /// Hash of the RFC 7592 registration access token, for clients
    /// registered through `POST /register`.
    pub registration_token_hash: Option<String>,
    /// Where OpenID Connect RP-initiated logout may send people back to,
    /// matched exactly.
    pub post_logout_redirect_uris: UriList,
    /// RFC 8707: the resources this client may name beyond the operator's
    /// `GATEHOUSE_RESOURCES` (URIs, or prefixes ending in `/`).
    pub resources: UriList,
    /// OpenID Connect DCR §2: `web` (https redirect URIs only) or
    /// `native` (RFC 8252); what a registration named, else what its
    /// redirect URIs make it (`ApplicationType::of_redirect_uris`).
    pub application_type: StoredApplicationType,
}

impl Client {
    pub fn redirect_uri_list(&self) -> Vec<&str> {
        self.redirect_uris.iter().collect()
    }
    pub fn grant_type_list(&self) -> Vec<&'static str> {
        self.grant_types.names()
    }
    pub fn post_logout_redirect_uri_list(&self) -> Vec<&str> {
        self.post_logout_redirect_uris.iter().collect()
    }
    /// The resources this client may name beyond the operator's.
    pub fn resource_list(&self) -> Vec<String> {
        self.resources.iter().map(str::to_string).collect()
    }
    pub fn scope_list(&self) -> Vec<&str> {
        self.scope.iter().collect()
    }
    pub fn has_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(grant)
    }
    /// The RFC 7591 name of the client's token endpoint auth method.
    pub fn auth_method_name(&self) -> &'static str {
        if self.is_public {
            AuthMethod::None.rfc7591_name()
        } else {
            self.auth_method.rfc7591_name()
        }
    }
}

impl ClientPolicy for Client {
    fn client_id(&self) -> &str {
        &self.id
    }
    fn redirect_uris(&self) -> RedirectUris {
        RedirectUris::new(self.redirect_uris.iter())
    }
    fn has_grant(&self, grant: GrantType) -> bool {
        Client::has_grant(self, grant)
    }
    fn scopes(&self) -> Vec<&str> {
        self.scope_list()
    }
    fn is_public(&self) -> bool {
        self.is_public
    }
}

impl DbConn {
    pub fn find_client(&mut self, id: &str) -> StoreResult<Option<Client>> {
        Ok(dispatch!(self, c => clients::table
            .find(id)
            .select(Client::as_select())
            .get_result(c)
            .optional())?)
    }

    /// How many clients there are.
    pub fn count_clients(&mut self) -> StoreResult<i64> {
        Ok(dispatch!(self, c => clients::table.count().get_result::<i64>(c))?)
    }

    pub fn list_clients(&mut self) -> StoreResult<Vec<Client>> {
        Ok(dispatch!(self, c => clients::table
            .order(clients::created_at.asc())
            .select(Client::as_select())
            .load(c))?)
    }

    /// The apps a person registered on the application pages, oldest first.
    pub fn list_clients_owned_by(&mut self, owner: &str) -> StoreResult<Vec<Client>> {
        Ok(dispatch!(self, c => clients::table
            .filter(clients::owner.eq(owner))
            .order(clients::created_at.asc())
            .select(Client::as_select())
            .load(c))?)
    }
}

impl Tx<'_> {
    pub fn insert_client(&mut self, client: &Client) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(clients::table).values(client).execute(c))
            .map_err(|e| StoreError::from_insert(e, "client"))?;
        Ok(())
    }

    /// Deletes the client and, through foreign keys, everything issued to
    /// it (codes, refresh token families, device codes, consents). Its
    /// live access tokens stop at once: `access_token_standing` needs the
    /// client to exist.
    pub fn delete_client(&mut self, id: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::delete(clients::table.find(id)).execute(c))?;
        Ok(n == 1)
    }

    /// Replaces the metadata a developer may change (name, addresses,
    /// redirect URIs, grant types, scope, contacts, auth method,
    /// application type); the id,
    /// secret, owner and creation time stay.
    pub fn update_client_metadata(&mut self, client: &Client) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(clients::table.find(&client.id))
            .set((
                clients::name.eq(&client.name),
                clients::website.eq(&client.website),
                clients::logo_uri.eq(&client.logo_uri),
                clients::contacts.eq(&client.contacts),
                clients::redirect_uris.eq(&client.redirect_uris),
                clients::grant_types.eq(&client.grant_types),
                clients::scope.eq(&client.scope),
                clients::auth_method.eq(&client.auth_method),
                clients::application_type.eq(&client.application_type),
                clients::updated_at.eq(client.updated_at),
            ))
            .execute(c))?;
        Ok(n == 1)
    }

    /// Notes that a client was used at `now` (a Client ID Metadata
    /// Document's row, so housekeeping keeps it).
    pub fn touch_client(&mut self, id: &str, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(clients::table.find(id))
            .set(clients::updated_at.eq(now))
            .execute(c))?;
        Ok(n == 1)
    }

    /// Saves what only the operator sets (`gatehouse client update`):
    /// whether the client may introspect any token, and where RP-initiated
    /// logout may send people back to.
    pub fn set_client_operator_fields(&mut self, client: &Client) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(clients::table.find(&client.id))
            .set((
                clients::can_introspect.eq(client.can_introspect),
                clients::post_logout_redirect_uris.eq(&client.post_logout_redirect_uris),
                clients::resources.eq(&client.resources),
                clients::updated_at.eq(client.updated_at),
            ))
            .execute(c))?;
        Ok(n == 1)
    }

    /// Gives the apps of a person who is being deleted to the operator.
    pub fn disown_clients(&mut self, owner: &str) -> StoreResult<usize> {
        Ok(
            dispatch!(self, c => diesel::update(clients::table.filter(clients::owner.eq(owner)))
            .set(clients::owner.eq(None::<String>))
            .execute(c))?,
        )
    }

    pub fn set_client_secret_hash(&mut self, id: &str, hash: &str, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(clients::table.find(id))
            .set((clients::secret_hash.eq(hash), clients::updated_at.eq(now)))
            .execute(c))?;
        Ok(n == 1)
    }
}
