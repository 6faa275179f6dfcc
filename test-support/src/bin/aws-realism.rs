//! `aws-realism`: a moto server with the realism proxy in front, for scripts
//! (`scripts/bench-deploy`).
//!
//! Prints one line of JSON on stdout, `{"endpoint": "http://127.0.0.1:P",
//! "moto": "http://127.0.0.1:M"}`, then serves until stdin closes. The proxy's
//! behaviours are set with `POST {endpoint}/realism/behaviours` (a JSON
//! `Behaviours` document; `--aws` starts with every behaviour on) and read
//! with `GET {endpoint}/realism/stats`.

use std::io::{BufRead, Write};

use test_support::Moto;
use test_support::realism::{Behaviours, Realism};

fn main() {
    let behaviours = if std::env::args().any(|a| a == "--aws") { Behaviours::aws() } else { Behaviours::default() };
    let moto = Moto::start();
    let realism = Realism::start(&moto.endpoint(), behaviours);
    let line = serde_json::json!({ "endpoint": realism.endpoint(), "moto": moto.endpoint() });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("writing the endpoints");
    out.flush().expect("flushing stdout");
    drop(out);
    // Serve until whoever started us closes our stdin (or exits).
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    drop(realism);
    drop(moto);
}
