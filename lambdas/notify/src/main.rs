//! Placeholder: the handler arrives with the "handlers" issue.
fn main() {}
