//! Arguments that several commands share (the repository, the cluster connection, the Git remote), each defined
//! once with its help and its parsing, so that every command spells a flag the same way.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use jiff::Timestamp;

use tollgate::cluster::{Cluster, ConnectOptions, RateLimit};
use tollgate::git::{Author, GitAuth, GitRemote, default_cache};

/// Where the access repository is on disk, and the time to evaluate it at.
#[derive(clap::Args)]
pub struct RepoArgs {
    /// The access repository's config root.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests).
    #[arg(long, value_name = "TIMESTAMP")]
    pub now: Option<Timestamp>,
}

impl RepoArgs {
    /// `--now`, or the clock: the one place a command reads the time it evaluates expiries at.
    pub fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }
}

/// How to reach the cluster, as kubectl does, and how fast to talk to it.
#[derive(clap::Args, Clone)]
pub struct KubeArgs {
    /// The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod's service account.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context. Default: its current context.
    #[arg(long)]
    pub context: Option<String>,
    /// Client-side rate limit: API requests per second.
    #[arg(long, default_value = "200")]
    pub qps: NonZeroU32,
    /// Client-side rate limit: requests allowed at once above `--qps` before pacing starts.
    #[arg(long, default_value = "400")]
    pub burst: NonZeroU32,
    /// Objects per page when reading the live state: fewer requests with larger pages, less memory with
    /// smaller ones.
    #[arg(long, default_value_t = NonZeroU32::new(tollgate::cluster::DEFAULT_LIST_PAGE).expect("not zero"))]
    pub list_page_size: NonZeroU32,
}

impl KubeArgs {
    /// Connects as kubectl would with the same flags.
    pub async fn connect(&self) -> anyhow::Result<Cluster> {
        Ok(Cluster::connect(&ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            rate_limit: RateLimit {
                qps: self.qps,
                burst: self.burst,
            },
            list_page: self.list_page_size,
        })
        .await?)
    }
}

/// Where the access repository lives in Git, and how to write back to it.
#[derive(clap::Args)]
pub struct GitArgs {
    /// Read the configuration from this remote's branch head instead of --repo (fetched with gix into a local
    /// bare cache; no working tree). HTTP(S), SSH, git:// and file URLs.
    #[arg(long = "git", value_name = "URL")]
    pub git: Option<String>,
    /// The branch to read (and to push client files to).
    #[arg(long, default_value = "main", requires = "git")]
    pub branch: String,
    /// The bare cache repository. Default: a folder per URL and branch under ~/.cache/tollgate/git.
    #[arg(long, value_name = "DIR", requires = "git")]
    pub git_cache: Option<PathBuf>,
    /// HTTP(S): a file holding the token to authenticate with (read when Git asks, never logged).
    #[arg(
        long,
        value_name = "FILE",
        requires = "git",
        conflicts_with = "git_ssh_key"
    )]
    pub git_token_file: Option<PathBuf>,
    /// HTTP(S): the username sent with --git-token-file.
    #[arg(long, default_value = "x-access-token", requires = "git_token_file")]
    pub git_username: String,
    /// SSH: the private key file to authenticate with.
    #[arg(long, value_name = "FILE", requires = "git")]
    pub git_ssh_key: Option<PathBuf>,
    /// SSH: the server's host keys (`known_hosts` format), checked strictly. Default: ssh's own known hosts.
    #[arg(long, value_name = "FILE", requires = "git_ssh_key")]
    pub git_known_hosts: Option<PathBuf>,
    /// The author and committer of published client files, as `Name <email>`.
    #[arg(long, default_value = "tollgate <tollgate@localhost>", value_parser = parse_author)]
    pub author: String,
}

impl GitArgs {
    /// The remote named by `--git`, with its cache and credentials; `None` without `--git`.
    pub fn remote(&self) -> Option<GitRemote> {
        let url = self.git.clone()?;
        let auth = match (&self.git_token_file, &self.git_ssh_key) {
            (Some(path), _) => GitAuth::TokenFile {
                username: self.git_username.clone(),
                path: absolute(path),
            },
            (None, Some(path)) => GitAuth::SshKey {
                path: absolute(path),
                known_hosts: self.git_known_hosts.as_deref().map(absolute),
            },
            (None, None) => GitAuth::None,
        };
        Some(GitRemote {
            cache: self
                .git_cache
                .clone()
                .unwrap_or_else(|| default_cache(&url, &self.branch)),
            url,
            branch: self.branch.clone(),
            auth,
        })
    }

    /// `--author` as Git's name and email.
    pub fn author(&self) -> Author {
        let (name, email) = self
            .author
            .split_once(" <")
            .expect("parse_author checked the form");
        Author {
            name: name.to_owned(),
            email: email.trim_end_matches('>').to_owned(),
        }
    }
}

/// Colour on a terminal, as most command-line tools decide it (`NO_COLOR` turns it off).
#[derive(Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour standard output.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal as _;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// A duration as jiff reads it (`5s`, `1m`, `1h30m`), never negative.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let duration: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("expected a duration such as `5s` or `1m`: {e}"))?;
    std::time::Duration::try_from(duration).map_err(|_| "a duration must not be negative".into())
}

/// `Name <email>`, as Git writes an identity.
fn parse_author(text: &str) -> Result<String, String> {
    match text.split_once(" <") {
        Some((name, email)) if !name.is_empty() && email.ends_with('>') && email.len() > 1 => {
            Ok(text.to_owned())
        }
        _ => Err("expected `Name <email>`".into()),
    }
}

/// Paths handed to `git` subprocesses must not depend on their working directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_as_jiff_spans_and_never_negative() {
        assert_eq!(parse_duration("5s"), Ok(std::time::Duration::from_secs(5)));
        assert_eq!(
            parse_duration("1m30s"),
            Ok(std::time::Duration::from_secs(90))
        );
        assert!(parse_duration("five").unwrap_err().contains("`5s`"));
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
    }

    #[test]
    fn an_author_is_name_and_email() {
        assert!(parse_author("tollgate <tollgate@localhost>").is_ok());
        for wrong in ["tollgate", "<a@b>", "tollgate <", "tollgate a@b>"] {
            assert_eq!(
                parse_author(wrong),
                Err("expected `Name <email>`".into()),
                "{wrong}"
            );
        }
    }
}
