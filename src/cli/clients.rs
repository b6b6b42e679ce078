//! `tollgate clients` and `tollgate client inspect`: every client with its owners, recipients and the state of its
//! credentials, from the repository and, when the cluster can be read, the instance's state Secrets. Never a secret:
//! the listing only takes times, ranges and uids from the state (see `tollgate::credentials::listing`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use tollgate::credentials::listing::{
    ClientRow, ListingInput, StateSummary, artifact_paths, client_rows,
};
use tollgate::credentials::read_client_states;
use tollgate::validate::model::AccessModel;

use super::args::{KubeArgs, RepoArgs};
use super::{runtime, validated};

/// How long reading the state Secrets may take before the listing goes on from the repository alone.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(10);

/// How far back the Git history is searched for the commit that last published a file.
const HISTORY_LIMIT: usize = 10_000;

/// `tollgate clients`.
#[derive(clap::Args)]
#[command(
    after_help = "States: pending (not applied yet), issued (token issued, file published), revoked (gone from \
the repository or the cluster; the next reconcile voids its tokens), sunset, waiting for an owner (nobody may read \
its file).

Examples:
  tollgate clients --repo access-repo
  tollgate clients --cluster prod --json | jq '.[] | select(.status == \"pending\")'"
)]
pub struct ListArgs {
    #[command(flatten)]
    common: Common,
    /// Print the clients as JSON.
    #[arg(long)]
    json: bool,
}

/// `tollgate client inspect`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate client inspect bob-laptop --repo access-repo")]
pub struct InspectArgs {
    /// The `Client` document's name.
    name: String,
    #[command(flatten)]
    common: Common,
    /// Print the client as JSON.
    #[arg(long)]
    json: bool,
}

/// What both commands read.
#[derive(clap::Args)]
struct Common {
    #[command(flatten)]
    repo: RepoArgs,
    /// Only this Settings cluster; it is also the cluster the kubeconfig reaches (default: the Settings cluster
    /// whose `apiServer` is the kubeconfig's server).
    #[arg(long)]
    cluster: Option<String>,
    /// Do not read the cluster: show what the repository says.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    kube: KubeArgs,
}

/// Lists every client.
pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let rows = rows(&args.common)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows one client in full.
pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let rows: Vec<ClientRow> = rows(&args.common)?
        .into_iter()
        .filter(|row| row.client == args.name)
        .collect();
    anyhow::ensure!(
        !rows.is_empty(),
        "there is no client `{}`{} in {} (and no credentials of one by that name): `tollgate clients` lists them",
        args.name,
        args.common
            .cluster
            .as_deref()
            .map_or_else(String::new, |c| format!(" in cluster {c}")),
        args.common.repo.repo.display()
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", details(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

fn rows(common: &Common) -> anyhow::Result<Vec<ClientRow>> {
    let (checked, now) = validated(&common.repo, None)?;
    let model = &checked.model;
    if let Some(cluster) = &common.cluster {
        anyhow::ensure!(
            model.settings.clusters.contains_key(cluster),
            "--cluster {cluster}: the Settings document has no such cluster (it has {})",
            model
                .settings
                .clusters
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let files = artifact_files(&common.repo.repo, &model.settings.artifacts_path);
    let paths = artifact_paths(model, &files);
    let commits = match tollgate::git::last_changes(&common.repo.repo, &paths, HISTORY_LIMIT) {
        Ok(found) => found.unwrap_or_default(),
        Err(error) => {
            eprintln!("note: {error}; the publishing commits are not shown");
            BTreeMap::new()
        }
    };
    let states = if common.offline {
        BTreeMap::new()
    } else {
        cluster_states(common, model)
    };
    Ok(client_rows(
        &ListingInput {
            model,
            now,
            files: &files,
            states: &states,
            commits: &commits,
        },
        common.cluster.as_deref(),
    ))
}

/// The state Secrets of the Settings cluster the kubeconfig reaches; empty (with a note) when it cannot be read.
fn cluster_states(
    common: &Common,
    model: &AccessModel,
) -> BTreeMap<String, BTreeMap<String, StateSummary>> {
    let read = || -> anyhow::Result<(String, BTreeMap<String, StateSummary>)> {
        runtime()?.block_on(async {
            let cluster = tokio::time::timeout(CLUSTER_TIMEOUT, common.kube.connect())
                .await
                .map_err(|_| anyhow::anyhow!("no answer within {CLUSTER_TIMEOUT:?}"))??;
            let name = match &common.cluster {
                Some(name) => name.clone(),
                None => model
                    .settings
                    .clusters
                    .values()
                    .find(|c| same_server(&c.api_server, &cluster.server))
                    .map(|c| c.name.clone())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "the kubeconfig's server {} is no Settings cluster's apiServer: pass --cluster to say \
                             which cluster it is",
                            cluster.server
                        )
                    })?,
            };
            let states = tokio::time::timeout(
                CLUSTER_TIMEOUT,
                read_client_states(&cluster, &model.settings.clients_namespace, &name),
            )
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {CLUSTER_TIMEOUT:?}"))??;
            Ok((
                name,
                states
                    .iter()
                    .map(|(client, state)| (client.clone(), StateSummary::from(state)))
                    .collect(),
            ))
        })
    };
    match read() {
        Ok((name, states)) => BTreeMap::from([(name, states)]),
        Err(error) => {
            let error = format!("{error:#}");
            if error.contains("403") || error.contains("forbidden") {
                eprintln!(
                    "note: you may not read the clients' state Secrets in {} (usual for developers): states come from \
                     this checkout alone (--offline skips the attempt)",
                    model.settings.clients_namespace
                );
            } else {
                eprintln!(
                    "note: the cluster's state was not read ({error}); states come from this checkout alone \
                     (--offline skips the attempt)"
                );
            }
            BTreeMap::new()
        }
    }
}

/// Whether two API server URLs name the same server (a trailing `/` aside).
fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The files of the artifacts folder (`<artifactsPath>/<cluster>/<client>.age`), relative to the config root.
fn artifact_files(root: &Path, artifacts_path: &str) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let Ok(clusters) = std::fs::read_dir(root.join(artifacts_path)) else {
        return files;
    };
    for cluster in clusters.flatten() {
        let Ok(entries) = std::fs::read_dir(cluster.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.insert(format!(
                    "{artifacts_path}/{}/{}",
                    cluster.file_name().to_string_lossy(),
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    files
}

/// The listing as an aligned table, one line per client and cluster.
fn table(rows: &[ClientRow]) -> String {
    let header = [
        "CLIENT",
        "CLUSTER",
        "STATE",
        "OWNERS",
        "RECIPIENTS",
        "TOKEN EXPIRES",
        "RANGE",
        "PUBLISHED",
    ];
    let mut lines: Vec<[String; 8]> = vec![header.map(str::to_owned)];
    for row in rows {
        lines.push([
            row.client.clone(),
            row.cluster.clone(),
            row.status.to_string(),
            or_dash(row.owners.join(",")),
            row.recipients.len().to_string(),
            or_dash(
                row.state
                    .as_ref()
                    .map(|s| s.token_expires.to_string())
                    .unwrap_or_default(),
            ),
            or_dash(
                row.state
                    .as_ref()
                    .and_then(|s| s.address.clone())
                    .unwrap_or_default(),
            ),
            or_dash(
                row.published
                    .as_ref()
                    .map(|c| c.commit.chars().take(12).collect())
                    .unwrap_or_default(),
            ),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

/// One client in full, a block per cluster.
fn details(rows: &[ClientRow]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&format!("{} in cluster {}\n", row.client, row.cluster));
        let mut line = |label: &str, value: String| {
            out.push_str(&format!("  {label:<17}{value}\n"));
        };
        line("state:", format!("{} — {}", row.status, row.reason));
        line("owners:", or_dash(row.owners.join(", ")));
        if row.recipients.is_empty() {
            line("recipients:", "-".to_owned());
        }
        for (i, recipient) in row.recipients.iter().enumerate() {
            line(if i == 0 { "recipients:" } else { "" }, recipient.clone());
        }
        if let Some(identity) = &row.acts_as {
            let groups = if identity.groups.is_empty() {
                String::new()
            } else {
                format!(" in groups {}", identity.groups.join(", "))
            };
            line(
                "acts as:",
                format!("{}{groups} (accessAs: user grants)", identity.user),
            );
        }
        line("vpn:", if row.vpn { "yes" } else { "no" }.to_owned());
        if let Some(namespace) = &row.default_namespace {
            line("namespace:", namespace.clone());
        }
        if let Some(sunset) = row.sunset {
            line("sunset:", sunset.to_string());
        }
        match &row.state {
            Some(state) => {
                line("token issued:", state.token_issued.to_string());
                line("token expires:", state.token_expires.to_string());
                line(
                    "ServiceAccount:",
                    format!("uid {}", state.service_account_uid),
                );
                if let Some(address) = &state.address {
                    line("range:", address.clone());
                }
            }
            None if !row.from_cluster => {
                line(
                    "cluster state:",
                    "not read (token times, range: -)".to_owned(),
                );
            }
            None => {}
        }
        line(
            "file:",
            format!(
                "{}{}",
                row.file,
                if row.file_present {
                    ""
                } else {
                    " (not in the repository)"
                }
            ),
        );
        if let Some(commit) = &row.published {
            line(
                "last changed in:",
                format!("{} {} {}", &commit.commit, commit.time, commit.summary),
            );
        }
    }
    out
}
