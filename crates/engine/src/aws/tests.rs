use super::*;

fn call(op: &str) -> Call {
    Call { service: "X".into(), operation: op.into() }
}

#[tokio::test]
async fn iam_propagation_errors_are_retried_and_others_are_not() {
    let task = Task::hidden();
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let call = || async {
        let n = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == 0 { Err("role not assumable yet") } else { Ok(n) }
    };
    let result = retry_while_iam_propagates(&task, "waiting", call, |e: &&str| e.contains("not assumable")).await;
    assert_eq!(result, Ok(1));
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);

    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let call = || async {
        attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err::<(), _>("access denied")
    };
    let result = retry_while_iam_propagates(&task, "waiting", call, |e: &&str| e.contains("not assumable")).await;
    assert_eq!(result, Err("access denied"));
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn reads_are_not_mutating() {
    for op in ["GetFunction", "ListTags", "DescribeTable", "HeadObject", "GetCallerIdentity"] {
        assert!(!call(op).is_mutating(), "{op}");
    }
    for op in ["CreateTable", "PutObject", "DeleteRoute", "UpdateFunctionCode", "TagResource", "AddPermission"] {
        assert!(call(op).is_mutating(), "{op}");
    }
}
