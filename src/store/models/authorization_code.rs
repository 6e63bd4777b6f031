//! Authorization codes (RFC 6749 §4.1.2): stored only as hashes, short-lived,
//! consumed atomically exactly once.

use crate::crypto::{random_token, record_id, token_hash};
use crate::store::dispatch;
use crate::store::models::refresh_token::{FamilySignIn, IssuedAccess, NewFamily};
use crate::store::models::User;
use crate::store::pg_statement::{PgStatement, Piece};
use crate::store::schema::{authorization_codes, users};
use crate::store::{Backend, DbConn, StoreResult, Tx};
use diesel::prelude::*;
use diesel::sql_types::Nullable;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    /// The `redirect_uri` the authorization request named, if it named one.
    pub redirect_uri: Option<String>,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// The access token issued for it, revoked if the code is replayed.
    pub issued_jti: Option<String>,
    pub issued_jti_expires_at: Option<i64>,
    /// The browser session it was issued in, as the ID token's `sid`.
    pub sid: Option<String>,
    /// How the person signed in to that session (RFC 8176 values,
    /// space-separated; `None` for codes issued before it was kept: a
    /// password).
    pub amr: Option<String>,
    /// RFC 8707: the resources the authorization request named
    /// (space-separated; `None`: the default audience).
    pub resource: Option<String>,
}

impl DbConn {
    pub fn find_authorization_code(
        &mut self,
        code_hash: &str,
    ) -> StoreResult<Option<AuthorizationCode>> {
        Ok(dispatch!(self, c => authorization_codes::table
            .find(code_hash)
            .select(AuthorizationCode::as_select())
            .get_result(c)
            .optional())?)
    }
}

impl Tx<'_> {
    pub fn insert_authorization_code(&mut self, code: &AuthorizationCode) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(authorization_codes::table).values(code).execute(c))?;
        Ok(())
    }

    /// Marks the code used and records the access token it issues (so a
    /// replay can revoke it, RFC 6749 §4.1.2), in one statement. True only
    /// for the one caller that wins: the conditional update is atomic on
    /// both backends.
    pub fn consume_authorization_code(
        &mut self,
        code_hash: &str,
        now: i64,
        jti: &str,
        jti_expires_at: i64,
    ) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            authorization_codes::table
                .find(code_hash)
                .filter(authorization_codes::consumed_at.is_null()),
        )
        .set((
            authorization_codes::consumed_at.eq(now),
            authorization_codes::issued_jti.eq(jti),
            authorization_codes::issued_jti_expires_at.eq(jti_expires_at),
        ))
        .execute(c))?;
        Ok(n == 1)
    }

    /// `consume_authorization_code` and the read before it in one
    /// statement (`UPDATE … RETURNING`): spends the code if it is unspent
    /// and returns it as it was (`consumed_at` none), for the caller to
    /// judge; `None` when no unspent code has this hash (unknown, or
    /// spent: read it to tell). The row count decides, as for the
    /// conditional update: of two racing callers exactly one gets the
    /// code. A caller whose judgement refuses the code rolls the
    /// transaction back, which leaves it unspent.
    pub fn spend_authorization_code(
        &mut self,
        code_hash: &str,
        now: i64,
        jti: &str,
        jti_expires_at: i64,
    ) -> StoreResult<Option<AuthorizationCode>> {
        let spent = match &mut self.backend {
            Backend::Pg(c) => diesel::update(
                authorization_codes::table
                    .find(code_hash)
                    .filter(authorization_codes::consumed_at.is_null()),
            )
            .set((
                authorization_codes::consumed_at.eq(now),
                authorization_codes::issued_jti.eq(jti),
                authorization_codes::issued_jti_expires_at.eq(jti_expires_at),
            ))
            .returning(AuthorizationCode::as_returning())
            .get_result(c)
            .optional()?,
            // SQLite: the read and the update, under the write lock the
            // transaction took at BEGIN (nobody writes in between).
            Backend::Sqlite(_) => match self.find_authorization_code(code_hash)? {
                Some(code) if code.consumed_at.is_none() => self
                    .consume_authorization_code(code_hash, now, jti, jti_expires_at)?
                    .then_some(code),
                _ => None,
            },
        };
        Ok(spent.map(|code| AuthorizationCode {
            consumed_at: None,
            issued_jti: None,
            issued_jti_expires_at: None,
            ..code
        }))
    }
}

/// What a code exchange records with the code it spends.
#[derive(Debug, Clone, Copy)]
pub struct Redemption<'a> {
    pub code_hash: &'a str,
    pub now: i64,
    /// The client redeeming it (the caller's rules refuse any other's code).
    pub client_id: &'a str,
    /// The access token issued: recorded on the code (revoked if the code
    /// comes back) and as a person's token (withdrawn consent deny-lists it).
    pub access: IssuedAccess<'a>,
    /// For a client that may refresh: a refresh family's lifetimes; the
    /// family and its first token are started from the code's row.
    pub refresh: Option<FamilyTtl>,
}

/// A new refresh family's lifetimes (`GATEHOUSE_REFRESH_IDLE_TTL`,
/// `GATEHOUSE_REFRESH_MAX_TTL`).
#[derive(Debug, Clone, Copy)]
pub struct FamilyTtl {
    pub idle_ttl: i64,
    pub max_ttl: i64,
}

/// An unspent code this transaction spent, and what it recorded.
#[derive(Debug)]
pub struct Redeemed {
    /// The code as it was (unspent), for the rules to judge.
    pub code: AuthorizationCode,
    /// Its person (`None`: gone).
    pub user: Option<User>,
    /// The family's first refresh token (plain; only its hash is stored).
    pub refresh_token: Option<String>,
}

/// The columns of `authorization_codes` in `schema.rs` order, as the
/// exchange's statement returns them.
const CODE_COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, scope, \
    code_challenge, code_challenge_method, nonce, auth_time, created_at, expires_at, \
    consumed_at, issued_jti, issued_jti_expires_at, sid, amr, resource";

/// `users` (as `u`) in `schema.rs` order.
pub(in crate::store) const USER_COLUMNS: &str = "u.id, u.username, u.email, \
    u.password_hash, u.is_admin, u.disabled, u.created_at, u.updated_at, u.name, \
    u.email_verified, u.username_key, u.username_skeleton";

impl Tx<'_> {
    /// The code exchange's writes (RFC 6749 §4.1.3): spends the code if it
    /// is unspent (`spend_authorization_code`: the conditional update
    /// decides, exactly one of two racing callers gets it), records the
    /// access token, and for a client that may refresh starts a family
    /// from the code (its person, scope, resources and sign-in) with its
    /// first token. Returns the code as it was, with its person, for the
    /// caller to judge *after* these writes: a refusal returns `Err`, and
    /// the rollback undoes all of them, leaving the code unspent. `None`
    /// when no unspent code has this hash (nothing written: unknown, or
    /// spent; read it to tell).
    ///
    /// On PostgreSQL one statement (the update and the three inserts as a
    /// data-modifying `WITH`, the person joined in): one round trip where
    /// the separate statements took five. On SQLite, in-process under the
    /// write lock from `BEGIN IMMEDIATE`, the statements one by one.
    pub fn redeem_authorization_code(
        &mut self,
        r: Redemption<'_>,
    ) -> StoreResult<Option<Redeemed>> {
        self.require_transaction()?;
        let refresh = r.refresh.map(|ttl| {
            let plain = random_token(32);
            let family_expires_at = r.now + ttl.max_ttl;
            let family = NewCodeFamily {
                id: record_id(),
                expires_at: family_expires_at,
                token_hash: token_hash(&plain),
                token_expires_at: (r.now + ttl.idle_ttl).min(family_expires_at),
            };
            (plain, family, ttl)
        });
        let redeemed = match &mut self.backend {
            Backend::Pg(c) => {
                let family = refresh.as_ref().map(|(_, f, _)| f);
                redeem_statement(&r, family)
                    .get_result::<(AuthorizationCode, Option<User>)>(c)
                    .optional()?
            }
            Backend::Sqlite(_) => {
                let Some(code) = self.spend_authorization_code(
                    r.code_hash,
                    r.now,
                    r.access.jti,
                    r.access.expires_at,
                )?
                else {
                    return Ok(None);
                };
                let user = self.find_user(&code.user_id)?;
                self.record_user_access_token(
                    r.access.jti,
                    &code.user_id,
                    r.client_id,
                    r.access.expires_at,
                )?;
                if let Some((plain, family, ttl)) = &refresh {
                    self.insert_refresh_family_with_token(
                        NewFamily {
                            client_id: r.client_id,
                            user_id: Some(&code.user_id),
                            scope: &code.scope,
                            auth_code_hash: Some(r.code_hash),
                            now: r.now,
                            idle_ttl: ttl.idle_ttl,
                            max_ttl: ttl.max_ttl,
                            access: r.access,
                            resource: code.resource.clone(),
                        },
                        Some(FamilySignIn {
                            auth_time: code.auth_time,
                            sid: code.sid.as_deref(),
                            amr: code.amr.as_deref(),
                        }),
                        &family.id,
                        plain,
                    )?;
                }
                Some((code, user))
            }
        };
        Ok(redeemed.map(|(code, user)| Redeemed {
            code: AuthorizationCode {
                consumed_at: None,
                issued_jti: None,
                issued_jti_expires_at: None,
                ..code
            },
            user,
            refresh_token: refresh.map(|(plain, _, _)| plain),
        }))
    }
}

/// The ids and expiries of the family a code starts, chosen beforehand.
struct NewCodeFamily {
    id: String,
    expires_at: i64,
    token_hash: String,
    token_expires_at: i64,
}

/// `redeem_authorization_code` on PostgreSQL, one statement: the update
/// spends the code (its row count decides), the inserts read the spent
/// row (so they write nothing when it matched nothing), and the row read
/// back is the code as the update left it, with its person. Foreign keys
/// are checked at the end of the statement, when the family exists.
fn redeem_statement<'a>(
    r: &Redemption<'a>,
    family: Option<&'a NewCodeFamily>,
) -> PgStatement<'a, (authorization_codes::SqlType, Nullable<users::SqlType>)> {
    use Piece::{BigInt, Sql, Text};
    let mut p = vec![
        Sql("WITH spent AS (UPDATE authorization_codes SET consumed_at = "),
        BigInt(r.now),
        Sql(", issued_jti = "),
        Text(r.access.jti),
        Sql(", issued_jti_expires_at = "),
        BigInt(r.access.expires_at),
        Sql(" WHERE code_hash = "),
        Text(r.code_hash),
        Sql(" AND consumed_at IS NULL RETURNING "),
        Sql(CODE_COLUMNS),
        Sql("), access AS (INSERT INTO user_access_tokens (jti, user_id, client_id, expires_at) SELECT "),
        Text(r.access.jti),
        Sql(", user_id, "),
        Text(r.client_id),
        Sql(", "),
        BigInt(r.access.expires_at),
        Sql(" FROM spent ON CONFLICT DO NOTHING)"),
    ];
    if let Some(f) = family {
        p.extend([
            Sql(", family AS (INSERT INTO refresh_families (id, client_id, user_id, scope, \
                auth_code_hash, created_at, expires_at, auth_time, sid, amr, resource) SELECT "),
            Text(&f.id),
            Sql(", "),
            Text(r.client_id),
            Sql(", user_id, scope, code_hash, "),
            BigInt(r.now),
            Sql(", "),
            BigInt(f.expires_at),
            Sql(", auth_time, sid, amr, resource FROM spent), token AS (INSERT INTO refresh_tokens \
                (token_hash, family_id, scope, created_at, expires_at, access_jti, \
                access_expires_at) SELECT "),
            Text(&f.token_hash),
            Sql(", "),
            Text(&f.id),
            Sql(", scope, "),
            BigInt(r.now),
            Sql(", "),
            BigInt(f.token_expires_at),
            Sql(", "),
            Text(r.access.jti),
            Sql(", "),
            BigInt(r.access.expires_at),
            Sql(" FROM spent)"),
        ]);
    }
    p.extend([
        Sql(" SELECT spent.*, "),
        Sql(USER_COLUMNS),
        Sql(" FROM spent LEFT JOIN users u ON u.id = spent.user_id"),
    ]);
    PgStatement::new(p)
}
