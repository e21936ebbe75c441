import SimulatorCore
import Testing

@Suite("open-loop load")
struct OpenLoopLoadTests {
    @Test func sendsTheScheduledNumberOfNewPaymentsEachWithItsOwnKey() async {
        let server = FakePaymentServer()
        let result = await OpenLoopLoad.run(
            targets: ["http://fake"], rate: 200, duration: .milliseconds(500), users: 7, runID: "ol", transport: server
        )
        #expect(result.requests == 100)
        #expect(result.statusCounts == ["200": 100])
        #expect(Set(server.keysSeen).count == 100, "every request a new idempotency key")
        #expect(result.latency.max >= result.latency.p50)
        #expect(result.json.hasPrefix(#"{"requests":100,"#))
    }

    @Test func everyAnswerIsCountedByStatus() async {
        let server = FakePaymentServer(.init(forcedStatus: 503))
        let result = await OpenLoopLoad.run(
            targets: ["http://fake"], rate: 100, duration: .milliseconds(200), users: 1, runID: "ol", transport: server
        )
        #expect(result.statusCounts == ["503": 20])
    }

    @Test func percentilesAreNearestRank() {
        let percentiles = LatencyPercentiles((1...100).map(Double.init))
        #expect(percentiles.p50 == 50)
        #expect(percentiles.p90 == 90)
        #expect(percentiles.p99 == 99)
        #expect(percentiles.max == 100)
        #expect(LatencyPercentiles([]).max == 0)
    }
}
