//! `tollgate can`: everything one person or client may do in a cluster, rule by rule, where and through which
//! binding; what `kubectl auth can-i --list` shows for oneself, for anyone of the repository.

use std::process::ExitCode;

use k8s_openapi::api::rbac::v1::PolicyRule;
use tollgate::compile::{CompileContext, compile};
use tollgate::text::shown;
use tollgate::who::{Can, HeldRule, Subject, Who, can};

use super::args::RepoArgs;
use super::who_can::{AsOf, At, Sources, limits, others, table};

/// `tollgate can`.
#[derive(clap::Args)]
#[command(
    after_help = "SUBJECT is `user/NAME` or `client/NAME` (the User or Client document's name), or a bare NAME \
when only one of them has it. A client that may act as its owner also holds the owner's rules, listed as such.

Read from the cluster, the cluster's own roles and its other bindings count too (the defaults every login has, \
hand-made ones); with --roles-from only the ClusterRoles come from the file; with --offline nothing does. \
Kubernetes' own ClusterRoles (admin, edit, view, ...) that were not read are taken as Kubernetes v1.34 defines them. \
A user's clients are named; each has rules of its own. A user or client no longer in the repository is answered from \
what tollgate's bindings still in the cluster give it. What the answer could not see is said under it.

Examples:
  tollgate can user/alice --cluster prod
  tollgate can client/ci-deployer --cluster staging --roles-from clusterroles.yaml --json"
)]
pub struct Args {
    /// `user/NAME`, `client/NAME`, or NAME.
    subject: String,
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
}

/// Prints what the subject may do; exit 1 when the repository has no such subject.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (checked, now, as_of) = args.at.validated(&args.repo)?;
    let model = &checked.model;
    let subject = subject(&args.subject, Some(model))?;
    let desired = compile(
        model,
        &CompileContext {
            cluster: &args.cluster,
            now,
            revision: None,
        },
    )?;
    let answer = can(
        model,
        &desired,
        others(&args.sources, &args.cluster, as_of.is_some())?,
        &subject,
        now,
    )?;
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

/// SUBJECT as written: `user/NAME`, `client/NAME`, or a bare NAME that `model` has as only one of them (without a
/// model, a bare name is refused).
pub(super) fn subject(
    text: &str,
    model: Option<&tollgate::validate::model::AccessModel>,
) -> anyhow::Result<Subject> {
    if text.is_empty() {
        anyhow::bail!("SUBJECT is empty: expected `user/NAME`, `client/NAME` or a name");
    }
    Ok(match text.split_once('/') {
        Some(("user" | "client", "")) => anyhow::bail!(
            "SUBJECT `{}` has no name: expected `user/NAME` or `client/NAME`",
            shown(text)
        ),
        Some(("user", name)) => Subject::User(name.to_owned()),
        Some(("client", name)) => Subject::Client(name.to_owned()),
        Some(_) => anyhow::bail!(
            "SUBJECT `{}` is not `user/NAME`, `client/NAME` or a name",
            shown(text)
        ),
        None => match model.map(|m| (m.users.contains_key(text), m.clients.contains_key(text))) {
            None => anyhow::bail!(
                "SUBJECT `{0}`: say `user/{0}` or `client/{0}` (a name may mean either over the history)",
                shown(text)
            ),
            Some((true, true)) => anyhow::bail!(
                "`{0}` is both a user and a client: say `user/{0}` or `client/{0}`",
                shown(text)
            ),
            Some((false, true)) => Subject::Client(text.to_owned()),
            Some(_) => Subject::User(text.to_owned()),
        },
    })
}

/// Who, as which identities; then a table of rules: where, verbs, what, names, through which binding and role,
/// from where; then what the answer could not see.
fn human(answer: &Can) -> String {
    let who = match &answer.who {
        Who::User { name, inactive } => format!(
            "user {}{}",
            shown(name),
            if *inactive {
                " (inactive: only what groups give)"
            } else {
                ""
            }
        ),
        Who::Client { name, .. } => format!("client {}", shown(name)),
    };
    let mut out = format!("{who}\n");
    if !answer.in_repository {
        out.push_str(
            "  not in the repository any more: what tollgate's bindings still in the cluster give it, until an apply \
             prunes them (its groups are not known)\n",
        );
    }
    for identity in &answer.identities {
        out.push_str(&format!(
            "  {} {} (groups: {})\n",
            if identity.acting_as.is_some() {
                "acting as"
            } else {
                "as"
            },
            shown(&identity.username),
            shown(&identity.groups.join(", "))
        ));
    }
    if !answer.clients.is_empty() {
        out.push_str(&format!(
            "  clients, each with rules of its own (`tollgate can client/NAME`): {}\n",
            answer
                .clients
                .iter()
                .map(|c| shown(c).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if answer.rules.is_empty() && answer.complete {
        out.push_str("no rules: it may do nothing\n");
    } else if answer.rules.is_empty() {
        out.push_str(
            "no rules found in what could be read (the answer is incomplete: see below)\n",
        );
    } else {
        let rows: Vec<[String; 6]> = answer.rules.iter().map(row).collect();
        out.push_str(&table(
            ["WHERE", "VERBS", "ON", "NAMES", "VIA", "FROM"],
            &rows,
        ));
    }
    out.push_str(&limits(
        &answer.unknown_roles,
        answer.cluster_bindings_included,
        answer.drift.as_ref(),
    ));
    out
}

/// What a rule covers: resources with their groups (`pods`, `deployments.apps`, `*.*`), or URL paths.
pub(super) fn on(rule: &PolicyRule) -> String {
    if let Some(urls) = rule.non_resource_urls.as_ref().filter(|u| !u.is_empty()) {
        return urls.join(", ");
    }
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    let mut on = Vec::new();
    for resource in rule.resources.as_deref().unwrap_or_default() {
        for group in groups {
            on.push(match (resource.split_once('/'), group.as_str()) {
                (_, "") => resource.clone(),
                (Some((base, sub)), group) => format!("{base}.{group}/{sub}"),
                (None, group) => format!("{resource}.{group}"),
            });
        }
    }
    on.join(", ")
}

fn row(held: &HeldRule) -> [String; 6] {
    let names = held.rule.resource_names.as_deref().unwrap_or_default();
    [
        match (&held.namespace, &held.acting_as) {
            (Some(namespace), None) => shown(namespace).into_owned(),
            (None, None) => "everywhere".to_owned(),
            (Some(namespace), Some(owner)) => format!("{} (as {})", shown(namespace), shown(owner)),
            (None, Some(owner)) => format!("everywhere (as {})", shown(owner)),
        },
        shown(&held.rule.verbs.join(", ")).into_owned(),
        shown(&on(&held.rule)).into_owned(),
        if names.is_empty() {
            "-".to_owned()
        } else {
            shown(&names.join(", ")).into_owned()
        },
        format!("{} -> {}", held.binding.as_binding(), held.role.as_role()),
        if held.outside_repository {
            "the cluster".to_owned()
        } else {
            shown(&held.sources.join(", ")).into_owned()
        },
    ]
}
