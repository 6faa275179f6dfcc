use std::process::ExitCode;

use clap::Parser;
use wschat::cli::{Args, Command};
use wschat::{PlanHasChanges, UsageError};
use wschat_stack::StackErrors;

#[tokio::main]
async fn main() -> ExitCode {
    // `plan --detailed-exitcode` keeps 2 for "changes": every error is 1,
    // a command line clap refuses too.
    let detailed = std::env::args().any(|a| a == "--detailed-exitcode");
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) if detailed && err.use_stderr() => {
            let _ = err.print();
            return ExitCode::FAILURE;
        }
        Err(err) => err.exit(),
    };
    let detailed = matches!(&args.command, Command::Plan(p) if p.detailed_exitcode);
    let refused = if detailed { ExitCode::FAILURE } else { ExitCode::from(2) };
    wschat::cli::init_logging(args.verbose);
    match wschat::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<PlanHasChanges>() => ExitCode::from(2),
        Err(err) if err.is::<StackErrors>() => {
            for line in err.to_string().lines() {
                eprintln!("error: {line}");
            }
            refused
        }
        Err(err) if err.is::<UsageError>() => {
            eprintln!("error: {err}");
            refused
        }
        Err(err) => {
            eprintln!("error: {}", wschat_engine::aws::report(&err));
            ExitCode::FAILURE
        }
    }
}
