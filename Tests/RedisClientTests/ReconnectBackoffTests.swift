import NIOCore
import Testing

@testable import RedisClient

@Suite("reconnect back-off")
struct ReconnectBackoffTests {
    let backoff = ReconnectBackoff(base: .milliseconds(25), maximum: .seconds(1))

    @Test func doublesFromTheBaseAndStaysWithinHalfToFull() {
        #expect(backoff.delay(afterFailures: 1, random: 0) == .nanoseconds(12_500_000))
        #expect(backoff.delay(afterFailures: 1, random: 1) == .milliseconds(25))
        #expect(backoff.delay(afterFailures: 3, random: 1) == .milliseconds(100))
        #expect(backoff.delay(afterFailures: 3, random: 0.5) == .milliseconds(75))
    }

    @Test func isCappedAtTheMaximumForever() {
        #expect(backoff.delay(afterFailures: 7, random: 1) == .seconds(1))
        #expect(backoff.delay(afterFailures: 10_000, random: 1) == .seconds(1))
        #expect(backoff.delay(afterFailures: 10_000, random: 0) == .milliseconds(500))
    }
}
