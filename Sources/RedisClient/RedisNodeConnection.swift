/// One node as `onEveryNode` hands it to its body: commands sent with it go to that node
/// only, whatever their keys.
public struct RedisNodeConnection: Sendable {
    enum Target: Sendable {
        case standalone(RedisNode)
        case master(ClusterRouter, ClusterTopology.Node)
    }

    let client: RedisClient
    let target: Target
    /// `host:port`.
    public let address: String
    /// The slots this master serves in the client's slot map; empty for a single node.
    public let slots: [ClosedRange<Int>]

    /// An error reply is thrown as a `.server` error, as by `RedisClient.send`.
    public func send(_ command: RedisCommand) async throws(RedisClientError) -> RESPValue {
        try await client.send(command, to: target)
    }
}

/// What one node's part of `onEveryNode` came to.
public struct RedisNodeOutcome<Value: Sendable>: Sendable {
    /// `host:port`.
    public let address: String
    /// The slots this master serves in the client's slot map; empty for a single node.
    public let slots: [ClosedRange<Int>]
    public let result: Result<Value, RedisClientError>

    public init(address: String, slots: [ClosedRange<Int>], result: Result<Value, RedisClientError>) {
        self.address = address
        self.slots = slots
        self.result = result
    }
}
