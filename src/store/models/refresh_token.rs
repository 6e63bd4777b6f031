//! Refresh tokens live in families: every rotation adds a token to its
//! family; the family carries the absolute lifetime and, once revoked,
//! kills every token in it (RFC 9700 §4.14.2).
//!
//! **One writer per family at a time.** Every transaction that changes a
//! family (a refresh, a grace replay, a revocation) first locks the
//! family's row: `SELECT … FOR UPDATE` on PostgreSQL; on SQLite the
//! transaction already holds the database write lock from its
//! `BEGIN IMMEDIATE` (`DbConn::transaction`). So a refresh and a revocation
//! of one family never interleave: either the refresh commits first and the
//! revocation, reading after it, deny-lists the access token it issued, or
//! the revocation commits first and the refresh finds the family revoked
//! (RFC 7009 §2.1). The methods that rely on this refuse to run outside a
//! transaction.

use crate::crypto::{random_token, token_hash};
use crate::store::dispatch;
use crate::store::models::authorization_code::USER_COLUMNS;
use crate::store::models::User;
use crate::store::pg_statement::{PgStatement, Piece};
use crate::store::schema::{refresh_families, refresh_tokens, users};
use crate::store::{Backend, DbConn, StoreError, StoreResult, Tx};
use diesel::prelude::*;
use diesel::sql_types::Nullable;

/// Loads `$query` with `FOR UPDATE` on PostgreSQL, and as it is on SQLite,
/// where the transaction's write lock already excludes other writers.
macro_rules! load_for_update {
    ($conn:expr, $query:expr) => {
        match &mut $conn.backend {
            Backend::Pg(c) => $query.for_update().load(c),
            Backend::Sqlite(c) => $query.load(c),
        }
    };
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_families)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct RefreshFamily {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    /// The authorization code the family came from, so a replayed code can
    /// revoke it (RFC 6749 §4.1.2).
    pub auth_code_hash: Option<String>,
    pub created_at: i64,
    /// Absolute end of the family (`GATEHOUSE_REFRESH_MAX_TTL`).
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// When the person signed in for the grant the family came from, and
    /// that browser session's `sid`: kept by every ID token issued on
    /// refresh (OIDC Core §12.2).
    pub auth_time: Option<i64>,
    pub sid: Option<String>,
    /// How the person signed in (RFC 8176 values, space-separated), kept
    /// by every token issued on refresh (OIDC Core §12.2); `None` for
    /// families started before it was kept (a password).
    pub amr: Option<String>,
    /// RFC 8707: the resources granted (space-separated; `None`: the
    /// default audience).
    pub resource: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub parent_hash: Option<String>,
    pub scope: String,
    pub created_at: i64,
    /// Idle expiry (`GATEHOUSE_REFRESH_IDLE_TTL` after issue), capped by the
    /// family's absolute expiry.
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grace_used_at: Option<i64>,
    /// Set when a reuse-grace replay of its parent replaced this (unused)
    /// token: the family keeps one live chain (RFC 9700 §4.14.2).
    pub revoked_at: Option<i64>,
    /// The access token issued with this refresh token: deny-listed when
    /// the family is revoked (RFC 7009 §2.1).
    pub access_jti: Option<String>,
    pub access_expires_at: Option<i64>,
}

impl RefreshToken {
    /// What the protocol rules (`oauth::refresh`) judge.
    pub fn state(&self) -> crate::oauth::refresh::RefreshToken {
        crate::oauth::refresh::RefreshToken {
            expires_at: self.expires_at,
            used_at: self.used_at,
            grace_used_at: self.grace_used_at,
            revoked_at: self.revoked_at,
        }
    }
}

impl RefreshFamily {
    /// What the protocol rules (`oauth::refresh`) judge.
    pub fn state(&self) -> crate::oauth::refresh::RefreshFamily<'_> {
        crate::oauth::refresh::RefreshFamily {
            client_id: crate::oauth::ClientId(&self.client_id),
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        }
    }
}

/// The id and expiry of the access token issued alongside a refresh token.
#[derive(Debug, Clone, Copy)]
pub struct IssuedAccess<'a> {
    pub jti: &'a str,
    pub expires_at: i64,
}

/// What a new family needs.
pub struct NewFamily<'a> {
    pub client_id: &'a str,
    pub user_id: Option<&'a str>,
    pub scope: &'a str,
    pub auth_code_hash: Option<&'a str>,
    pub now: i64,
    pub idle_ttl: i64,
    pub max_ttl: i64,
    pub access: IssuedAccess<'a>,
    /// RFC 8707: the resources granted (space-separated), which a refresh
    /// may narrow, never widen.
    pub resource: Option<String>,
}

/// The sign-in a family rests on, for the ID tokens issued on refresh
/// (OIDC Core §12.2): when the person signed in, and the browser
/// session's `sid` when there was one.
#[derive(Debug, Clone, Copy)]
pub struct FamilySignIn<'a> {
    pub auth_time: i64,
    pub sid: Option<&'a str>,
    /// How they signed in (`Amr::as_text`).
    pub amr: Option<&'a str>,
}

impl Tx<'_> {
    /// Starts a family and returns its first refresh token (plain text; only
    /// its hash is stored). Call inside the transaction that issues the rest
    /// of the grant.
    pub fn issue_refresh_token(&mut self, f: NewFamily<'_>) -> StoreResult<String> {
        self.issue_signed_in_refresh_token(f, None)
    }

    /// Like `issue_refresh_token`, for a family that remembers the
    /// person's sign-in.
    pub fn issue_signed_in_refresh_token(
        &mut self,
        f: NewFamily<'_>,
        sign_in: Option<FamilySignIn<'_>>,
    ) -> StoreResult<String> {
        let plain = random_token(32);
        self.insert_refresh_family_with_token(f, sign_in, &crate::crypto::record_id(), &plain)?;
        Ok(plain)
    }

    /// `issue_signed_in_refresh_token` with the family's id and the token
    /// chosen by the caller.
    pub(in crate::store) fn insert_refresh_family_with_token(
        &mut self,
        f: NewFamily<'_>,
        sign_in: Option<FamilySignIn<'_>>,
        id: &str,
        plain: &str,
    ) -> StoreResult<()> {
        let family = RefreshFamily {
            id: id.to_string(),
            client_id: f.client_id.to_string(),
            user_id: f.user_id.map(str::to_string),
            scope: f.scope.to_string(),
            auth_code_hash: f.auth_code_hash.map(str::to_string),
            created_at: f.now,
            expires_at: f.now + f.max_ttl,
            revoked_at: None,
            auth_time: sign_in.map(|s| s.auth_time),
            sid: sign_in.and_then(|s| s.sid).map(str::to_string),
            amr: sign_in.and_then(|s| s.amr).map(str::to_string),
            resource: f.resource,
        };
        dispatch!(self, c => diesel::insert_into(refresh_families::table).values(&family).execute(c))?;
        let token = RefreshToken {
            token_hash: token_hash(plain),
            family_id: family.id.clone(),
            parent_hash: None,
            scope: family.scope.clone(),
            created_at: f.now,
            expires_at: (f.now + f.idle_ttl).min(family.expires_at),
            used_at: None,
            grace_used_at: None,
            revoked_at: None,
            access_jti: Some(f.access.jti.to_string()),
            access_expires_at: Some(f.access.expires_at),
        };
        dispatch!(self, c => diesel::insert_into(refresh_tokens::table).values(&token).execute(c))?;
        Ok(())
    }

    /// RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the
    /// access tokens based on the same grant. Puts every still-live access
    /// token issued in these families on the deny list.
    fn deny_family_access_tokens(&mut self, family_ids: &[String], now: i64) -> StoreResult<()> {
        if family_ids.is_empty() {
            return Ok(());
        }
        let live: Vec<(Option<String>, Option<i64>)> = dispatch!(self, c => refresh_tokens::table
            .filter(refresh_tokens::family_id.eq_any(family_ids))
            .filter(refresh_tokens::access_expires_at.gt(now))
            // One order for every caller, so two concurrent revocations of
            // the same family take row locks in the same order.
            .order(refresh_tokens::access_jti.asc())
            .select((refresh_tokens::access_jti, refresh_tokens::access_expires_at))
            .load(c))?;
        for (jti, exp) in live {
            if let (Some(jti), Some(exp)) = (jti, exp) {
                self.revoke_access_token(&jti, exp)?;
            }
        }
        Ok(())
    }

    /// Deny-lists the access tokens of these families, which the caller
    /// has locked, then marks them revoked. Returns how many were live.
    fn revoke_locked_families(&mut self, ids: &[String], now: i64) -> StoreResult<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.deny_family_access_tokens(ids, now)?;
        Ok(dispatch!(self, c => diesel::update(
            refresh_families::table
                .filter(refresh_families::id.eq_any(ids))
                .filter(refresh_families::revoked_at.is_null()),
        )
        .set(refresh_families::revoked_at.eq(now))
        .execute(c))?)
    }

    /// Revokes every family started from this authorization code. Call
    /// inside a transaction.
    pub fn revoke_families_from_code(&mut self, code_hash: &str, now: i64) -> StoreResult<usize> {
        self.require_transaction()?;
        // Locked in one order for every caller, so two revocations that
        // share families wait for each other instead of deadlocking.
        let ids: Vec<String> = load_for_update!(
            self,
            refresh_families::table
                .filter(refresh_families::auth_code_hash.eq(code_hash))
                .order(refresh_families::id.asc())
                .select(refresh_families::id)
        )?;
        self.revoke_locked_families(&ids, now)
    }

    /// Revokes every family of one user at one client (consent withdrawn).
    /// Call inside a transaction.
    pub fn revoke_families_for_user_client(
        &mut self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<usize> {
        self.require_transaction()?;
        let ids: Vec<String> = load_for_update!(
            self,
            refresh_families::table
                .filter(refresh_families::user_id.eq(user_id))
                .filter(refresh_families::client_id.eq(client_id))
                .order(refresh_families::id.asc())
                .select(refresh_families::id)
        )?;
        self.revoke_locked_families(&ids, now)
    }

    /// Revokes every family of one user at every client (the person was
    /// disabled or deleted). Call inside a transaction.
    pub fn revoke_families_for_user(&mut self, user_id: &str, now: i64) -> StoreResult<usize> {
        self.require_transaction()?;
        let ids: Vec<String> = load_for_update!(
            self,
            refresh_families::table
                .filter(refresh_families::user_id.eq(user_id))
                .order(refresh_families::id.asc())
                .select(refresh_families::id)
        )?;
        self.revoke_locked_families(&ids, now)
    }
}

/// A new token in an existing family: the successor of `parent`.
pub struct NewChild<'a> {
    pub family: &'a RefreshFamily,
    pub parent_hash: &'a str,
    /// RFC 6749 §6: the new refresh token's scope is the presented one's.
    pub scope: &'a str,
    pub now: i64,
    pub idle_ttl: i64,
    pub access: IssuedAccess<'a>,
}

impl DbConn {
    /// The locking below only serialises anything inside a transaction.
    pub(in crate::store) fn require_transaction(&self) -> StoreResult<()> {
        if self.tx_open {
            Ok(())
        } else {
            Err(StoreError::Invalid(
                "refresh families may only change inside a transaction".into(),
            ))
        }
    }

    /// The token with this hash and its family.
    pub fn find_refresh_token(
        &mut self,
        hash: &str,
    ) -> StoreResult<Option<(RefreshToken, RefreshFamily)>> {
        Ok(dispatch!(self, c => refresh_tokens::table
            .inner_join(refresh_families::table)
            .filter(refresh_tokens::token_hash.eq(hash))
            .select((RefreshToken::as_select(), RefreshFamily::as_select()))
            .get_result(c)
            .optional())?)
    }

    /// Like `find_refresh_token`, and locks the token's family until the
    /// transaction ends (see the module notes): what it returns stays true
    /// while the caller decides and writes. Call inside a transaction.
    pub fn find_refresh_token_for_update(
        &mut self,
        hash: &str,
    ) -> StoreResult<Option<(RefreshToken, RefreshFamily)>> {
        self.require_transaction()?;
        if let Backend::Pg(c) = &mut self.backend {
            // Lock first, then read: a read before the lock could miss a
            // revocation that commits while we wait for it.
            let _: Vec<String> = refresh_families::table
                .filter(
                    refresh_families::id.eq_any(
                        refresh_tokens::table
                            .filter(refresh_tokens::token_hash.eq(hash))
                            .select(refresh_tokens::family_id),
                    ),
                )
                .select(refresh_families::id)
                .for_update()
                .load(c)?;
        }
        self.find_refresh_token(hash)
    }

    /// The family of the token with this hash, locked until the
    /// transaction ends (see the module notes), as it is once locked: on
    /// PostgreSQL one `SELECT … FOR UPDATE`, whose row is the latest
    /// version after any wait for the lock. Read the token after this
    /// (`spend_refresh_token_returning`, `find_refresh_token`), never
    /// before: a read before the lock could miss a change committed while
    /// waiting for it. Call inside a transaction.
    pub fn lock_refresh_family(&mut self, hash: &str) -> StoreResult<Option<RefreshFamily>> {
        self.require_transaction()?;
        let mut rows: Vec<RefreshFamily> = load_for_update!(
            self,
            refresh_families::table
                .filter(
                    refresh_families::id.eq_any(
                        refresh_tokens::table
                            .filter(refresh_tokens::token_hash.eq(hash))
                            .select(refresh_tokens::family_id),
                    ),
                )
                .select(RefreshFamily::as_select())
        )?;
        Ok(rows.pop())
    }

    /// Whether a successor of this token has itself been used, i.e. the
    /// family has moved on past it.
    pub fn refresh_successor_used(&mut self, hash: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => refresh_tokens::table
            .filter(refresh_tokens::parent_hash.eq(hash))
            .filter(refresh_tokens::used_at.is_not_null())
            .count()
            .get_result::<i64>(c))?;
        Ok(n > 0)
    }
}

impl Tx<'_> {
    /// Marks the token spent. The update only matches an unspent row, so of
    /// two concurrent callers exactly one gets `true`, on both backends.
    pub fn spend_refresh_token(&mut self, hash: &str, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(hash))
                .filter(refresh_tokens::used_at.is_null()),
        )
        .set(refresh_tokens::used_at.eq(now))
        .execute(c))?;
        Ok(n == 1)
    }

    /// `spend_refresh_token` and the read before it in one statement
    /// (`UPDATE … RETURNING`), for a token neither spent nor replaced:
    /// returns it as it was (`used_at` none), or `None` when no such token
    /// has this hash (unknown, spent or replaced: read it to tell). The row
    /// count decides, as for `spend_refresh_token`. A caller that then
    /// refuses the token rolls the transaction back, which leaves it
    /// unspent. Call after `lock_refresh_family`.
    pub fn spend_refresh_token_returning(
        &mut self,
        hash: &str,
        now: i64,
    ) -> StoreResult<Option<RefreshToken>> {
        let spent = match &mut self.backend {
            Backend::Pg(c) => diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(hash))
                    .filter(refresh_tokens::used_at.is_null())
                    .filter(refresh_tokens::revoked_at.is_null()),
            )
            .set(refresh_tokens::used_at.eq(now))
            .returning(RefreshToken::as_returning())
            .get_result(c)
            .optional()?,
            // SQLite: the read and the update, under the write lock the
            // transaction took at BEGIN (nobody writes in between).
            Backend::Sqlite(_) => match self.find_refresh_token(hash)? {
                Some((token, _)) if token.used_at.is_none() && token.revoked_at.is_none() => {
                    self.spend_refresh_token(hash, now)?.then_some(token)
                }
                _ => None,
            },
        };
        Ok(spent.map(|token| RefreshToken {
            used_at: None,
            ..token
        }))
    }

    /// Claims the one reuse grace of a spent token; `true` for exactly one
    /// caller, like `spend_refresh_token`.
    pub fn claim_refresh_grace(&mut self, hash: &str, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(hash))
                .filter(refresh_tokens::used_at.is_not_null())
                .filter(refresh_tokens::grace_used_at.is_null()),
        )
        .set(refresh_tokens::grace_used_at.eq(now))
        .execute(c))?;
        Ok(n == 1)
    }

    /// Adds a successor to a family and returns it in plain text (only its
    /// hash is stored). Its idle expiry is capped by the family's end.
    pub fn insert_child_refresh_token(&mut self, n: NewChild<'_>) -> StoreResult<String> {
        let plain = random_token(32);
        let token = RefreshToken {
            token_hash: token_hash(&plain),
            family_id: n.family.id.clone(),
            parent_hash: Some(n.parent_hash.to_string()),
            scope: n.scope.to_string(),
            created_at: n.now,
            expires_at: (n.now + n.idle_ttl).min(n.family.expires_at),
            used_at: None,
            grace_used_at: None,
            revoked_at: None,
            access_jti: Some(n.access.jti.to_string()),
            access_expires_at: Some(n.access.expires_at),
        };
        dispatch!(self, c => diesel::insert_into(refresh_tokens::table).values(&token).execute(c))?;
        Ok(plain)
    }

    /// Revokes the successors of `parent_hash` that were never used, and
    /// deny-lists the access tokens issued with them: a reuse-grace replay
    /// of the parent replaces them (RFC 9700 §4.14.2). Call inside the
    /// transaction that locked the family.
    pub fn revoke_unused_successors(&mut self, parent_hash: &str, now: i64) -> StoreResult<()> {
        self.require_transaction()?;
        let issued: Vec<(Option<String>, Option<i64>)> = dispatch!(self, c => refresh_tokens::table
            .filter(refresh_tokens::parent_hash.eq(parent_hash))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .order(refresh_tokens::access_jti.asc())
            .select((refresh_tokens::access_jti, refresh_tokens::access_expires_at))
            .load(c))?;
        dispatch!(self, c => diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::parent_hash.eq(parent_hash))
                .filter(refresh_tokens::used_at.is_null())
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(c))?;
        for (jti, exp) in issued {
            if let (Some(jti), Some(exp)) = (jti, exp) {
                if exp > now {
                    self.revoke_access_token(&jti, exp)?;
                }
            }
        }
        Ok(())
    }

    /// Revokes a whole family (RFC 9700 §4.14.2, RFC 7009 §2.1). Revoking a
    /// revoked family changes nothing. Call inside a transaction.
    pub fn revoke_refresh_family(&mut self, family_id: &str, now: i64) -> StoreResult<bool> {
        self.require_transaction()?;
        let ids: Vec<String> = load_for_update!(
            self,
            refresh_families::table
                .filter(refresh_families::id.eq(family_id))
                .select(refresh_families::id)
        )?;
        Ok(self.revoke_locked_families(&ids, now)? == 1)
    }
}

/// A refresh presentation's first step (`rotate_refresh_token`).
#[derive(Debug, Clone, Copy)]
pub struct Rotation<'a> {
    pub hash: &'a str,
    pub now: i64,
    pub idle_ttl: i64,
    /// The access token the refresh issues, recorded on the successor.
    pub access: IssuedAccess<'a>,
}

/// The locked family, and the token if this call spent it.
#[derive(Debug)]
pub struct Rotated {
    pub family: RefreshFamily,
    pub spent: Option<SpentRefresh>,
}

/// A token this transaction spent, and its successor.
#[derive(Debug)]
pub struct SpentRefresh {
    /// The token as it was (`used_at` none), for the rules to judge.
    pub token: RefreshToken,
    /// The family's person (`None`: a client's own family, or gone).
    pub user: Option<User>,
    /// The successor (plain; only its hash is stored).
    pub successor: String,
}

/// The columns of `refresh_families` (as `family`) and `refresh_tokens`
/// (as `t`) in `schema.rs` order.
const FAMILY_COLUMNS: &str = "id, client_id, user_id, scope, auth_code_hash, created_at, \
    expires_at, revoked_at, auth_time, sid, amr, resource";
const TOKEN_COLUMNS: &str = "t.token_hash, t.family_id, t.parent_hash, t.scope, \
    t.created_at, t.expires_at, t.used_at, t.grace_used_at, t.revoked_at, t.access_jti, \
    t.access_expires_at";

impl Tx<'_> {
    /// The common case of a refresh (RFC 6749 §6, rotation): locks the
    /// token's family (`lock_refresh_family`), then, if the token is
    /// neither spent nor replaced, spends it (`spend_refresh_token`: the
    /// conditional update decides) and adds its successor, and reads the
    /// family's person. Returns the family as it is once locked and, when
    /// this call spent the token, the token as it was: the caller judges
    /// *after* these writes, and a refusal returns `Err`, whose rollback
    /// undoes them. `None` when no token has this hash; `spent: None` when
    /// it is spent or replaced (nothing written: read it to tell).
    ///
    /// On PostgreSQL one statement: the family's `FOR UPDATE` in a `WITH`
    /// that the spending `UPDATE … FROM` joins, so the family is locked
    /// before the token's row, the order every other writer of a family
    /// takes. On SQLite the statements one by one, under the write lock
    /// from `BEGIN IMMEDIATE`.
    pub fn rotate_refresh_token(&mut self, r: Rotation<'_>) -> StoreResult<Option<Rotated>> {
        self.require_transaction()?;
        let successor = random_token(32);
        let successor_hash = token_hash(&successor);
        let idle_expires_at = r.now + r.idle_ttl;
        let (family, spent) = match &mut self.backend {
            Backend::Pg(c) => {
                let row = rotate_statement(&r, &successor_hash, idle_expires_at)
                    .get_result::<(RefreshFamily, Option<RefreshToken>, Option<User>)>(c)
                    .optional()?;
                let Some((family, token, user)) = row else {
                    return Ok(None);
                };
                (family, token.map(|token| (token, user)))
            }
            Backend::Sqlite(_) => {
                let Some(family) = self.lock_refresh_family(r.hash)? else {
                    return Ok(None);
                };
                let Some(token) = self.spend_refresh_token_returning(r.hash, r.now)? else {
                    return Ok(Some(Rotated {
                        family,
                        spent: None,
                    }));
                };
                let user = match &family.user_id {
                    Some(id) => self.find_user(id)?,
                    None => None,
                };
                self.insert_successor(&family, &token, &successor_hash, r)?;
                (family, Some((token, user)))
            }
        };
        Ok(Some(Rotated {
            family,
            spent: spent.map(|(token, user)| SpentRefresh {
                token: RefreshToken {
                    used_at: None,
                    ..token
                },
                user,
                successor,
            }),
        }))
    }

    /// The successor of a token spent in this transaction (SQLite's
    /// `rotate_refresh_token`).
    fn insert_successor(
        &mut self,
        family: &RefreshFamily,
        token: &RefreshToken,
        successor_hash: &str,
        r: Rotation<'_>,
    ) -> StoreResult<()> {
        let successor = RefreshToken {
            token_hash: successor_hash.to_string(),
            family_id: family.id.clone(),
            parent_hash: Some(token.token_hash.clone()),
            scope: token.scope.clone(),
            created_at: r.now,
            expires_at: (r.now + r.idle_ttl).min(family.expires_at),
            used_at: None,
            grace_used_at: None,
            revoked_at: None,
            access_jti: Some(r.access.jti.to_string()),
            access_expires_at: Some(r.access.expires_at),
        };
        dispatch!(self, c => diesel::insert_into(refresh_tokens::table).values(&successor).execute(c))?;
        Ok(())
    }
}

/// `rotate_refresh_token` on PostgreSQL, one statement. `family` takes the
/// lock (waiting for any other writer of the family, then reading its row
/// as that one left it); `spent` joins `family`, so its row lock on the
/// token comes after; under READ COMMITTED a token spent by a writer we
/// waited for fails the update's re-check and matches nothing. The
/// successor reads `spent`, so it exists only if the token was spent here.
fn rotate_statement<'a>(
    r: &Rotation<'a>,
    successor_hash: &'a str,
    idle_expires_at: i64,
) -> PgStatement<
    'a,
    (
        refresh_families::SqlType,
        Nullable<refresh_tokens::SqlType>,
        Nullable<users::SqlType>,
    ),
> {
    use Piece::{BigInt, Sql, Text};
    PgStatement::new(vec![
        Sql("WITH family AS (SELECT "),
        Sql(FAMILY_COLUMNS),
        Sql(
            " FROM refresh_families WHERE id IN (SELECT family_id FROM refresh_tokens \
            WHERE token_hash = ",
        ),
        Text(r.hash),
        Sql(") FOR UPDATE), spent AS (UPDATE refresh_tokens t SET used_at = "),
        BigInt(r.now),
        Sql(" FROM family WHERE t.token_hash = "),
        Text(r.hash),
        Sql(
            " AND t.family_id = family.id AND t.used_at IS NULL AND t.revoked_at IS NULL \
            RETURNING ",
        ),
        Sql(TOKEN_COLUMNS),
        Sql(
            ", family.expires_at AS family_expires_at), successor AS (INSERT INTO \
            refresh_tokens (token_hash, family_id, parent_hash, scope, created_at, expires_at, \
            access_jti, access_expires_at) SELECT ",
        ),
        Text(successor_hash),
        Sql(", family_id, token_hash, scope, "),
        BigInt(r.now),
        Sql(", LEAST("),
        BigInt(idle_expires_at),
        Sql(", family_expires_at), "),
        Text(r.access.jti),
        Sql(", "),
        BigInt(r.access.expires_at),
        Sql(
            " FROM spent) SELECT family.*, spent.token_hash, spent.family_id, \
            spent.parent_hash, spent.scope, spent.created_at, spent.expires_at, spent.used_at, \
            spent.grace_used_at, spent.revoked_at, spent.access_jti, spent.access_expires_at, ",
        ),
        Sql(USER_COLUMNS),
        Sql(" FROM family LEFT JOIN spent ON TRUE LEFT JOIN users u ON u.id = family.user_id"),
    ])
}
