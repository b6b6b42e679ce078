//! Clients' identities: one ServiceAccount per active client of the cluster, in the clients namespace. Its tokens
//! come from the TokenRequest API (see [`crate::credentials`]); no token Secret is ever created.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;

use super::ObjectSink;
use crate::objects::{CLIENT_LABEL, ObjectKey, ObjectKind};
use crate::validate::model::AccessModel;

pub(super) fn compile_clients(model: &AccessModel, out: &mut ObjectSink) {
    let ctx = out.ctx;
    let namespace = model.settings.clients_namespace.as_str();
    out.namespace(namespace, &[&model.settings.origin]);
    for client in model.clients.values() {
        if !client.is_active(ctx.now) || !client.clusters.contains(ctx.cluster) {
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
