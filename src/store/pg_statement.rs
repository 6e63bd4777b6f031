//! One PostgreSQL statement whose text Diesel's typed builder cannot write
//! (data-modifying `WITH`, `UPDATE … FROM`), run as a prepared statement
//! that each connection keeps (keyed by its text, like every typed query):
//! `diesel::sql_query` and `sql` literals would be parsed and planned again
//! on every run. Rows are read by position, as the statement's `SqlType`
//! says (a table's `SqlType`, in `schema.rs` column order).

use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryResult, RunQueryDsl};
use std::marker::PhantomData;

/// A piece of the statement: text, or a value bound in its place.
pub(in crate::store) enum Piece<'a> {
    Sql(&'static str),
    Text(&'a str),
    BigInt(i64),
}

/// The statement, piece by piece; `ST` is the SQL type of its rows.
pub(in crate::store) struct PgStatement<'a, ST> {
    pieces: Vec<Piece<'a>>,
    row: PhantomData<ST>,
}

impl<'a, ST> PgStatement<'a, ST> {
    pub(in crate::store) fn new(pieces: Vec<Piece<'a>>) -> Self {
        PgStatement {
            pieces,
            row: PhantomData,
        }
    }
}

impl<ST> QueryId for PgStatement<'_, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: diesel::sql_types::SqlType> Query for PgStatement<'_, ST> {
    type SqlType = ST;
}

impl<ST> QueryFragment<Pg> for PgStatement<'_, ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Sql(sql) => out.push_sql(sql),
                Piece::Text(value) => out.push_bind_param::<Text, str>(value)?,
                Piece::BigInt(value) => out.push_bind_param::<BigInt, i64>(value)?,
            }
        }
        Ok(())
    }
}

impl<ST> RunQueryDsl<PgConnection> for PgStatement<'_, ST> {}
