//! Integration tests for sinkd-store: a real store on a temporary
//! directory, written through the public API and read back with
//! `StreamReader`. Each module covers one concern; what they share is in
//! `support`.

mod support;

mod completion;
mod errors;
mod idle;
mod index;
mod read;
mod read_ahead;
mod recovery;
mod rotation;
mod seek;
mod write;
