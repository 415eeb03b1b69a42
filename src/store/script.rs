//! A write transaction as one command. sqlx runs each statement on the
//! connection's own thread, and every statement is a round trip between threads
//! (measured at 50–70 µs here, more than most statements cost); a script sends
//! `BEGIN IMMEDIATE; …; COMMIT` as one multi-statement query, which sqlx runs in
//! order, binding the arguments across the statements. Any error leaves the
//! transaction open, and [`super::Store::settle`] then closes the connection,
//! which rolls it back.
//!
//! A long script goes in pieces of [`PIECE`] statements: sqlx copies the rest
//! of the text for each statement it prepares, so one piece of 20,000
//! statements (a tick that plans 10,000 schedules) costs time quadratic in its
//! length.

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

/// Statements per command.
const PIECE: usize = 200;

pub(super) struct Script<'q> {
    /// Commands sent before this one (full pieces).
    done: Vec<QueryBuilder<'q, Sqlite>>,
    query: QueryBuilder<'q, Sqlite>,
    statements: usize,
}

impl<'q> Script<'q> {
    pub fn begin() -> Script<'q> {
        Script {
            done: Vec::new(),
            query: QueryBuilder::new("BEGIN IMMEDIATE; "),
            statements: 0,
        }
    }

    /// Starts a new piece when this one is full.
    fn counted(&mut self) {
        self.statements += 1;
        if self.statements % PIECE == 0 {
            let full = std::mem::replace(&mut self.query, QueryBuilder::new(""));
            self.done.push(full);
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
        self.counted();
        self
    }

    /// Adds a statement built by hand (a multi-row insert).
    pub fn add_built(&mut self, build: impl FnOnce(&mut QueryBuilder<'q, Sqlite>)) -> &mut Self {
        build(&mut self.query);
        self.query.push("; ");
        self.counted();
        self
    }

    /// Commits everything added, in one round trip a piece.
    pub async fn commit(self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        for mut piece in self.pieces() {
            // Each script's text is new: not worth a place in the statement cache.
            piece.build().persistent(false).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// As [`Script::commit`], returning the rows the statements return
    /// (`RETURNING`), in order.
    pub async fn commit_returning<T>(
        self,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
    {
        let mut rows = Vec::new();
        for mut piece in self.pieces() {
            let returned: Vec<T> = piece
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
            rows.extend(returned);
        }
        Ok(rows)
    }

    fn pieces(mut self) -> impl Iterator<Item = QueryBuilder<'q, Sqlite>> {
        self.query.push("COMMIT");
        self.done.into_iter().chain(std::iter::once(self.query))
    }
}
