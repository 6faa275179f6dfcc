//! `wschat policy`: the deployer's IAM policy for this stack and stage
//! ([`wschat_engine::policy`]), on stdout; why each broader statement is
//! broader, on stderr.

use anyhow::Result;
use wschat_engine::aws::Aws;
use wschat_engine::policy::{self, Target};

use crate::cli::{Args, PolicyArgs};

pub async fn run(args: &Args, policy_args: &PolicyArgs) -> Result<()> {
    let stack = wschat_stack::load(&args.file, &args.stage)?;
    let aws = Aws::load(&args.aws.for_stack(&stack)).await?;
    let region = aws.region().to_string();
    stack.check_region(&region)?;
    let (account, partition) = match &policy_args.account {
        Some(id) => (id.clone(), wschat_stack::partition(&region).to_string()),
        None => {
            let account = aws.account().await?;
            (account.id, account.partition)
        }
    };
    // The zone's id: the only ARN of the stack that AWS assigned before it exists.
    let zone_id = match stack.domain.as_ref().and_then(|d| d.zone.as_deref()) {
        Some(zone) => Some(wschat_engine::resources::dns_record::find_zone(&aws.route53(), zone).await?.id),
        None => None,
    };
    let target = Target {
        stack: &stack,
        partition: &partition,
        region: &region,
        account: &account,
        zone_id: zone_id.as_deref(),
    };
    let statements = policy::statements(&target, policy_args.read_only);
    for s in statements.iter().filter(|s| s.why.is_some()) {
        eprintln!("note: {}: {}", s.sid, s.why.unwrap_or_default());
    }
    println!("{}", serde_json::to_string_pretty(&policy::document(&statements))?);
    Ok(())
}
