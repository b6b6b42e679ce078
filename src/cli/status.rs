//! `tollgate status`: what the controller reports (applied revision and when, the last plan, the last published
//! commit, the last error with its diagnostics), and what the WireGuard gateway reports (its live peers with their
//! last handshake and traffic, desired peers missing from the device, its last error).

use std::process::ExitCode;

use tollgate::sessions::gateway::read_status as read_session_gateway_status;
use tollgate::wireguard::gateway::read_status as read_gateway_status;

use super::args::KubeArgs;
use super::runtime;

/// `tollgate status`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate status
  tollgate status --namespace tollgate-system --json | jq .lastError")]
pub struct Args {
    /// The controller's namespace.
    #[arg(long, env = "POD_NAMESPACE", default_value = "tollgate-system")]
    namespace: String,
    /// Settings' clientsNamespace: where the session gateway reports its host key and live sessions.
    #[arg(long, default_value = "tollgate-clients")]
    clients_namespace: String,
    #[command(flatten)]
    kube: KubeArgs,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit 1 while an error stands, so scripts and probes can act on it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let cluster = args.kube.connect().await?;
        let status = tollgate::controller::status::read(&cluster.kube(), &args.namespace).await;
        // The gateway's own report, when a gateway runs: its absence is not an error (not every cluster has one).
        let gateway = read_gateway_status(&cluster.kube(), &args.namespace).await;
        // Likewise the session gateway's: its host key and live sessions.
        let sessions = read_session_gateway_status(&cluster.kube(), &args.clients_namespace).await;
        // Without any report there is nothing to show but the controller's error.
        let status = match (status, &gateway) {
            (Ok(status), _) => Some(status),
            (Err(error), _)
                if matches!(&gateway, Ok(Some(_))) || matches!(&sessions, Ok(Some(_))) =>
            {
                eprintln!("error: {error}");
                None
            }
            (Err(error), _) => return Err(error.into()),
        };
        if args.json {
            let mut json = match &status {
                Some(status) => serde_json::to_value(status)?,
                None => serde_json::json!({}),
            };
            match &gateway {
                Ok(Some(gateway)) => json["gateway"] = serde_json::to_value(gateway)?,
                Ok(None) => {}
                Err(reason) => json["gatewayError"] = reason.clone().into(),
            }
            match &sessions {
                Ok(Some(sessions)) => json["sessionGateway"] = serde_json::to_value(sessions)?,
                Ok(None) => {}
                Err(reason) => json["sessionGatewayError"] = reason.clone().into(),
            }
            println!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            let gap = if let Some(status) = &status {
                print!("{}", status.human());
                "\n"
            } else {
                ""
            };
            match &gateway {
                Ok(Some(gateway)) => print!("{gap}{}", gateway.human(jiff::Timestamp::now())),
                Ok(None) => {}
                Err(reason) => println!("{gap}Gateway: its status cannot be read: {reason}"),
            }
            match &sessions {
                Ok(Some(sessions)) => print!("\n{}", sessions.human(jiff::Timestamp::now())),
                Ok(None) => {}
                Err(reason) => println!("\nSession gateway: its status cannot be read: {reason}"),
            }
        }
        let failing = status.as_ref().is_none_or(|s| s.last_error.is_some())
            || matches!(&gateway, Ok(Some(g)) if g.error.is_some())
            || matches!(&sessions, Ok(Some(s)) if s.error.is_some());
        Ok(ExitCode::from(u8::from(failing)))
    })
}
