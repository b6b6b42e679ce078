//! `tollgate client new`: scaffold `Client` documents in the repository, written like the rest of it and
//! validated together with it before anything is written.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use tollgate::config::documents::DocumentBody;
use tollgate::config::load;
use tollgate::config::load::RepoFile;
use tollgate::diagnostics::render_text;
use tollgate::files::read_config_files;
use tollgate::pipeline::{PipelineError, check};

use super::args::RepoArgs;

/// `tollgate client new`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate client new bob-laptop --owner bob --cluster staging --repo access-repo
  tollgate client new ci-runner --owner carol --count 3 --no-vpn     # ci-runner-1, ci-runner-2, ci-runner-3

Commit and push the file; once the controller has applied it, `git pull` brings the client file
(<artifactsPath>/<cluster>/<name>.age) that `tollgate client update-kubeconfig` reads.")]
pub struct Args {
    /// The client's name (a DNS-1123 label); with --count, the prefix of the generated names.
    name: String,
    /// A user who owns the client: their keys open its file and their `accessAs: client` grants land on it.
    /// Repeatable.
    #[arg(long = "owner", value_name = "USER", required = true)]
    owners: Vec<String>,
    /// A cluster the client gets credentials for. Repeatable. Default: every cluster of the Settings document.
    #[arg(long = "cluster", value_name = "CLUSTER")]
    clusters: Vec<String>,
    /// Make this many clients, named `<name>-1`, `<name>-2`, ... (skipping names that are taken).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=100))]
    count: Option<u16>,
    /// The namespace of the client's kubeconfig context.
    #[arg(long, value_name = "NAMESPACE")]
    default_namespace: Option<String>,
    /// No WireGuard key and address range (the default when a cluster has no `gateway` and `clientPool`).
    #[arg(long)]
    no_vpn: bool,
    #[command(flatten)]
    repo: RepoArgs,
}

/// Writes the documents if the repository with them is valid; otherwise prints why and writes nothing.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = &args.repo.repo;
    let mut files = read_config_files(root)?;
    let loaded = load(files.iter().map(clone_file).collect::<Vec<_>>());
    let taken: Vec<&str> = loaded
        .documents
        .iter()
        .filter(|d| matches!(d.body, DocumentBody::Client(_)))
        .map(|d| d.name.as_str())
        .collect();
    let names: Vec<String> = match args.count {
        None => vec![args.name.clone()],
        Some(count) => (1..)
            .map(|i| format!("{}-{i}", args.name))
            .filter(|name| !taken.contains(&name.as_str()))
            .take(usize::from(count))
            .collect(),
    };
    if let Some(name) = names.iter().find(|name| taken.contains(&name.as_str())) {
        anyhow::bail!(
            "there is already a client `{name}` in {}: pick another name",
            root.display()
        );
    }
    let clusters = if args.clusters.is_empty() {
        settings_clusters(&loaded)
    } else {
        unique(&args.clusters)
    };
    let owners = unique(&args.owners);
    // A VPN client needs a gateway and a client pool in each of its clusters.
    let without_vpn: Vec<&String> = clusters
        .iter()
        .filter(|cluster| !has_vpn(&loaded, cluster))
        .collect();
    let vpn = !args.no_vpn && without_vpn.is_empty();
    if !args.no_vpn && !without_vpn.is_empty() {
        eprintln!(
            "note: `vpn: false`: cluster {} has no WireGuard gateway and client pool",
            without_vpn
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let folder = client_folder(&loaded);
    let schema = schema_comment(&loaded, &folder);
    let mut written = Vec::new();
    for name in &names {
        let path = format!("{folder}{name}.yaml");
        anyhow::ensure!(
            !root.join(&path).exists(),
            "{} exists already: pick another name",
            root.join(&path).display()
        );
        let text = document(name, &owners, &args, &clusters, vpn, schema.as_deref());
        files.push(RepoFile::from((path.clone(), text.clone().into_bytes())));
        written.push((path, text));
    }

    // The repository with the new documents must be valid, or nothing is written.
    let with_new = load(files);
    match check(&with_new, args.repo.now()) {
        Ok(_) => {}
        Err(PipelineError::Invalid(diagnostics)) => {
            eprint!("{}", render_text(&diagnostics));
            anyhow::bail!(
                "the repository would not be valid with the new client{}: nothing was written",
                if names.len() == 1 { "" } else { "s" }
            );
        }
        Err(other) => return Err(other.into()),
    }
    for (path, text) in &written {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        write_new(&target, text)?;
        println!("wrote {}", target.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `items` without repeats, in their order.
fn unique(items: &[String]) -> Vec<String> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(item) {
            seen.push(item.clone());
        }
    }
    seen
}

fn clone_file(file: &RepoFile) -> RepoFile {
    RepoFile {
        path: file.path.clone(),
        content: file.content.clone(),
    }
}

/// A `Client` document as the repository's own are written.
fn document(
    name: &str,
    owners: &[String],
    args: &Args,
    clusters: &[String],
    vpn: bool,
    schema: Option<&str>,
) -> String {
    let mut text = String::new();
    if let Some(line) = schema {
        text.push_str(line);
        text.push('\n');
    }
    let list = |items: &[String]| {
        items
            .iter()
            .map(|item| quoted(item))
            .collect::<Vec<_>>()
            .join(", ")
    };
    text.push_str(&format!(
        "apiVersion: tollgate.dev/v1alpha1\nkind: Client\nmetadata:\n  name: {}\nspec:\n  owners: [{}]\n  clusters: [{}]\n",
        quoted(name),
        list(owners),
        list(clusters)
    ));
    if let Some(namespace) = &args.default_namespace {
        text.push_str(&format!("  defaultNamespace: {}\n", quoted(namespace)));
    }
    if !vpn {
        text.push_str("  vpn: false\n");
    }
    text
}

/// A scalar as the YAML writer writes it (quoted when it could be read as anything but that string).
fn quoted(text: &str) -> String {
    tollgate::render::yaml::to_yaml(&serde_json::Value::String(text.to_owned()))
        .trim_end()
        .to_owned()
}

/// Whether the Settings cluster `name` has a WireGuard gateway and a client pool (unknown clusters are left to
/// validation to name).
fn has_vpn(loaded: &tollgate::config::LoadedRepository, name: &str) -> bool {
    loaded
        .documents
        .iter()
        .find_map(|d| match &d.body {
            DocumentBody::Settings(spec) => spec.clusters.iter().find(|c| c.name == name),
            _ => None,
        })
        .is_none_or(|cluster| cluster.gateway.is_some() && cluster.client_pool.is_some())
}

/// The clusters of the Settings document, in its order.
fn settings_clusters(loaded: &tollgate::config::LoadedRepository) -> Vec<String> {
    loaded
        .documents
        .iter()
        .find_map(|d| match &d.body {
            DocumentBody::Settings(spec) => {
                Some(spec.clusters.iter().map(|c| c.name.clone()).collect())
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// The folder most `Client` documents are in (`clients/` when there are none), with a trailing `/`.
fn client_folder(loaded: &tollgate::config::LoadedRepository) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for document in &loaded.documents {
        if matches!(document.body, DocumentBody::Client(_)) {
            let path = &loaded.sources.file(document.at.file).path;
            let folder = path.rsplit_once('/').map_or("", |(folder, _)| folder);
            *counts.entry(folder.to_owned()).or_default() += 1;
        }
    }
    match counts.into_iter().max_by_key(|(_, count)| *count) {
        Some((folder, _)) if folder.is_empty() => String::new(),
        Some((folder, _)) => format!("{folder}/"),
        None => "clients/".to_owned(),
    }
}

/// The `# yaml-language-server: $schema=...` line the Client files in `folder` start with, if they share one (its
/// relative path holds for a new file beside them).
fn schema_comment(loaded: &tollgate::config::LoadedRepository, folder: &str) -> Option<String> {
    let mut lines = loaded
        .documents
        .iter()
        .filter(|d| matches!(d.body, DocumentBody::Client(_)))
        .filter(|d| {
            let path = &loaded.sources.file(d.at.file).path;
            path.strip_prefix(folder)
                .is_some_and(|rest| !rest.contains('/'))
        })
        .map(|d| {
            loaded
                .sources
                .file(d.at.file)
                .text
                .lines()
                .next()
                .filter(|line| line.starts_with("# yaml-language-server:"))
                .map(str::to_owned)
        });
    let first = lines.next()??;
    lines
        .all(|line| line.as_deref() == Some(&first))
        .then_some(first)
}

/// Creates a file that must not exist yet.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
