//! Server-side browser sessions. The cookie holds only a random id; the
//! table holds its hash, the user, the idle and absolute expiries, and,
//! for the person's sessions list, the browser's `User-Agent` and the
//! client address at sign-in.

use crate::crypto::{random_token, token_hash};
use crate::oauth::amr::Amr;
use crate::store::dispatch;
use crate::store::models::User;
use crate::store::schema::{browser_sessions, users};
use crate::store::{DbConn, StoreResult};
use diesel::prelude::*;

/// A session ends after this long without use...
pub const SESSION_IDLE_TTL: i64 = 2 * 60 * 60;
/// ...and after this long in any case.
pub const SESSION_MAX_TTL: i64 = 12 * 60 * 60;
/// How stale `last_seen_at` may get before a page view refreshes it (and
/// the idle expiry): an idle expiry can come up to this much early.
pub const SESSION_TOUCH_EVERY: i64 = 60;
/// At most this many characters of a `User-Agent` are kept.
pub const USER_AGENT_MAX: usize = 512;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = browser_sessions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct BrowserSession {
    pub id_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    /// The browser's `User-Agent` at sign-in, for the sessions list.
    pub user_agent: Option<String>,
    /// The client address at sign-in (as `net` reads it behind trusted proxies).
    pub ip: Option<String>,
    /// How the person signed in: RFC 8176 values, space-separated
    /// (`oauth::amr::Amr::as_text`).
    pub amr: String,
}

impl BrowserSession {
    /// How the person signed in to this session.
    pub fn amr(&self) -> Amr {
        Amr::from_text(&self.amr)
    }
}

impl DbConn {
    /// Starts a session, noting how the person signed in (`amr`), the
    /// browser's `User-Agent` (cut to `USER_AGENT_MAX` characters) and the
    /// client address; returns the plain id for the cookie.
    pub fn create_session(
        &mut self,
        user_id: &str,
        now: i64,
        amr: &Amr,
        user_agent: Option<&str>,
        ip: Option<&str>,
    ) -> StoreResult<String> {
        let plain = random_token(32);
        let row = BrowserSession {
            id_hash: token_hash(&plain),
            user_id: user_id.to_string(),
            auth_time: now,
            last_seen_at: now,
            idle_expires_at: now + SESSION_IDLE_TTL,
            expires_at: now + SESSION_MAX_TTL,
            user_agent: user_agent
                .map(|ua| ua.chars().take(USER_AGENT_MAX).collect::<String>())
                .filter(|ua| !ua.trim().is_empty()),
            ip: ip.map(str::to_string),
            amr: amr.as_text(),
        };
        self.write(|c| {
            dispatch!(c, c => diesel::insert_into(browser_sessions::table).values(&row).execute(c))?;
            Ok(plain)
        })
    }

    /// The live session for a cookie value and its (enabled) user; extends
    /// the idle expiry, at most once a minute (`SESSION_TOUCH_EVERY`) so a
    /// busy session does not write on every page.
    pub fn find_session(
        &mut self,
        plain: &str,
        now: i64,
    ) -> StoreResult<Option<(BrowserSession, User)>> {
        let hash = token_hash(plain);
        let found = dispatch!(self, c => browser_sessions::table
            .inner_join(users::table)
            .filter(browser_sessions::id_hash.eq(&hash))
            .filter(browser_sessions::expires_at.gt(now))
            .filter(browser_sessions::idle_expires_at.gt(now))
            .filter(users::disabled.eq(false))
            .select((BrowserSession::as_select(), User::as_select()))
            .get_result(c)
            .optional())?;
        if found
            .as_ref()
            .is_some_and(|(s, _)| now - s.last_seen_at >= SESSION_TOUCH_EVERY)
        {
            self.write(|c| {
                dispatch!(c, c => diesel::update(browser_sessions::table.find(&hash))
                    .set((
                        browser_sessions::last_seen_at.eq(now),
                        browser_sessions::idle_expires_at.eq(now + SESSION_IDLE_TTL),
                    ))
                    .execute(c))?;
                Ok(())
            })?;
        }
        Ok(found)
    }

    pub fn delete_session(&mut self, plain: &str) -> StoreResult<()> {
        let hash = token_hash(plain);
        self.write(|c| {
            dispatch!(c, c => diesel::delete(browser_sessions::table.find(&hash)).execute(c))?;
            Ok(())
        })
    }

    /// The person's live sessions, the most recently seen first.
    pub fn list_user_sessions(
        &mut self,
        user_id: &str,
        now: i64,
    ) -> StoreResult<Vec<BrowserSession>> {
        Ok(dispatch!(self, c => browser_sessions::table
            .filter(browser_sessions::user_id.eq(user_id))
            .filter(browser_sessions::expires_at.gt(now))
            .filter(browser_sessions::idle_expires_at.gt(now))
            .order((browser_sessions::last_seen_at.desc(), browser_sessions::auth_time.desc()))
            .select(BrowserSession::as_select())
            .load(c))?)
    }

    /// Ends one session of the person (by its stored hash); whether it was
    /// there.
    pub fn delete_user_session(&mut self, user_id: &str, id_hash: &str) -> StoreResult<bool> {
        self.write(|c| {
            let n = dispatch!(c, c => diesel::delete(
                browser_sessions::table
                    .filter(browser_sessions::user_id.eq(user_id))
                    .filter(browser_sessions::id_hash.eq(id_hash))
            )
            .execute(c))?;
            Ok(n == 1)
        })
    }
}
