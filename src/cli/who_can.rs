//! `tollgate who-can`: every person and client the repository lets make a request in one cluster, with the binding,
//! the role and the files behind it; Kubernetes' built-in roles read from the cluster or a file.

use std::process::ExitCode;

use anyhow::Context as _;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::Api;
use kube::api::ListParams;
use tollgate::compile::{CompileContext, compile};
use tollgate::objects::{LiveState, ObjectKind};
use tollgate::rbac::Request;
use tollgate::who::{Answer, Who, WhoCan, who_can};

use super::args::{KubeArgs, RepoArgs};
use super::{runtime, validated};

/// `tollgate who-can`.
#[derive(clap::Args)]
#[command(
    after_help = "RESOURCE is written as for `kubectl auth can-i`: `pods`, `pods/log`, `deployments.apps`, \
`deployments.apps/scale`; or a non-resource URL such as `/metrics`.

The answer comes from the repository's compiled roles and bindings, evaluated with Kubernetes' RBAC rules. Roles the \
repository refers to but does not define (Kubernetes' `admin`, `edit`, `view`, ...) are read from the cluster, or \
from --roles-from; with --offline and without --roles-from, bindings to them are listed as unknown on stderr.

Examples:
  tollgate who-can create pods/exec -n payments --cluster prod
  tollgate who-can get secrets -n payments --cluster prod --roles-from clusterroles.yaml --json
  kubectl get clusterroles -o yaml > clusterroles.yaml"
)]
pub struct Args {
    /// The verb: get, list, watch, create, update, patch, delete, deletecollection, impersonate, ...
    verb: String,
    /// The resource (`pods`, `pods/log`, `deployments.apps`) or a non-resource URL (`/metrics`).
    resource: String,
    /// The object's name, for a rule that lists resourceNames.
    name: Option<String>,
    /// The namespace; without it, the question is cluster-wide (only ClusterRoleBindings answer).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    #[command(flatten)]
    repo: RepoArgs,
    /// The cluster, as the repository's Settings name it.
    #[arg(long)]
    cluster: String,
    /// Read the ClusterRoles the repository does not define from this file (`kubectl get clusterroles -o yaml`).
    #[arg(long, value_name = "FILE")]
    roles_from: Option<std::path::PathBuf>,
    /// Do not read the cluster's ClusterRoles.
    #[arg(long, conflicts_with = "roles_from")]
    offline: bool,
    #[command(flatten)]
    kube: KubeArgs,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

/// `RESOURCE` as kubectl writes it: `resource[.group][/subresource]`, or a path.
fn request(verb: &str, resource: &str, name: Option<&str>, namespace: Option<&str>) -> Request {
    if resource.starts_with('/') {
        return Request::NonResource {
            verb: verb.to_owned(),
            path: resource.to_owned(),
        };
    }
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    let (resource, group) = resource.split_once('.').unwrap_or((resource, ""));
    Request::Resource {
        verb: verb.to_owned(),
        api_group: group.to_owned(),
        resource: resource.to_owned(),
        subresource: subresource.to_owned(),
        name: name.unwrap_or_default().to_owned(),
        namespace: namespace.unwrap_or_default().to_owned(),
    }
}

/// The ClusterRoles of `--roles-from`, or of the cluster, or none.
fn other_roles(args: &Args) -> anyhow::Result<Vec<ClusterRole>> {
    if let Some(path) = &args.roles_from {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
        let state = LiveState::from_yaml(&shown, &text)?;
        return state
            .objects
            .iter()
            .filter(|(key, _)| key.kind == ObjectKind::ClusterRole)
            .map(|(key, manifest)| {
                serde_json::from_str(manifest.json()).with_context(|| {
                    format!("{shown}: ClusterRole {} is not a ClusterRole", key.name)
                })
            })
            .collect();
    }
    if args.offline {
        return Ok(Vec::new());
    }
    runtime()?.block_on(async {
        let cluster = args.kube.connect().await?;
        let roles = Api::<ClusterRole>::all(cluster.kube())
            .list(&ListParams::default())
            .await
            .with_context(|| {
                format!(
                    "cannot list ClusterRoles at {} (or pass --offline)",
                    cluster.server
                )
            })?;
        Ok(roles.items)
    })
}

/// Prints who can; exit 0 whether or not anyone can (the answer is the output).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (checked, now) = validated(&args.repo, None)?;
    let desired = compile(
        &checked.model,
        &CompileContext {
            cluster: &args.cluster,
            now,
            revision: None,
        },
    )?;
    let question = request(
        &args.verb,
        &args.resource,
        args.name.as_deref(),
        args.namespace.as_deref(),
    );
    let answer = who_can(
        &checked.model,
        &desired,
        other_roles(&args)?,
        &question,
        now,
    );
    if !answer.unknown_roles.is_empty() {
        eprintln!(
            "warning: what these ClusterRoles grant is not known, so people bound to them may be missing: {} \
             (read them from the cluster, or pass --roles-from)",
            answer
                .unknown_roles
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", human(&answer));
    }
    Ok(ExitCode::SUCCESS)
}

/// A table: who, the identity the API server sees, the binding, the role and the files.
fn human(answer: &WhoCan) -> String {
    if answer.answers.is_empty() {
        return "nobody in the repository can\n".to_owned();
    }
    let rows: Vec<[String; 5]> = answer.answers.iter().map(row).collect();
    let header = ["WHO", "AS", "BINDING", "ROLE", "FROM"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (width, cell) in widths.iter_mut().zip(r) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn row(answer: &Answer) -> [String; 5] {
    let who = match &answer.who {
        Who::User { name } => format!("user {name}"),
        Who::Client {
            name,
            acting_as: None,
        } => format!("client {name}"),
        Who::Client {
            name,
            acting_as: Some(_),
        } => format!("client {name} (acting as its owner)"),
    };
    let kind = |namespace: &Option<String>, cluster: &str, namespaced: &str| {
        if namespace.is_some() {
            namespaced
        } else {
            cluster
        }
        .to_owned()
    };
    [
        who,
        tollgate::text::shown(&answer.username).into_owned(),
        format!(
            "{} {}",
            kind(
                &answer.binding.namespace,
                "ClusterRoleBinding",
                "RoleBinding"
            ),
            answer.binding
        ),
        format!(
            "{} {}",
            kind(&answer.role.namespace, "ClusterRole", "Role"),
            answer.role
        ),
        if answer.sources.is_empty() {
            "-".to_owned()
        } else {
            answer.sources.join(", ")
        },
    ]
}
