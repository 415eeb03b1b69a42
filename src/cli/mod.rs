//! The command line's longer commands, apart from the parsing and dispatch in
//! `main.rs`.

pub mod check;
pub mod report;
pub mod status;
