//! The IP range of each VPN client, carved out of the cluster's client pool. Pure: the allocations already made
//! (as stored by the controller) and the clients that want one go in; the new allocations come out.
//!
//! Rules: an allocation is stable (a client keeps its range as long as it exists and the range still fits the
//! pool), never handed to two clients, released when the client goes, and new clients get the lowest free ranges
//! in name order, so the result does not depend on the order of the input.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use crate::validate::model::ClientPool;

/// What [`allocate`] decided: a range for every wanted client the pool has room for, and those it has none for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    /// Client name -> its range.
    pub assigned: BTreeMap<String, IpNet>,
    /// Clients that want a range but find the pool full, in name order.
    pub exhausted: Vec<String>,
}

/// Allocates a range of `pool.per_client_prefix` to every client in `wanted`, keeping the ranges of `existing`.
pub fn allocate(
    pool: ClientPool,
    existing: &BTreeMap<String, IpNet>,
    wanted: &BTreeSet<String>,
) -> Allocation {
    let mut allocation = Allocation::default();
    let mut taken: BTreeSet<IpNet> = BTreeSet::new();
    for (client, range) in existing {
        let fits = range.prefix_len() == pool.per_client_prefix && pool.cidr.contains(range);
        if wanted.contains(client) && fits && taken.insert(*range) {
            allocation.assigned.insert(client.clone(), *range);
        }
    }
    let mut free = pool
        .cidr
        .subnets(pool.per_client_prefix)
        .into_iter()
        .flatten()
        .filter(|range| !taken.contains(range));
    for client in wanted {
        if allocation.assigned.contains_key(client) {
            continue;
        }
        match free.next() {
            Some(range) => {
                allocation.assigned.insert(client.clone(), range);
            }
            None => allocation.exhausted.push(client.clone()),
        }
    }
    allocation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(cidr: &str, prefix: u8) -> ClientPool {
        ClientPool {
            cidr: cidr.parse().expect("cidr"),
            per_client_prefix: prefix,
        }
    }

    fn names(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn new_clients_get_the_lowest_free_ranges_in_name_order() {
        let got = allocate(
            pool("10.90.0.0/24", 30),
            &BTreeMap::new(),
            &names(&["b", "a"]),
        );
        assert_eq!(got.assigned["a"].to_string(), "10.90.0.0/30");
        assert_eq!(got.assigned["b"].to_string(), "10.90.0.4/30");
        assert!(got.exhausted.is_empty());
    }

    #[test]
    fn allocations_are_stable_and_released_ranges_are_reused() {
        let pool = pool("10.90.0.0/24", 30);
        let first = allocate(pool, &BTreeMap::new(), &names(&["a", "b", "c"]));
        // `a` leaves; `b` and `c` keep their ranges; a newcomer gets `a`'s old one.
        let second = allocate(pool, &first.assigned, &names(&["b", "c", "zed"]));
        assert_eq!(second.assigned["b"], first.assigned["b"]);
        assert_eq!(second.assigned["c"], first.assigned["c"]);
        assert_eq!(second.assigned["zed"], first.assigned["a"]);
        assert!(!second.assigned.contains_key("a"));
    }

    #[test]
    fn ranges_are_unique_under_many_clients_and_exhaustion_is_per_client() {
        let pool = pool("10.90.0.0/24", 30);
        let wanted: BTreeSet<String> = (0..70).map(|i| format!("c{i:03}")).collect();
        let got = allocate(pool, &BTreeMap::new(), &wanted);
        let unique: BTreeSet<&IpNet> = got.assigned.values().collect();
        assert_eq!(got.assigned.len(), 64, "a /24 holds 64 /30s");
        assert_eq!(unique.len(), 64);
        assert_eq!(
            got.exhausted,
            (64..70).map(|i| format!("c{i:03}")).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_stored_range_that_no_longer_fits_the_pool_is_replaced() {
        let existing = BTreeMap::from([
            ("a".to_owned(), "10.80.0.0/30".parse().expect("net")),
            ("b".to_owned(), "10.90.0.0/29".parse().expect("net")),
        ]);
        let got = allocate(pool("10.90.0.0/24", 30), &existing, &names(&["a", "b"]));
        assert_eq!(got.assigned["a"].to_string(), "10.90.0.0/30");
        assert_eq!(got.assigned["b"].to_string(), "10.90.0.4/30");
    }
}
