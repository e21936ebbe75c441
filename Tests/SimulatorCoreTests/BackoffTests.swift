@testable import SimulatorCore
import Testing

@Suite("back-off, jitter, retry budget, plan, environment")
struct BackoffTests {
    @Test func noJitterDoublesAndCaps() {
        var random = SeededRandom(seed: 1)
        let backoff = Backoff(base: .milliseconds(50), maximum: .milliseconds(300), jitter: .none)
        let delays = (1...5).map { backoff.delay(retry: $0, previous: .zero, using: &random) }
        #expect(delays == [.milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(300), .milliseconds(300)])
    }

    @Test(arguments: Backoff.Jitter.allCases)
    func jitteredDelaysStayInTheirBounds(jitter: Backoff.Jitter) {
        var random = SeededRandom(seed: 42)
        let backoff = Backoff(base: .milliseconds(50), maximum: .seconds(2), jitter: jitter)
        var previous = Duration.milliseconds(50)
        for retry in 1...12 {
            let delay = backoff.delay(retry: retry, previous: previous, using: &random).totalMilliseconds
            let exponential = min(2_000, 50 * Double(1 << (retry - 1)))
            switch jitter {
            case .none: #expect(delay == exponential)
            case .full: #expect(delay >= 0 && delay <= exponential)
            case .equal: #expect(delay >= exponential / 2 && delay <= exponential)
            case .decorrelated: #expect(delay >= 50 && delay <= min(2_000, max(50, previous.totalMilliseconds * 3)))
            }
            previous = .milliseconds(delay)
        }
    }

    @Test func fullJitterSpreads() {
        var random = SeededRandom(seed: 7)
        let backoff = Backoff(base: .milliseconds(100), maximum: .seconds(10), jitter: .full)
        let delays = Set((0..<50).map { _ in Int(backoff.delay(retry: 4, previous: .zero, using: &random).totalMilliseconds) })
        #expect(delays.count > 40, "fifty clients should not retry at the same moment")
    }

    @Test func retryBudgetStopsBelowHalfAndRecovers() {
        let budget = RetryBudget(maxTokens: 10, tokenRatio: 1)
        for _ in 0..<5 { budget.recordFailure() }
        #expect(!budget.allowsRetry)
        budget.recordSuccess()
        #expect(budget.allowsRetry)
        for _ in 0..<100 { budget.recordSuccess() }
        #expect(budget.currentTokens == 10)
    }

    @Test func planIsDeterministicAndPrefixedByTheRunID() {
        let first = PaymentPlan.make(runID: "r1", payments: 50, users: 5, amountRangeMinor: 100...200, seed: 9)
        let second = PaymentPlan.make(runID: "r1", payments: 50, users: 5, amountRangeMinor: 100...200, seed: 9)
        #expect(first == second)
        #expect(first.allSatisfy { $0.userID.hasPrefix("r1-u") && $0.idempotencyKey.hasPrefix("r1-p") && (100...200).contains($0.amountMinor) })
        #expect(Set(first.map(\.idempotencyKey)).count == 50)
        #expect(LogicalPayment(index: 0, userID: "u", idempotencyKey: "k", amountMinor: 1_005).body
            == #"{"user_id":"u","amount":10.05,"currency":"USD","idempotency_key":"k"}"#)
    }

    @Test func environmentBecomesArgumentsAndFlagsWin() {
        let merged = EnvironmentArguments.merge(
            ["--clients", "7"],
            environment: ["SIM_CLIENTS": "99", "SIM_MAX_ATTEMPTS": "3", "SIM_TARGET": "http://a,http://b", "SIM_VERIFY": "false", "PATH": "/bin"]
        )
        #expect(merged == ["--clients", "7", "--max-attempts", "3", "--target", "http://a", "--target", "http://b", "--no-verify"])
    }

    @Test func aFlagWithoutANoFormIsSentOnlyWhenTrue() {
        #expect(EnvironmentArguments.merge([], environment: ["SIM_IGNORE_IDEMPOTENCY_KEYS": "true"])
            == ["--ignore-idempotency-keys"])
        #expect(EnvironmentArguments.merge([], environment: ["SIM_IGNORE_IDEMPOTENCY_KEYS": "false"]).isEmpty)
    }

    @Test func onlyTheRunningSubcommandsOptionsComeFromTheEnvironment() {
        let accepted = EnvironmentArguments.longOptions(inHelp: "  --target <target>   Base URL.\n  --clients <n>\n  --verify/--no-verify  Check.\n")
        #expect(accepted == ["--target", "--clients", "--verify", "--no-verify"])
        let merged = EnvironmentArguments.merge(
            [], environment: ["SIM_CLIENTS": "5", "SIM_PAYMENTS": "9", "SIM_MODE": "healthz", "SIM_VERIFY": "no"], accepted: accepted
        )
        #expect(merged == ["--clients", "5", "--no-verify"])
    }
}
