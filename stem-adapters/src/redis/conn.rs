//! Connections to one Redis server or to a Redis Cluster, and the hash slots
//! keys fall in.

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::failed;

/// A connection to Redis: the store's shared, reconnecting one; a plain one
/// for blocking reads; or a Cluster connection, which routes each command to
/// the node that holds its keys and reconnects on its own. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Conn {
    /// The shared connection to one server.
    Manager(ConnectionManager),
    /// A connection of its own to one server (blocking reads).
    Plain(MultiplexedConnection),
    /// A connection to a Redis Cluster.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Manager(_) => "Conn::Manager",
            Self::Plain(_) => "Conn::Plain",
            Self::Cluster(_) => "Conn::Cluster",
        })
    }
}

impl Conn {
    /// Whether this is a Cluster connection.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// The nodes whose keys a scan must visit: on a Cluster, one slot of each
    /// primary that serves slots (from `CLUSTER NODES`), by which a command is
    /// routed to that primary whatever name the client knows it by; on one
    /// server, that server (`None`).
    pub(crate) async fn primaries(&self) -> stem::Result<Vec<Option<u16>>> {
        let Self::Cluster(cluster) = self else { return Ok(vec![None]) };
        let cmd = redis::cmd("CLUSTER").arg("NODES").to_owned();
        let reply = cluster
            .clone()
            .route_command(cmd, RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary))
            .await
            .map_err(|e| failed("listing the Cluster's nodes", e))?;
        let text: String = redis::from_redis_value(reply)
            .map_err(|e| stem::Error::adapter("Redis: CLUSTER NODES did not answer text", e))?;
        Ok(text.lines().filter_map(primary_slot).map(Some).collect())
    }

    /// One `SCAN` step for keys matching `pattern` on the primary of `slot`
    /// (see [`primaries`](Self::primaries)): the next cursor (0 at the end) and the keys
    /// (as bytes: a key need not be UTF-8).
    pub(crate) async fn scan(
        &self,
        slot: Option<u16>,
        cursor: u64,
        pattern: &str,
    ) -> stem::Result<(u64, Vec<Vec<u8>>)> {
        let cmd = redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(1000).to_owned();
        let reply = match (self, slot) {
            (Self::Cluster(cluster), Some(slot)) => {
                let at = SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master));
                cluster.clone().route_command(cmd, RoutingInfo::SingleNode(at)).await
            }
            _ => cmd.query_async(&mut self.clone()).await,
        };
        let reply = reply.map_err(|e| failed("scanning the namespace", e))?;
        redis::from_redis_value(reply).map_err(|e| stem::Error::adapter("Redis: SCAN answered something else", e))
    }
}

/// The first slot a primary serves, from its line of `CLUSTER NODES` (`<id>
/// <address> <flags> <primary> <ping> <pong> <epoch> <link> <slot or range>
/// ...`, a range as `<first>-<last>`, a slot in migration in brackets); `None`
/// for a replica or a primary without slots. A failing primary still counts:
/// scanning it then fails rather than skipping its keys.
fn primary_slot(line: &str) -> Option<u16> {
    let fields: Vec<&str> = line.split(' ').collect();
    if !fields.get(2)?.split(',').any(|flag| flag == "master") {
        return None;
    }
    let range = fields.get(8..)?.iter().find(|field| !field.starts_with('['))?;
    range.split('-').next()?.parse().ok()
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Manager(c) => c.req_packed_command(cmd),
            Self::Plain(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Manager(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Plain(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Manager(c) => c.get_db(),
            Self::Plain(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// The Redis Cluster hash slot of `key`: CRC16 (XMODEM) of its hash tag (the
/// part between the first `{` and the next `}`, when not empty) or of the whole
/// key, modulo 16,384.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter().position(|&b| b == b'}').map(|close| &rest[..close])
        })
        .filter(|tag| !tag.is_empty());
    crc16(tagged.unwrap_or(key)) % 16_384
}

/// `items` grouped by `key`, groups in the order their keys first come, items
/// in their order within each.
pub(crate) fn grouped<K: Eq + std::hash::Hash + Copy, T>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<(K, Vec<T>)> {
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    let mut places: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    for item in items {
        let k = key(&item);
        let place = *places.entry(k).or_insert_with(|| {
            groups.push((k, Vec::new()));
            groups.len() - 1
        });
        groups[place].1.push(item);
    }
    groups
}

/// CRC16 (XMODEM, polynomial 0x1021), as Redis Cluster hashes keys.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::{crc16, slot};

    #[test]
    fn primaries_are_read_from_cluster_nodes() {
        use super::primary_slot;
        let line = "07c37dfeb 127.0.0.1:30004@31004,node-4 master - 0 1426238316232 3 connected 10923-16383";
        assert_eq!(primary_slot(line), Some(10923));
        let mine = "a 10.0.0.2:7000@17000 myself,master - 0 0 1 connected [5->-b] 0-5460";
        assert_eq!(primary_slot(mine), Some(0), "a slot in migration is passed over");
        assert_eq!(primary_slot("b 10.0.0.3:7001@17001 slave a 0 0 1 connected"), None, "a replica");
        assert_eq!(primary_slot("c :0@0 master,noaddr - 0 0 0 disconnected"), None, "no slots");
        let failing = "d 10.0.0.4:7002@17002 master,fail? - 0 0 1 disconnected 5461";
        assert_eq!(primary_slot(failing), Some(5461), "a failing primary is still scanned");
        assert_eq!(primary_slot(""), None);
    }

    #[test]
    fn groups_keep_first_come_order() {
        let groups = super::grouped([("a", 1), ("b", 2), ("a", 3)], |(k, _)| *k);
        assert_eq!(groups, [("a", vec![("a", 1), ("a", 3)]), ("b", vec![("b", 2)])]);
    }

    #[test]
    fn slots_match_redis_cluster() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.0.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"123456789"), 12739);
        assert_eq!(slot(b"stem:ns:{orders}:s0"), slot(b"orders"));
        assert_eq!(slot(b"{}x"), crc16(b"{}x") % 16_384, "an empty tag: the whole key counts");
        assert_eq!(slot(b"a{b"), crc16(b"a{b") % 16_384, "an unclosed tag: the whole key counts");
        assert_eq!(slot(b"x{a}{b}"), slot(b"a"), "the first tag counts");
    }
}
