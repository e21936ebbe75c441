import RedisClient
import Testing

@testable import PaymentRedis

/// The readiness definition, case by case, without a cluster: the integration tests
/// (ClusterReadinessTests) show it holds against real nodes.
@Suite("readiness verdict")
struct RedisVerdictTests {
    private func outcome(_ port: Int, _ slots: [ClosedRange<Int>], failing: String? = nil) -> RedisNodeOutcome<Void> {
        RedisNodeOutcome(
            address: "10.0.0.1:\(port)", slots: slots,
            result: failing.map { .failure(RedisClientError(.connection, $0)) } ?? .success(())
        )
    }

    @Test func aSingleNodeThatFailsIsNotReady() {
        let verdict = RedisVerdict.judge(outcomes: [outcome(6379, [], failing: "connection refused")], uncovered: [])
        #expect(verdict.problem == "redis: connection refused")
        #expect(RedisVerdict.judge(outcomes: [outcome(6379, [])], uncovered: []) == RedisVerdict())
    }

    @Test func oneMasterOfThreeDownIsReadyAndNamesItsSlots() {
        let verdict = RedisVerdict.judge(outcomes: [
            outcome(7000, [0...5460]), outcome(7001, [5461...10922], failing: "no reply within 500 ms"), outcome(7002, [10923...16383]),
        ], uncovered: [])
        #expect(verdict.problem == nil)
        #expect(verdict.unavailableMasters == ["10.0.0.1:7001"])
        #expect(verdict.degraded?.contains("1 of 3 masters") == true)
        #expect(verdict.degraded?.contains("10.0.0.1:7001 (slots 5461-10922): no reply within 500 ms") == true, "\(verdict)")
    }

    @Test func noMasterServingIsNotReady() {
        let verdict = RedisVerdict.judge(outcomes: [
            outcome(7000, [0...8191], failing: "refused"), outcome(7001, [8192...16383], failing: "refused"),
        ], uncovered: [])
        #expect(verdict.problem?.hasPrefix("redis cluster: no master serves") == true)
        #expect(RedisVerdict.judge(outcomes: [], uncovered: []).problem != nil)
    }

    @Test func aSlotMapWithHolesIsNotReady() {
        let verdict = RedisVerdict.judge(outcomes: [outcome(7000, [0...99, 200...16383])], uncovered: [100...100, 150...199])
        #expect(verdict.problem == "redis cluster: this pod's slot map has no master for slots 100,150-199; refreshing it")
    }
}
