use crate::dispatch;
use crate::store::schema::users;
use crate::store::{DbConn, StoreError, StoreResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl DbConn {
    pub fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(users::table).values(user).execute(c))
            .map_err(|e| StoreError::from_insert(e, "user"))?;
        Ok(())
    }

    pub fn find_user(&mut self, id: &str) -> StoreResult<Option<User>> {
        Ok(dispatch!(self, c => users::table
            .find(id)
            .select(User::as_select())
            .first(c)
            .optional())?)
    }

    /// The user exists and is not disabled.
    pub fn user_is_active(&mut self, user_id: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => users::table
            .find(user_id)
            .filter(users::disabled.eq(false))
            .count()
            .get_result::<i64>(c))?;
        Ok(n > 0)
    }

    pub fn find_user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
        Ok(dispatch!(self, c => users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .first(c)
            .optional())?)
    }
}
