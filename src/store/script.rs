//! A write transaction as one command. sqlx runs each statement on the
//! connection's own thread, and every statement is a round trip between threads
//! (measured at 50–70 µs here, more than most statements cost); a script sends
//! `BEGIN IMMEDIATE; …; COMMIT` as one multi-statement query, which sqlx runs in
//! order, binding the arguments across the statements. Any error leaves the
//! transaction open, and [`super::Store::settle`] then closes the connection,
//! which rolls it back.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::StoreError;

/// One bound value.
pub(super) enum Arg {
    Text(String),
    Int(i64),
    Null,
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Arg {
        Arg::Int(n)
    }
}

impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(v: Option<T>) -> Arg {
        v.map_or(Arg::Null, Into::into)
    }
}

pub(super) struct Script {
    query: QueryBuilder<'static, Sqlite>,
}

impl Script {
    pub fn begin() -> Script {
        Script {
            query: QueryBuilder::new("BEGIN IMMEDIATE; "),
        }
    }

    /// Adds a statement whose `?`s take `args` in order (the statements here
    /// have no `?` inside a string literal).
    pub fn add(&mut self, sql: &str, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        let mut args = args.into_iter();
        let mut parts = sql.split('?');
        self.query.push(parts.next().unwrap_or_default());
        for part in parts {
            match args.next().unwrap_or(Arg::Null) {
                Arg::Text(s) => self.query.push_bind(s),
                Arg::Int(n) => self.query.push_bind(n),
                Arg::Null => self.query.push_bind(None::<String>),
            };
            self.query.push(part);
        }
        self.query.push("; ");
        self
    }

    /// Adds a statement built by hand (a multi-row insert).
    pub fn add_built(
        &mut self,
        build: impl FnOnce(&mut QueryBuilder<'static, Sqlite>),
    ) -> &mut Self {
        build(&mut self.query);
        self.query.push("; ");
        self
    }

    /// Commits everything added, in one round trip.
    pub async fn commit(mut self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        self.query.push("COMMIT");
        // Each script's text is new: not worth a place in the statement cache.
        self.query.build().persistent(false).execute(conn).await?;
        Ok(())
    }
}
