//! Remembered consent: which scopes a user granted to a client. A later
//! request for the same or fewer scopes skips the consent page.

use super::split_list;
use crate::store::dispatch;
use crate::store::schema::{clients, consents};
use crate::store::{DbConn, StoreResult, Tx};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub granted_at: i64,
}

impl Consent {
    /// True when every scope in `wanted` was granted.
    pub fn covers(&self, wanted: &[String]) -> bool {
        wanted
            .iter()
            .all(|w| split_list(&self.scope).any(|s| s == w))
    }
}

impl DbConn {
    pub fn find_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        Ok(dispatch!(self, c => consents::table
            .find((user_id, client_id))
            .select(Consent::as_select())
            .get_result(c)
            .optional())?)
    }

    /// The apps a user has granted access to, with each client's name.
    pub fn list_consents(&mut self, user_id: &str) -> StoreResult<Vec<(Consent, String)>> {
        Ok(dispatch!(self, c => consents::table
            .inner_join(clients::table.on(clients::id.eq(consents::client_id)))
            .filter(consents::user_id.eq(user_id))
            .order(consents::granted_at.desc())
            .select((Consent::as_select(), clients::name))
            .load(c))?)
    }
}

impl Tx<'_> {
    /// Records consent, adding `scope` to what was granted before. An
    /// upsert, so two concurrent grants never fail on the primary key.
    pub fn grant_consent(
        &mut self,
        user_id: &str,
        client_id: &str,
        scope: &[String],
        now: i64,
    ) -> StoreResult<()> {
        let mut all: Vec<String> = match self.find_consent(user_id, client_id)? {
            Some(c) => split_list(&c.scope).map(str::to_string).collect(),
            None => Vec::new(),
        };
        for s in scope {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        let row = Consent {
            user_id: user_id.to_string(),
            client_id: client_id.to_string(),
            scope: all.join(" "),
            granted_at: now,
        };
        dispatch!(self, c => diesel::insert_into(consents::table)
            .values(&row)
            .on_conflict((consents::user_id, consents::client_id))
            .do_update()
            .set((consents::scope.eq(&row.scope), consents::granted_at.eq(now)))
            .execute(c))?;
        Ok(())
    }

    pub fn delete_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::delete(consents::table.find((user_id, client_id))).execute(c))?;
        Ok(n == 1)
    }
}
