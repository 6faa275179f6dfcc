//! Discovery: reads every resource of the stack from AWS, each kind with its
//! own `find_*`, as much at once as the reads allow.

use anyhow::Result;

use super::{
    Clients, Env, FoundItem, FoundSet, Kind, api, api_domain, api_mapping, authorizer, bucket, bucket_policy,
    certificate, distribution, dns_record, function, integration, integration_response, log_group, mapping,
    mock_integration, model, origin_access_control, permission, queue, role, role_policy, route, route_response, site,
    stage, table, validation_record,
};

/// Reads every resource of the stack. Independent reads run at once; the
/// API's routes, integrations, models and stages follow as soon as the API
/// is found, and the responses of its MOCK integrations and two-way routes
/// once those are.
pub async fn discover(clients: &Clients, env: &Env) -> Result<FoundSet> {
    let functions: Vec<&String> = env.stack.functions.keys().collect();
    let api_part = async {
        let apis = api::serving_first(clients, env, api::find_apis(clients, env).await?).await?;
        let Some(api) = apis.first() else { return Ok::<_, anyhow::Error>((apis, Vec::new(), Vec::new())) };
        let api_id = api.id.clone();
        let (routes, integrations, models, stages, authorizers) = tokio::try_join!(
            route::find_routes(clients, env, &api_id),
            integration::list_integrations(clients, &api_id),
            model::find_models(clients, env, &api_id),
            stage::find_stages(clients, env, &api_id),
            authorizer::find_authorizers(clients, env, &api_id),
        )?;
        let mocks = mock_integration::found_mock_integrations(&api_id, &integrations, &routes);
        let integrations = integration::found_integrations(env, &api_id, &integrations);
        let (integration_responses, (route_responses, route_notes)) = tokio::try_join!(
            integration_response::find_integration_responses(clients, &mocks),
            route_response::find_route_responses(clients, &routes),
        )?;
        let (models, mut notes) = models;
        notes.extend(route_notes);
        let mut children = Vec::new();
        children.extend(integration::referenced_first(integrations, &routes));
        children.extend(mocks);
        children.extend(integration_responses);
        children.extend(model::with_referenced(env, models, &routes));
        children.extend(routes);
        children.extend(route_responses);
        children.extend(stages);
        children.extend(authorizers);
        Ok((apis, children, notes))
    };
    let per_function = futures::future::try_join_all(functions.iter().map(|name| async move {
        let (role, policy, function, mappings, permissions) = tokio::try_join!(
            role::find_role(clients, env, name),
            role_policy::find_role_policy(clients, env, name),
            function::find_function(clients, env, name),
            mapping::find_mappings(clients, env, name),
            permission::find_permissions(clients, env, name),
        )?;
        let mut items: Vec<FoundItem> = [role, policy, function].into_iter().flatten().collect();
        items.extend(mappings);
        items.extend(permissions);
        Ok::<_, anyhow::Error>(items)
    }));
    // What the stack had under names stack.yaml no longer has.
    let orphans = async {
        let (functions, roles, queues) = tokio::try_join!(
            function::find_orphan_functions(clients, env),
            role::find_orphan_roles(clients, env),
            queue::find_orphan_queues(clients, env),
        )?;
        let mappings = futures::future::try_join_all(
            functions.iter().map(|f| mapping::find_mappings(clients, env, &f.address.name)),
        )
        .await?;
        let mut items = functions;
        items.extend(mappings.into_iter().flatten());
        items.extend(roles);
        items.extend(queues);
        Ok::<_, anyhow::Error>(items)
    };
    // Once the bucket is known to exist, its settings, policy and objects are read together.
    let website_part = async {
        let (exists, oacs, distributions) = tokio::try_join!(
            bucket::exists(clients, env),
            origin_access_control::find_origin_access_controls(clients, env),
            distribution::find_distributions(clients, env),
        )?;
        let mut items: Vec<FoundItem> = oacs;
        items.extend(distributions);
        if exists {
            let (bucket, policy, site) = tokio::try_join!(
                bucket::find_bucket(clients, env),
                bucket_policy::find_bucket_policy(clients, env),
                site::find_site(clients, env),
            )?;
            items.push(bucket);
            items.extend(policy);
            items.extend(site);
        }
        Ok::<_, anyhow::Error>(items)
    };
    // `domain:`: the certificates first (their tags name the zone and the
    // names the validation records are under), then those records and the
    // API domains. The alias records come last, once the API domains and the
    // distribution are known: with the user's certificate, only they say
    // which zone and names the stack had.
    let domain_part = async {
        let certificates = certificate::find_certificates(clients, env).await?;
        let domains = async {
            let domains = api_domain::find_api_domains(clients, env).await?;
            let mappings = api_mapping::find_api_mappings(clients, &domains).await?;
            Ok::<_, anyhow::Error>((domains, mappings))
        };
        let validation = validation_record::find_validation_records(clients, env, &certificates);
        let (validation, (domains, mappings)) = tokio::try_join!(validation, domains)?;
        let mut items = certificates;
        items.extend(validation);
        items.extend(domains);
        items.extend(mappings);
        Ok::<_, anyhow::Error>(items)
    };
    let (api_part, per_function, orphans, website, table, dlq, queue, log_groups, domain) = tokio::try_join!(
        api_part,
        per_function,
        orphans,
        website_part,
        table::find_tables(clients, env),
        queue::find_queue(clients, env, Kind::DeadLetterQueue),
        queue::find_queue(clients, env, Kind::Queue),
        log_group::find_log_groups(clients, env),
        domain_part,
    )?;
    let (apis, children, notes) = api_part;
    let mut items = Vec::new();
    items.extend(log_groups);
    items.extend(table);
    items.extend(dlq);
    items.extend(queue);
    items.extend(per_function.into_iter().flatten());
    items.extend(orphans);
    items.extend(apis.into_iter().map(api::Found::into_item));
    items.extend(children);
    items.extend(website);
    items.extend(domain);
    let records = dns_record::find_dns_records(clients, env, &items).await?;
    items.extend(records);
    Ok(FoundSet { items, notes })
}
