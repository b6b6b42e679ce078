//! The controller's Prometheus metrics, in the text format `/metrics` serves. One registry, one struct that the
//! loop updates; names carry the `tollgate_` prefix and units as Prometheus' naming rules ask.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The label set of `tollgate_reconciles_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `success`, `failed`, `invalid` or `refused`.
    pub result: String,
}

/// The label set of `tollgate_objects_applied_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    /// `created`, `updated`, `replaced`, `deleted` or `failed`.
    pub action: String,
}

/// The label set of `tollgate_applied_revision_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevisionLabel {
    /// The full Git commit id.
    pub revision: String,
}

/// Every metric the controller exports, registered under the `tollgate_` prefix; the loop updates them and
/// `/metrics` encodes them.
pub struct Metrics {
    registry: Registry,
    /// Access reconciles by result: `success`, `failed`, `invalid`, `refused`.
    pub reconciles: Family<ResultLabel, Counter>,
    /// Seconds per reconcile, fetch to publish (`tollgate_reconcile_duration_seconds`, buckets 0.05 s to 102.4 s).
    pub reconcile_duration: Histogram,
    /// Objects written by action (`created`, `updated`, `replaced`, `deleted`, ...).
    pub objects: Family<ActionLabel, Counter>,
    /// 1 for the revision last applied successfully.
    pub applied_revision: Family<RevisionLabel, Gauge>,
    /// Unix time (seconds) of the last successful reconcile, taken when its poll began
    /// (`tollgate_last_success_timestamp_seconds`).
    pub last_success: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Failed polls or fetches of the Git remote (`tollgate_git_poll_errors_total`).
    pub git_poll_errors: Counter,
    /// ServiceAccount tokens issued for clients by the TokenRequest API (`tollgate_tokens_issued_total`).
    pub tokens_issued: Counter,
    /// Client files written or removed in pushed commits (`tollgate_artifacts_published_total`).
    pub artifacts_published: Counter,
    /// 1 while this replica holds the lease.
    pub leader: Gauge,
    /// Webhook requests by result: `push`, `ignored`, `unauthorized`, `bad_request`
    /// (`tollgate_webhook_requests_total`).
    pub webhook_requests: Family<ResultLabel, Counter>,
    /// Commits refused because their signature does not verify against the last applied revision's signers
    /// (`tollgate_unverified_commits_total`).
    pub unverified_commits: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tollgate");
        let metrics = Metrics {
            reconciles: Family::default(),
            reconcile_duration: Histogram::new(exponential_buckets(0.05, 2.0, 12)),
            objects: Family::default(),
            applied_revision: Family::default(),
            last_success: Gauge::default(),
            git_poll_errors: Counter::default(),
            tokens_issued: Counter::default(),
            artifacts_published: Counter::default(),
            leader: Gauge::default(),
            webhook_requests: Family::default(),
            unverified_commits: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "reconciles",
            "Access reconciles by result",
            metrics.reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of access reconciles, from fetch to publish",
            metrics.reconcile_duration.clone(),
        );
        registry.register(
            "objects_applied",
            "Objects written to the cluster, by action",
            metrics.objects.clone(),
        );
        registry.register(
            "applied_revision_info",
            "The Git revision last applied successfully",
            metrics.applied_revision.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "When the last reconcile succeeded (Unix time)",
            metrics.last_success.clone(),
        );
        registry.register(
            "git_poll_errors",
            "Failed polls or fetches of the Git remote",
            metrics.git_poll_errors.clone(),
        );
        registry.register(
            "tokens_issued",
            "ServiceAccount tokens issued for clients",
            metrics.tokens_issued.clone(),
        );
        registry.register(
            "artifacts_published",
            "Client files written or removed in pushed commits",
            metrics.artifacts_published.clone(),
        );
        registry.register(
            "webhook_requests",
            "Push webhook requests by result",
            metrics.webhook_requests.clone(),
        );
        registry.register(
            "unverified_commits",
            "Commits refused because their signature does not verify against the last applied revision's signers",
            metrics.unverified_commits.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the lease and reconciles",
            metrics.leader.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// The registry in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }

    /// Counts one webhook request under its `result` label (`push`, `ignored`, `unauthorized`, `bad_request`).
    pub fn count_webhook(&self, result: &str) {
        self.webhook_requests
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
    }

    /// Counts one reconcile under its `result` label (`success`, `failed`, `invalid`, `refused`).
    pub fn count_reconcile(&self, result: &str) {
        self.reconciles
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
    }

    /// Makes `revision` the one series of `tollgate_applied_revision_info`, at 1 (Prometheus' info-metric pattern).
    pub fn set_revision(&self, revision: &str) {
        self.applied_revision.clear();
        self.applied_revision
            .get_or_create(&RevisionLabel {
                revision: revision.to_owned(),
            })
            .set(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_every_metric() {
        let metrics = Metrics::default();
        metrics.count_reconcile("success");
        metrics.set_revision("abc");
        metrics.set_revision("def");
        let text = metrics.encode();
        for name in [
            "tollgate_reconciles_total{result=\"success\"} 1",
            "tollgate_reconcile_duration_seconds_bucket",
            "tollgate_applied_revision_info{revision=\"def\"} 1",
            "tollgate_git_poll_errors_total 0",
            "tollgate_leader 0",
        ] {
            assert!(text.contains(name), "{name} in\n{text}");
        }
        assert!(
            !text.contains("revision=\"abc\""),
            "only the current revision"
        );
    }
}
