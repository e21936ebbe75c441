import NIOCore
import Testing

@testable import RedisClient

@Suite("cluster slot map and redirects")
struct ClusterTopologyTests {
    @Test func parsesClusterSlots() throws {
        let node = { (host: String, port: Int64) in RESPValue.array([.bulkString(ByteBuffer(string: host)), .integer(port), .bulkString(ByteBuffer(string: "id"))]) }
        let reply = RESPValue.array([
            .array([.integer(0), .integer(5460), node("10.0.0.1", 7000), node("10.0.0.4", 7003)]),
            .array([.integer(5461), .integer(16383), node("", 7001)]),
        ])
        let topology = try ClusterTopology(clusterSlots: reply, defaultHost: "seed")
        #expect(topology.owner(of: 0) == .init(host: "10.0.0.1", port: 7000))
        #expect(topology.owner(of: 5460) == .init(host: "10.0.0.1", port: 7000))
        #expect(topology.owner(of: 5461) == .init(host: "seed", port: 7001), "an empty host is the address we asked")
        #expect(topology.nodes.count == 2)
    }

    @Test func refusesAMalformedReply() {
        #expect(throws: RedisClientError.self) { try ClusterTopology(clusterSlots: .array([.array([.integer(0)])]), defaultHost: "h") }
        #expect(throws: RedisClientError.self) {
            try ClusterTopology(clusterSlots: .array([.array([.integer(10), .integer(20_000), .array([])])]), defaultHost: "h")
        }
    }

    @Test func movedUpdatesOneSlotAndTheNodeSet() throws {
        var topology = ClusterTopology()
        topology.move(slot: 42, to: .init(host: "b", port: 2))
        #expect(topology.owner(of: 42) == .init(host: "b", port: 2))
        #expect(topology.nodes == [.init(host: "b", port: 2)])
    }

    @Test func slotRunsCoverEverySlotInOrderWithTheirOwners() throws {
        let node = { (port: Int64) in RESPValue.array([.bulkString(ByteBuffer(string: "h")), .integer(port)]) }
        let topology = try ClusterTopology(clusterSlots: .array([
            .array([.integer(0), .integer(99), node(1)]),
            .array([.integer(100), .integer(100), node(2)]),
            .array([.integer(101), .integer(200), node(1)]),
            .array([.integer(300), .integer(16383), node(3)]),
        ]), defaultHost: "seed")
        let runs = topology.slotRuns()
        #expect(runs.map(\.slots) == [0...99, 100...100, 101...200, 201...299, 300...16383])
        #expect(runs.map { $0.owner?.port } == [1, 2, 1, nil, 3], "201-299 are not covered")
        #expect(ClusterTopology().slotRuns().map(\.slots) == [0...16383], "an empty map is one uncovered run")
    }

    @Test func parsesRedirects() {
        #expect(ClusterRedirect(RedisClientError(.server, "MOVED 3999 127.0.0.1:6381")) == .moved(slot: 3999, .init(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirect(RedisClientError(.server, "ASK 3999 ::1:6381")) == .ask(slot: 3999, .init(host: "::1", port: 6381)))
        #expect(ClusterRedirect(RedisClientError(.server, "TRYAGAIN Multiple keys request during rehashing of slot")) == .retryLater)
        #expect(ClusterRedirect(RedisClientError(.server, "CLUSTERDOWN The cluster is down")) == .retryLater)
        #expect(ClusterRedirect(RedisClientError(.server, "ERR unknown command")) == nil)
        #expect(ClusterRedirect(RedisClientError(.timeout, "MOVED 1 a:1")) == nil)
    }
}
