//! `tollgate who-can`: every person and client the repository lets make a request in one cluster, with the binding,
//! the role and the files behind it; Kubernetes' built-in roles read from the cluster or a file.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Context as _;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Api;
use kube::api::ListParams;
use tollgate::compile::{CompileContext, compile};
use tollgate::objects::{LiveState, ObjectKind};
use tollgate::rbac::Request;
use tollgate::text::shown;
use tollgate::who::{Answer, Drift, Others, Who, WhoCan, who_can};

use super::args::{KubeArgs, RepoArgs};
use super::runtime;

/// `tollgate who-can`.
#[derive(clap::Args)]
#[command(
    after_help = "RESOURCE is written as for `kubectl auth can-i`: `pods`, `pods/log`, `deployments.apps`, \
`deployments.apps/scale`; or a non-resource URL such as `/metrics`.

The answer comes from the repository's compiled roles and bindings, evaluated with Kubernetes' RBAC rules, and, \
read from the cluster, the cluster's own roles and its other bindings (its defaults for every login, hand-made ones). \
With --roles-from only the ClusterRoles come from the file; with --offline nothing does. Kubernetes' own ClusterRoles \
(admin, edit, view, ...) that were not read are taken as Kubernetes v1.34 defines them. What the answer could not see \
is said under it (\"incomplete: ...\"). Singular, kind and short names of built-in resources are read as kubectl reads \
them; a Namespace's name is its namespace; -n is dropped for a cluster-scoped resource.

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
    #[command(flatten)]
    sources: Sources,
    #[command(flatten)]
    at: At,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
    /// Also say since which commit each answer holds: walking the first-parent history back while the same
    /// subject may through the same binding (the repository's bindings only; commits that did not validate are
    /// passed over).
    #[arg(long)]
    since: bool,
    /// With --since: read at most this many commits back.
    #[arg(long, default_value_t = 10_000, requires = "since")]
    limit: usize,
}

/// Answer as of the repository's past (`who-can`, `can`).
#[derive(clap::Args)]
pub struct At {
    /// Answer as the repository stood at a commit (`HEAD~3`, a commit id, a tag) or a date of its first-parent
    /// history (`2026-11-30`: the end of that day, UTC; or RFC 3339), expiries evaluated at that instant; a commit
    /// that did not validate was never applied, so the one before it answers. Only the repository's roles and
    /// bindings (and Kubernetes' default ClusterRoles) answer: the cluster is not read.
    #[arg(long, value_name = "REV|DATE", conflicts_with_all = ["offline", "kubeconfig", "context"])]
    pub at: Option<String>,
}

impl At {
    /// The repository as asked (now, or `--at`), validated, with the time expiries are evaluated at and the commit
    /// it was read from.
    pub fn validated(
        &self,
        repo: &RepoArgs,
    ) -> anyhow::Result<(
        tollgate::pipeline::Checked,
        jiff::Timestamp,
        Option<tollgate::history::Revision>,
    )> {
        self.validated_loaded(repo)
            .map(|(_, checked, now, revision)| (checked, now, revision))
    }

    /// [`At::validated`], with the loaded files (for the positions of grants).
    pub fn validated_loaded(
        &self,
        repo: &RepoArgs,
    ) -> anyhow::Result<(
        tollgate::config::LoadedRepository,
        tollgate::pipeline::Checked,
        jiff::Timestamp,
        Option<tollgate::history::Revision>,
    )> {
        match &self.at {
            Some(at) => {
                let (loaded, checked, now, revision) = super::validated_at(repo, at)?;
                Ok((loaded, checked, now, Some(revision)))
            }
            None => {
                let (loaded, checked, now) = super::validated_loaded(repo, None)?;
                Ok((loaded, checked, now, None))
            }
        }
    }
}

/// Where the cluster's own roles and bindings come from (`who-can`, `can`).
#[derive(clap::Args)]
pub struct Sources {
    /// Read the ClusterRoles the repository does not define from this file (`kubectl get clusterroles -o yaml`).
    #[arg(long, value_name = "FILE")]
    roles_from: Option<std::path::PathBuf>,
    /// Do not read the cluster's roles and bindings.
    #[arg(long, conflicts_with = "roles_from")]
    offline: bool,
    #[command(flatten)]
    kube: KubeArgs,
}

/// The question, as the API server's request info would describe it ([`tollgate::question::parse`]); what was read
/// differently from what was written is said on stderr.
fn question(
    verb: &str,
    resource: &str,
    name: Option<&str>,
    namespace: Option<&str>,
) -> anyhow::Result<Request> {
    // What was typed is shown escaped: an argument may hold terminal control sequences.
    let (request, notices) = tollgate::question::parse(verb, resource, name, namespace)
        .map_err(|error| anyhow::anyhow!("{}", shown(&error.0)))?;
    for notice in notices {
        eprintln!("{}", shown(&notice.to_string()));
    }
    Ok(request)
}

/// `items` split into (the cluster's, this instance's own), owned as plan decides it (`objects::is_owned_by`: its
/// labels, and tollgate's field manager among its writers; an object given tollgate's labels by hand is the
/// cluster's).
fn split<T: serde::Serialize>(cluster: &str, items: Vec<T>) -> (Vec<T>, Vec<T>) {
    let (owned, theirs): (Vec<T>, Vec<T>) = items.into_iter().partition(|item| {
        tollgate::objects::is_owned_by(&tollgate::objects::Manifest::new(item), cluster)
    });
    (theirs, owned)
}

/// `read` with Kubernetes' default ClusterRoles under every name it does not have: what a cluster holds unless
/// someone removed them.
fn with_kubernetes_defaults(mut read: Vec<ClusterRole>) -> Vec<ClusterRole> {
    let names: BTreeSet<String> = read
        .iter()
        .filter_map(|r| r.metadata.name.clone())
        .collect();
    read.extend(
        tollgate::rbac::kubernetes_cluster_roles()
            .into_iter()
            .filter(|r| r.metadata.name.as_ref().is_some_and(|n| !names.contains(n))),
    );
    read
}

/// What the cluster holds besides the repository: from `--roles-from` its ClusterRoles (and Kubernetes' defaults
/// it lacks); from the cluster every ClusterRole and Role, and every binding that is not this instance's; with
/// `--offline`, Kubernetes' default ClusterRoles.
/// An answer as JSON, with the commit it was read from (`--at`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AsOf<'a, T: serde::Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<tollgate::history::Revision>,
    #[serde(flatten)]
    pub answer: &'a T,
}

pub(super) fn others(sources: &Sources, cluster: &str, past: bool) -> anyhow::Result<Others> {
    if let Some(path) = &sources.roles_from {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
        let state = LiveState::from_yaml(&shown, &text)?;
        let cluster_roles = state
            .objects
            .iter()
            .filter(|(key, _)| key.kind == ObjectKind::ClusterRole)
            .map(|(key, manifest)| {
                serde_json::from_str(manifest.json()).with_context(|| {
                    format!("{shown}: ClusterRole {} is not a ClusterRole", key.name)
                })
            })
            .collect::<anyhow::Result<Vec<ClusterRole>>>()?;
        if cluster_roles.is_empty() {
            anyhow::bail!(
                "{shown} holds no ClusterRole; expected the output of `kubectl get clusterroles -o yaml`"
            );
        }
        return Ok(Others {
            cluster_roles: with_kubernetes_defaults(cluster_roles),
            ..Others::default()
        });
    }
    // The past is answered from the repository alone: today's cluster is not what held then.
    if sources.offline || past {
        return Ok(Others {
            cluster_roles: tollgate::rbac::kubernetes_cluster_roles(),
            ..Others::default()
        });
    }
    runtime()?.block_on(async {
        let connection = sources.kube.connect().await?;
        let client = connection.kube();
        let all = ListParams::default();
        let read = |what: &str| {
            format!(
                "cannot list {what} at {} (or pass --offline)",
                connection.server
            )
        };
        let cluster_roles = Api::<ClusterRole>::all(client.clone())
            .list(&all)
            .await
            .with_context(|| read("ClusterRoles"))?;
        let roles = Api::<Role>::all(client.clone())
            .list(&all)
            .await
            .with_context(|| read("Roles"))?;
        let cluster_role_bindings = Api::<ClusterRoleBinding>::all(client.clone())
            .list(&all)
            .await
            .with_context(|| read("ClusterRoleBindings"))?;
        let role_bindings = Api::<RoleBinding>::all(client)
            .list(&all)
            .await
            .with_context(|| read("RoleBindings"))?;
        // This instance's own objects are the repository's, compiled as they should be; how the live ones differ
        // is said with the answer.
        let (cluster_roles, owned_cluster_roles) = split(cluster, cluster_roles.items);
        let (roles, owned_roles) = split(cluster, roles.items);
        let (cluster_role_bindings, owned_cluster_role_bindings) =
            split(cluster, cluster_role_bindings.items);
        let (role_bindings, owned_role_bindings) = split(cluster, role_bindings.items);
        Ok(Others {
            cluster_roles,
            roles,
            cluster_role_bindings,
            role_bindings,
            owned: Some(tollgate::who::Owned {
                cluster_roles: owned_cluster_roles,
                roles: owned_roles,
                cluster_role_bindings: owned_cluster_role_bindings,
                role_bindings: owned_role_bindings,
            }),
        })
    })
}

/// Prints who can; exit 0 whether or not anyone can (the answer is the output).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let asked = question(
        &args.verb,
        &args.resource,
        args.name.as_deref(),
        args.namespace.as_deref(),
    )?;
    let (loaded, checked, now, as_of) = args.at.validated_loaded(&args.repo)?;
    let desired = compile(
        &checked.model,
        &CompileContext {
            cluster: &args.cluster,
            now,
            revision: None,
        },
    )?;
    let mut answer = who_can(
        &checked.model,
        &desired,
        others(&args.sources, &args.cluster, as_of.is_some())?,
        &asked,
        now,
    );
    // Where in the repository each binding comes from: every grant behind it, as file:line.
    for found in &mut answer.answers {
        if !found.outside_repository {
            found.grants =
                tollgate::who::grants_behind(&checked.model, &args.cluster, now, &found.binding)
                    .into_iter()
                    .map(|grant| grant.located(&loaded))
                    .collect();
        }
    }
    if args.since {
        since(&args, &asked, as_of.as_ref(), &mut answer)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&AsOf {
                as_of,
                answer: &answer
            })?
        );
    } else {
        print!("{}", human(&answer));
    }
    Ok(ExitCode::SUCCESS)
}

/// Fills each repository answer's `since`: the oldest commit of the first-parent history (from `as_of`, or HEAD)
/// back to which the same subject may make the request through the same binding at every commit that validates,
/// each evaluated at its own time with Kubernetes' default ClusterRoles.
fn since(
    args: &Args,
    asked: &tollgate::rbac::Request,
    as_of: Option<&tollgate::history::Revision>,
    answer: &mut WhoCan,
) -> anyhow::Result<()> {
    let history = tollgate::history::History::open(&args.repo.repo)?;
    let mut commits = history.first_parent()?;
    if let Some(as_of) = as_of {
        let start = gix::ObjectId::from_hex(as_of.commit.as_bytes())
            .ok()
            .and_then(|asked| commits.iter().position(|c| *c == asked))
            .unwrap_or(0);
        commits.drain(..start);
    }
    commits.truncate(args.limit);
    let key = |a: &tollgate::who::Answer| (a.who.clone(), a.binding.clone());
    let mut open: Vec<bool> = answer
        .answers
        .iter()
        .map(|a| !a.outside_repository)
        .collect();
    let mut last: Option<(String, BTreeSet<(Who, tollgate::rbac::ObjectName)>)> = None;
    for commit in commits {
        if !open.contains(&true) {
            break;
        }
        let (files, fingerprint) = history.config(commit)?;
        let revision = history.revision(commit)?;
        let holding = match last.as_ref().filter(|(seen, _)| *seen == fingerprint) {
            Some((_, holding)) => holding.clone(),
            None => {
                let Ok((checked, desired, now)) =
                    super::timeline::compiled_at(files, &revision, args.repo.now, &args.cluster)?
                else {
                    // Never applied: it neither gives nor takes away.
                    continue;
                };
                let others = Others {
                    cluster_roles: tollgate::rbac::kubernetes_cluster_roles(),
                    ..Others::default()
                };
                who_can(&checked.model, &desired, others, asked, now)
                    .answers
                    .iter()
                    .map(key)
                    .collect()
            }
        };
        for (found, open) in answer.answers.iter_mut().zip(open.iter_mut()) {
            if !*open {
                continue;
            }
            if holding.contains(&key(found)) {
                found.since = Some(tollgate::who::Since {
                    commit: revision.commit.clone(),
                    time: revision.time,
                    author: revision.author.clone(),
                    summary: revision.summary.clone(),
                });
            } else {
                *open = false;
            }
        }
        last = Some((fingerprint, holding));
    }
    Ok(())
}

/// A table: who, the identity the API server sees, the binding, the role and where the binding comes from; then
/// what the answer could not see, on stdout too, so that a "nobody" is never read as complete when it is not.
fn human(answer: &WhoCan) -> String {
    let mut out = String::new();
    if answer.answers.is_empty() && answer.complete {
        out.push_str("nobody in the repository can\n");
    } else if answer.answers.is_empty() {
        out.push_str("nobody found in what could be read (the answer is incomplete: see below)\n");
    } else {
        let rows: Vec<[String; 5]> = answer.answers.iter().map(row).collect();
        if answer.answers.iter().any(|a| a.since.is_some()) {
            let rows: Vec<[String; 6]> = rows
                .into_iter()
                .zip(&answer.answers)
                .map(|([who, r#as, binding, role, from], found)| {
                    let since = found.since.as_ref().map_or_else(
                        || "-".to_owned(),
                        |s| format!("{} {}", &s.commit[..12.min(s.commit.len())], s.time),
                    );
                    [who, r#as, binding, role, from, since]
                })
                .collect();
            out.push_str(&table(
                ["WHO", "AS", "BINDING", "ROLE", "FROM", "SINCE"],
                &rows,
            ));
        } else {
            out.push_str(&table(["WHO", "AS", "BINDING", "ROLE", "FROM"], &rows));
        }
    }
    out.push_str(&limits(
        &answer.unknown_roles,
        answer.cluster_bindings_included,
        answer.drift.as_ref(),
    ));
    out
}

/// Rows under a header, each column as wide as its widest cell (in characters), two spaces apart.
pub(super) fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let header = header.map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// What an answer could not see, said under it: roles whose rules are unknown, bindings not read.
pub(super) fn limits(
    unknown_roles: &BTreeSet<String>,
    cluster_bindings_included: bool,
    drift: Option<&Drift>,
) -> String {
    let mut out = String::new();
    if let Some(drift) = drift.filter(|d| !d.is_empty()) {
        let list = |keys: &[String]| {
            let shown: Vec<String> = keys.iter().take(5).map(|k| shown(k).into_owned()).collect();
            let more = keys.len().saturating_sub(5);
            if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            }
        };
        out.push_str(
            "incomplete: the cluster does not hold the repository's RBAC objects as they are, so it grants \
             otherwise until the next apply (`tollgate plan` shows the difference); this answer is the repository's:\n",
        );
        for (what, keys) in [
            ("not applied", &drift.not_applied),
            (
                "different in the cluster (changed by hand, or a change not applied yet)",
                &drift.changed,
            ),
            (
                "in the cluster, no longer in the repository",
                &drift.not_in_repository,
            ),
            (
                "its name held in the cluster by an object that is not tollgate's (apply reports a conflict; the \
                 cluster's object grants instead)",
                &drift.held_by_others,
            ),
        ] {
            if !keys.is_empty() {
                out.push_str(&format!("  {what}: {}\n", list(keys)));
            }
        }
    }
    if !unknown_roles.is_empty() {
        let names = unknown_roles
            .iter()
            .map(|r| shown(r).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        // Read from the cluster, a bound ClusterRole that is nowhere does not exist: the authorizer skips the binding.
        out.push_str(&if cluster_bindings_included {
            format!(
                "note: bound ClusterRoles that neither the repository nor the cluster defines, so they grant nothing \
                 until someone creates them: {names}\n"
            )
        } else {
            format!(
                "incomplete: what these ClusterRoles grant is not known, so what they give is missing: {names} (read \
                 them from the cluster, or pass --roles-from)\n"
            )
        });
    }
    if !cluster_bindings_included {
        out.push_str(
            "only the repository's bindings answered: the cluster's own (its defaults for system:authenticated, \
             hand-made ones) were not read, and Kubernetes' ClusterRoles (admin, edit, view, ...) were taken as \
             Kubernetes v1.34 defines them\n",
        );
    }
    out
}

fn row(answer: &Answer) -> [String; 5] {
    let who = match &answer.who {
        Who::User {
            name,
            inactive: false,
        } => format!("user {}", shown(name)),
        Who::User {
            name,
            inactive: true,
        } => format!("user {} (inactive: only through a group)", shown(name)),
        Who::Client {
            name,
            acting_as: None,
        } => format!("client {}", shown(name)),
        Who::Client {
            name,
            acting_as: Some(owner),
        } => format!("client {} (acting as {})", shown(name), shown(owner)),
    };
    [
        who,
        shown(&answer.username).into_owned(),
        answer.binding.as_binding(),
        answer.role.as_role(),
        if answer.outside_repository {
            "the cluster (not the repository)".to_owned()
        } else if !answer.grants.is_empty() {
            let places: Vec<String> = answer.grants.iter().map(ToString::to_string).collect();
            shown(&places.join(", ")).into_owned()
        } else {
            shown(&answer.sources.join(", ")).into_owned()
        },
    ]
}
