import Foundation
import RedisClient

/// Where the payment data and the locks live: the data store (one node or a cluster's
/// seeds) and, in Redlock mode, the independent lock nodes. Built from the server's
/// settings by `init(url:…)` and `addLockNodes`, whose errors name the setting at fault;
/// tests set the client configurations directly.
public struct PaymentRedisConfiguration: Sendable {
    public var store: RedisClientConfiguration
    /// `REDLOCK_URLS`: the independent lock nodes of Redlock mode; empty: off.
    public var lockNodes: [RedisClientConfiguration] = []

    public init(store: RedisClientConfiguration) {
        self.store = store
    }

    /// `REDIS_URL` (comma-separated seeds when `cluster`), `REDIS_PASSWORD`,
    /// `REDIS_TIMEOUT_MS` and the PEM files of TLS (`REDIS_TLS_*`; nil: the system's
    /// roots, no client certificate).
    public init(
        url: String, password: String?, cluster: Bool, commandTimeout: Duration,
        caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil
    ) throws(RedisSettingError) {
        do throws(RedisURLError) {
            store = try RedisClientConfiguration(url: url, password: password, cluster: cluster)
        } catch {
            throw RedisSettingError(setting: "REDIS_URL", message: error.message)
        }
        store.commandTimeout = commandTimeout
        store.tls = RedisTLSConfiguration(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile)
    }

    /// The lock nodes of `REDLOCK_URLS`: an odd number, at least 3, all different, with
    /// the store's password and TLS. Each node must answer within `timeout` (the caller
    /// keeps it to a tenth of the lease at most, so a slow node costs a small part of the
    /// lock's validity).
    public mutating func addLockNodes(_ text: String, password: String?, timeout: Duration) throws(RedisSettingError) {
        var nodes: [RedisClientConfiguration] = []
        for (index, part) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            var node: RedisClientConfiguration
            do throws(RedisURLError) {
                node = try RedisClientConfiguration(url: part.trimmingCharacters(in: .whitespaces), password: password)
            } catch {
                // The node's position, never its text: a URL may carry a password.
                throw RedisSettingError(setting: "REDLOCK_URLS", message: "node \(index + 1): \(error.message)")
            }
            node.commandTimeout = timeout
            node.tls = store.tls
            nodes.append(node)
        }
        guard nodes.count >= 3, nodes.count % 2 == 1 else {
            throw RedisSettingError(
                setting: "REDLOCK_URLS", message: "needs an odd number of nodes, at least 3, for a majority; got \(nodes.count)"
            )
        }
        let addresses = nodes.map { "\($0.url.host):\($0.url.port)" }
        guard Set(addresses).count == addresses.count else {
            throw RedisSettingError(setting: "REDLOCK_URLS", message: "names a node twice; the nodes must be independent")
        }
        lockNodes = nodes
    }

    /// The store's deadline per command (`REDIS_TIMEOUT_MS`).
    public var commandTimeout: Duration { store.commandTimeout }

    /// The store's address for logs, the password masked.
    public var storeDescription: String { "\(store.url)" }
}

/// One invalid Redis setting, named by its variable.
public struct RedisSettingError: Error, Hashable, Sendable {
    public let setting: String
    public let message: String
}
