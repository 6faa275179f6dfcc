//! Integration tests of the `wschat` binary and library: one binary, one module per area.

mod architecture;
mod aws_wiring;
mod build;
mod ci_workflow;
mod cost;
mod deploy;
mod dev;
mod docs;
mod logs;
mod shell;
mod support;
mod validate;
