//! The command line's longer commands, apart from the parsing and dispatch in
//! `main.rs`.

pub mod status;
