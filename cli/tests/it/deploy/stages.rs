//! Stages of one stack.yaml live side by side.

use test_support::REGION;

use super::{Inventory, changes, deploy_stage, deployed, json};

#[tokio::test]
async fn a_second_stage_deploys_beside_the_first_without_touching_it() {
    let (cloud, project, aws, dev) = deployed("lc-stages").await;

    let prod_report = deploy_stage(&cloud, &project, "prod");
    assert_eq!(prod_report["counts"]["create"], 54, "prod is a stack of its own: {prod_report:#}");
    assert_eq!(prod_report["stage"], "prod");
    let prod = Inventory::read(&aws, "lc-stages", "prod").await;
    prod.assert_no_duplicates();
    assert_ne!(prod.api_id(), dev.api_id());
    assert_eq!(
        prod_report["urls"]["websocket"],
        format!("wss://{}.execute-api.{REGION}.amazonaws.com/prod", prod.api_id())
    );
    assert_eq!(prod.stages[0]["name"], "prod");
    assert_eq!(prod.functions["chat"]["environment"]["WSCHAT_TABLE"], "lc-stages-prod-connections");
    // Nothing prod's deploy touched is dev's.
    for change in prod_report["changes"].as_array().unwrap() {
        let id = change["id"].as_str().unwrap_or_default();
        assert!(!id.contains("lc-stages-dev") && id != dev.api_id(), "prod's deploy touched {change}");
    }
    assert_eq!(Inventory::read(&aws, "lc-stages", "dev").await, dev, "deploying prod changed dev");
    assert_eq!(changes(&json(&cloud, &project, &["plan"])), Vec::<String>::new());

    // And destroying prod leaves dev as it was.
    let destroyed = json(&cloud, &project, &["destroy", "--yes", "--stage", "prod"]);
    assert!(!destroyed["deleted"].as_array().unwrap().is_empty());
    assert!(Inventory::read(&aws, "lc-stages", "prod").await.is_empty());
    assert_eq!(Inventory::read(&aws, "lc-stages", "dev").await, dev, "destroying prod changed dev");
}
