import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PaymentAPI
import PaymentCore
import PaymentProcessors
import ProcessorDouble
import RedisClient
import RedisTestSupport
import StrictJSON
import Testing

/// The processor's deadline, measured on the wall clock: answered at our deadline, not
/// the processor's. In the timing tier, alone: with every suite beside it on two busy
/// cores, a 200 ms deadline met a connection that took longer than that to open.
@Suite("the HTTP processor's deadline", .redisServer())
struct HTTPProcessorDeadlineTimingTests {
    @Test func aProcessorSlowerThanTheDeadlineIsOutcomeUnknown() async throws {
        let settings = ProcessorDoubleSettings(slowRate: 1, slow: .seconds(5))
        try await HTTPProcessorTests().withProcessor(settings, { $0.processor?.timeout = .milliseconds(200) }) { client, double in
            let user = uniqueUser("http-slow")
            let start = ContinuousClock.now
            let first = try await client.pay(payBody(user: user))
            expectProblem(first, .serviceUnavailable, type: "outcome-unknown")
            // Answered at our deadline, not the processor's 5 s (room for a busy machine).
            #expect(ContinuousClock.now - start < .seconds(3))
            let retry = try await client.pay(payBody(user: user))
            #expect(retry.status == .ok, "\(retry.text)")
            #expect(double.snapshot().charges.count == 1)
        }
    }
}
