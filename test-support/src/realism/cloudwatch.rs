//! CloudWatch: the rules PutMetricAlarm and PutDashboard hold that moto's
//! `cloudwatch` backend does not check (it stores any alarm and any JSON).
//!
//! PutMetricAlarm (CloudWatch API Reference, PutMetricAlarm, Request
//! Parameters and Errors): `Period` is 10, 20, 30 or a multiple of 60, and
//! `EvaluationPeriods` × `Period` at most one day; `DatapointsToAlarm` at most
//! `EvaluationPeriods`; a metric is either `MetricName` with `Statistic` or
//! `ExtendedStatistic` (not both) or `Metrics`, whose queries return exactly
//! one time series (`ReturnData`), and with `Metrics` no `Period`,
//! `Statistic` or `Namespace` beside them; at most 5 `AlarmActions`;
//! `AlarmDescription` at most 1024 characters. AWS answers
//! `InvalidParameterCombination` or `InvalidParameterValue` (400,
//! `ValidationError` for the ranges).
//!
//! PutMetricAlarm of an alarm that exists: "its state is left unchanged, but
//! the update completely overwrites the previous configuration of the
//! alarm", and "any tags you specify in this parameter are ignored"
//! (TagResource changes them; aws/aws-sdk#27 had the page say so). moto
//! makes a new alarm, in INSUFFICIENT_DATA, with the tags sent. The proxy
//! reads the alarm first, forwards the update without its tags, and sets
//! the state it had back ([`put_alarm`]).
//!
//! PutDashboard ("Dashboard Body Structure and Syntax"): the body is an
//! object with a `widgets` array; a widget has a `type` of `metric`, `text`,
//! `log`, `alarm` or `explorer`, a `width` of 1..=24 and a `height` of
//! 1..=1000; a metric widget's `properties` have `region` and `metrics`;
//! otherwise 400 `InvalidParameterInput`. A dashboard's name is letters,
//! digits, `-` and `_`, at most 255 (`InvalidParameterValue`).

use std::time::Instant;

use serde_json::Value;

use super::World;
use super::acm::xml_field;
use super::call::{Call, Request};
use super::wire::{self, Reply};

/// Whether the proxy answers this call with [`put_alarm`].
pub fn keeps_alarm_state(call: &Call, cloudwatch_rules: bool) -> bool {
    cloudwatch_rules && call.service == "monitoring" && call.operation == "PutMetricAlarm"
}

/// `request`'s form sent to moto as another query call.
async fn query(shared: &super::Shared, request: &Request, form: &[(&str, &str)]) -> Result<Reply, String> {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&");
    super::forward(shared, &Request { body: body.into(), ..request.clone() }).await
}

/// The XML entities moto escapes in a text field.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// PutMetricAlarm as AWS does it to an alarm that exists: without its tags,
/// and keeping the alarm's state.
pub async fn put_alarm(shared: &super::Shared, request: &Request) -> Result<Reply, String> {
    let name = request.form("AlarmName").unwrap_or_default();
    let read = query(
        shared,
        request,
        &[("Action", "DescribeAlarms"), ("Version", "2010-08-01"), ("AlarmNames.member.1", &name)],
    )
    .await?;
    let read = String::from_utf8_lossy(&read.body).into_owned();
    let Some(alarm) = xml_field(&read, "MetricAlarms").filter(|a| a.contains("<AlarmName>")) else {
        return super::forward(shared, request).await;
    };
    let body = String::from_utf8_lossy(&request.body);
    let untagged: Vec<&str> = body.split('&').filter(|pair| !pair.starts_with("Tags.")).collect();
    let put = super::forward(shared, &Request { body: untagged.join("&").into(), ..request.clone() }).await?;
    let state = xml_field(&alarm, "StateValue").unwrap_or_default();
    if put.is_success() && state != "INSUFFICIENT_DATA" {
        let reason = unescape(&xml_field(&alarm, "StateReason").unwrap_or_default());
        let form = [
            ("Action", "SetAlarmState"),
            ("Version", "2010-08-01"),
            ("AlarmName", &name),
            ("StateValue", &state),
            ("StateReason", &reason),
        ];
        query(shared, request, &form).await?;
    }
    Ok(put)
}

fn refuse_alarm(r: &Request) -> Option<String> {
    let int = |field: &str| r.form(field).and_then(|v| v.parse::<i64>().ok());
    let metrics: Vec<usize> = (1..).take_while(|i| r.form(&format!("Metrics.member.{i}.Id")).is_some()).collect();
    let returned = metrics
        .iter()
        .filter(|i| r.form(&format!("Metrics.member.{i}.ReturnData")).as_deref() != Some("false"))
        .count();
    let period = if metrics.is_empty() {
        int("Period")
    } else {
        int("Metrics.member.1.MetricStat.Period").or_else(|| int("Metrics.member.2.MetricStat.Period"))
    };
    if !metrics.is_empty() {
        if r.form("Period").is_some() || r.form("Statistic").is_some() || r.form("Namespace").is_some() {
            return Some(
                "InvalidParameterCombination: Metrics list cannot be combined with Period, Statistic or Namespace"
                    .into(),
            );
        }
        if returned != 1 {
            return Some(format!("InvalidParameterValue: Metrics must return exactly one time series ({returned} do)"));
        }
    } else {
        let stats = [r.form("Statistic").is_some(), r.form("ExtendedStatistic").is_some()];
        if stats == [true, true] || stats == [false, false] {
            return Some("InvalidParameterCombination: one of Statistic and ExtendedStatistic must be given".into());
        }
    }
    let (Some(period), Some(evaluations)) = (period, int("EvaluationPeriods")) else {
        return Some("ValidationError: Period and EvaluationPeriods are required".into());
    };
    if !(matches!(period, 10 | 20 | 30) || (period > 0 && period % 60 == 0)) {
        return Some(format!("InvalidParameterValue: Period {period} must be 10, 20, 30 or a multiple of 60"));
    }
    if evaluations * period > 86_400 {
        return Some("InvalidParameterCombination: EvaluationPeriods times Period must not exceed 86400".into());
    }
    if int("DatapointsToAlarm").is_some_and(|d| d < 1 || d > evaluations) {
        return Some("InvalidParameterValue: DatapointsToAlarm must be 1..=EvaluationPeriods".into());
    }
    if r.form("AlarmActions.member.6").is_some() {
        return Some("LimitExceeded: at most 5 alarm actions".into());
    }
    if r.form("AlarmDescription").is_some_and(|d| d.chars().count() > 1024) {
        return Some("ValidationError: AlarmDescription is longer than 1024".into());
    }
    None
}

/// Why CloudWatch would refuse a dashboard body.
pub fn refuse_body(body: &Value) -> Option<String> {
    let Some(widgets) = body["widgets"].as_array() else {
        return Some("Should have required property 'widgets'".into());
    };
    widgets.iter().enumerate().find_map(|(i, w)| {
        let at = format!("/widgets/{i}");
        let kind = w["type"].as_str().unwrap_or_default();
        if !["metric", "text", "log", "alarm", "explorer"].contains(&kind) {
            return Some(format!("{at}/type: should be one of metric, text, log, alarm, explorer"));
        }
        for (field, max) in [("width", 24), ("height", 1000)] {
            if w.get(field).is_some_and(|v| !v.as_i64().is_some_and(|n| (1..=max).contains(&n))) {
                return Some(format!("{at}/{field}: should be 1..={max}"));
            }
        }
        let p = &w["properties"];
        if kind == "metric" && (p["region"].as_str().is_none() || !p["metrics"].is_array()) {
            return Some(format!("{at}/properties: should have required properties 'region' and 'metrics'"));
        }
        None
    })
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, _now: Instant) -> Option<Reply> {
    if !world.behaviours.cloudwatch_rules || call.service != "monitoring" {
        return None;
    }
    match call.operation.as_str() {
        "PutMetricAlarm" => refuse_alarm(request).map(|why| {
            let (code, message) = why.split_once(": ").unwrap_or(("ValidationError", &why));
            wire::xml_error(400, code, message)
        }),
        "PutDashboard" => {
            let name = request.form("DashboardName").unwrap_or_default();
            if name.is_empty()
                || name.len() > 255
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Some(wire::xml_error(400, "InvalidParameterValue", "The value for DashboardName is invalid"));
            }
            let body: Value =
                serde_json::from_str(&request.form("DashboardBody").unwrap_or_default()).unwrap_or_default();
            refuse_body(&body).map(|why| {
                wire::xml_error(
                    400,
                    "InvalidParameterInput",
                    &format!("The dashboard body is invalid, there are 1 validation errors: [{why}]"),
                )
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(body: &str) -> Request {
        Request {
            method: http::Method::POST,
            path: "/".into(),
            query: String::new(),
            headers: http::HeaderMap::new(),
            body: body.to_string().into(),
        }
    }

    #[test]
    fn an_alarm_is_checked_as_put_metric_alarm_does() {
        let one = "MetricName=Errors&Namespace=AWS%2FLambda&Statistic=Sum&EvaluationPeriods=5&DatapointsToAlarm=3";
        assert_eq!(refuse_alarm(&form(&format!("{one}&Period=60"))), None);
        assert_eq!(
            refuse_alarm(&form("MetricName=FanoutMs&ExtendedStatistic=p99&Period=60&EvaluationPeriods=5")),
            None
        );
        for (body, says) in [
            (format!("{one}&Period=45"), "Period 45"),
            (format!("{one}&Period=60&ExtendedStatistic=p99"), "one of Statistic"),
            ("MetricName=Errors&Period=60&EvaluationPeriods=5".to_string(), "one of Statistic"),
            ("MetricName=Errors&Statistic=Sum&Period=3600&EvaluationPeriods=25".to_string(), "86400"),
            (format!("{one}&Period=60").replace("DatapointsToAlarm=3", "DatapointsToAlarm=6"), "DatapointsToAlarm"),
            (format!("{one}&Period=60&AlarmActions.member.6=arn"), "at most 5"),
        ] {
            let why = refuse_alarm(&form(&body)).unwrap_or_else(|| panic!("{body} passed"));
            assert!(why.contains(says), "{body}: {why}");
        }
        let math = "EvaluationPeriods=3&Metrics.member.1.Id=p0&Metrics.member.1.MetricStat.Period=60&Metrics.member.1.ReturnData=false\
                    &Metrics.member.2.Id=e&Metrics.member.2.Expression=p0";
        assert_eq!(refuse_alarm(&form(math)), None);
        let two = math.replace("Metrics.member.1.ReturnData=false", "Metrics.member.1.ReturnData=true");
        assert!(refuse_alarm(&form(&two)).unwrap().contains("exactly one"));
        assert!(refuse_alarm(&form(&format!("{math}&Period=60"))).unwrap().contains("InvalidParameterCombination"));
    }

    #[test]
    fn a_dashboard_body_is_checked_as_cloudwatch_does() {
        let metric = |p: Value| json!({ "widgets": [{ "type": "metric", "width": 12, "height": 6, "properties": p }] });
        assert_eq!(refuse_body(&metric(json!({ "region": "us-east-1", "metrics": [] }))), None);
        assert!(refuse_body(&metric(json!({ "metrics": [] }))).unwrap().contains("'region'"));
        assert!(refuse_body(&json!({ "widgets": [{ "type": "chart" }] })).unwrap().contains("/widgets/0/type"));
        assert!(refuse_body(&json!({ "widgets": [{ "type": "text", "width": 25 }] })).unwrap().contains("width"));
        assert!(refuse_body(&json!({})).is_some());
    }
}
