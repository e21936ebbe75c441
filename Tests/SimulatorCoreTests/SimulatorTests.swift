import SimulatorCore
import Testing

@Suite("simulator against an in-memory server")
struct SimulatorTests {
    private func settings(_ configure: (inout SimulatorSettings) -> Void = { _ in }) -> SimulatorSettings {
        var settings = SimulatorSettings(targets: ["http://fake"])
        settings.clients = 8
        settings.payments = 200
        settings.users = 10
        settings.duplicates = 3
        settings.runID = "t"
        settings.backoff = Backoff(base: .milliseconds(1), maximum: .milliseconds(5), jitter: .full)
        configure(&settings)
        return settings
    }

    private func run(_ settings: SimulatorSettings, _ server: FakePaymentServer) async -> Report {
        let simulator = Simulator(settings: settings, transport: server)
        let result = await simulator.run()
        let verification = await Verification.verify(result, ledgerTarget: "http://fake", transport: server)
        return Report(run: result, settings: settings, verification: verification)
    }

    @Test func duplicatesAndRetriesOnAnIdempotentServerAreExactlyOnce() async {
        let server = FakePaymentServer(.init(failEvery: 4))
        let report = await run(settings(), server)
        #expect(report.verification.exactlyOnce, "\(report.verification.problems)")
        #expect(report.confirmed == 200)
        #expect(report.statusCounts["500", default: 0] > 0, "failures were injected")
        #expect(report.retryCauses["500", default: 0] == report.statusCounts["500"], "every 500 was retried")
        #expect(report.replays > 0, "late copies of a confirmed payment are answered as replays")
        #expect(report.retries > 0)
        #expect(report.attemptsTotal == report.statusCounts.values.reduce(0, +))
        #expect(report.exitCode(maxUnconfirmed: 0) == 0)
        // Every copy of a payment kept its key: the server saw only the plan's 200 keys.
        #expect(Set(server.keysSeen).count == 200)
    }

    @Test func aLedgerThatLosesPaymentsFailsVerificationAndNamesIt() async {
        let report = await run(settings(), FakePaymentServer(.init(ledgerCountOffset: -1)))
        #expect(!report.verification.exactlyOnce)
        #expect(report.verification.lost == 10, "one per user")
        #expect(report.verification.problems.first?.contains("lost") == true)
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
        #expect(report.text.contains("FAILED: 0 double charged, 10 lost"))
    }

    @Test func aServerWithoutIdempotencyIsCaughtDoubleCharging() async {
        let report = await run(settings(), FakePaymentServer(.init(idempotent: false)))
        #expect(report.verification.doubleCharged > 0)
        #expect(report.verification.problems.contains { $0.contains("double charged") })
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
        #expect(report.json.contains(#""exactly_once":false"#))
    }

    @Test func nonRetryableStatusesAreNotRetried() async {
        let report = await run(settings { $0.payments = 20 }, FakePaymentServer(.init(forcedStatus: 422)))
        #expect(report.retries == 0)
        #expect(report.rejected == 20)
        #expect(report.statusCounts == ["422": 60])
        #expect(report.exitCode(maxUnconfirmed: 0) == 2, "a run where everything is refused does not pass")
    }

    @Test func retryableStatusesAreRetriedUpToTheLimitThenUnconfirmed() async {
        let report = await run(settings {
            $0.payments = 10
            $0.duplicates = 1
            $0.maxAttempts = 3
            $0.retryBudget = nil
        }, FakePaymentServer(.init(forcedStatus: 503)))
        #expect(report.attemptsTotal == 30)
        #expect(report.unconfirmed == 10)
        #expect(report.unconfirmedReasons == ["attempts exhausted": 10])
        #expect(report.exitCode(maxUnconfirmed: 0) == 2)
        #expect(report.exitCode(maxUnconfirmed: 10) == 0)
    }

    @Test func theRetryBudgetStopsRetriesWhenFailuresDominate() async {
        let report = await run(settings {
            $0.payments = 50
            $0.duplicates = 1
            $0.maxAttempts = 10
            $0.retryBudget = RetryBudgetSettings(maxTokens: 10, tokenRatio: 1)
        }, FakePaymentServer(.init(forcedStatus: 503)))
        // 10 tokens, retries stop at 5: far fewer than 50 × 10 attempts.
        #expect(report.attemptsTotal < 100)
        #expect(report.unconfirmedReasons["retry budget exhausted", default: 0] > 0)
    }

    @Test func retryAfterIsHonoured() async {
        let start = ContinuousClock.now
        let report = await run(settings {
            $0.payments = 1
            $0.duplicates = 1
            $0.maxAttempts = 2
            $0.retryBudget = nil
        }, FakePaymentServer(.init(forcedStatus: 429, retryAfterSeconds: 1)))
        #expect(report.attemptsTotal == 2)
        #expect(ContinuousClock.now - start >= .seconds(1), "the retry waited for Retry-After, not the 1 ms back-off")
    }

    @Test func reportJSONHasTheContractFields() async {
        let json = await run(settings { $0.payments = 5 }, FakePaymentServer()).json
        for field in [#""payments_total":5"#, #""attempts_total":"#, #""status_counts":{"200":15}"#, #""retries":0"#,
                      #""latency_ms":{"p50":"#, #""p90":"#, #""p99":"#, #""max":"#, #""verification":{"performed":true,"exactly_once":true,"double_charged":0,"lost":0,"unconfirmed":0"#,
                      #""timeline":{"bucket_ms":100,"first_attempts":["#] {
            #expect(json.contains(field), "missing \(field) in \(json)")
        }
    }
}
