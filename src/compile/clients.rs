//! Clients' identities: one ServiceAccount per active client of the cluster, in the clients namespace. Its tokens
//! come from the TokenRequest API (see [`crate::credentials`]); no token Secret is ever created.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;

use super::ObjectSink;
use crate::objects::{CLIENT_LABEL, DELETION_GUARD_ANNOTATION, ObjectKey, ObjectKind};
use crate::validate::model::AccessModel;

pub(super) fn compile_clients(model: &AccessModel, out: &mut ObjectSink) {
    let ctx = out.ctx;
    let namespace = model.settings.clients_namespace.as_str();
    out.namespace(namespace, &[&model.settings.origin]);
    // The deletion guard of this revision, so that the next plan can hold a commit that lowers it to these limits.
    let guard = serde_json::to_string(&model.settings.deletion_guard).expect("a guard serializes");
    out.annotate(
        &ObjectKey::cluster_scoped(ObjectKind::Namespace, namespace),
        DELETION_GUARD_ANNOTATION,
        guard,
    );
    for client in model.clients.values() {
        if !model.client_is_live(client, ctx.cluster, ctx.now) {
            continue;
        }
        let mut metadata = out.metadata(&client.name, Some(namespace), [&client.origin]);
        metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(CLIENT_LABEL.to_owned(), client.name.clone());
        let service_account = ServiceAccount {
            metadata,
            // Client tokens come from the TokenRequest API; no legacy token Secret is ever mounted or created.
            automount_service_account_token: Some(false),
            ..ServiceAccount::default()
        };
        out.insert(
            ObjectKey::namespaced(ObjectKind::ServiceAccount, namespace, &client.name),
            service_account,
        );
    }
}
