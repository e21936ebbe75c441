import PaymentCore
@testable import SimulatorCore
import Testing

/// What clients do after a 503 outcome-unknown, and what the verification then checks:
/// an amount change on the same key must be refused (422), a client that gives up is
/// settled by the server's reconciler (the fake's runs after a number of ledger reads,
/// not after a time), charges at the processor only and payments left unknown fail the
/// run. One client, one copy, as in ProcessorVerificationTests: p<n> is charged in
/// order, the processor's charges are `ch_1`, `ch_2`, ….
@Suite("after an outcome-unknown: amount changes, clients that give up, the reconcile wait")
struct AfterUnknownTests {
    private func small(_ payments: Int, _ configure: (inout SimulatorSettings) -> Void = { _ in }) -> SimulatorSettings {
        .smallThreeWayRun(payments) { settings in
            settings.reconcilePollInterval = .milliseconds(1)
            configure(&settings)
        }
    }

    private func run(_ settings: SimulatorSettings, _ server: FakePaymentServer) async -> (RunResult, Report) {
        let result = await Simulator(settings: settings, transport: server).run()
        let verification = await Verification.verify(result, ledgerTarget: "http://fake", processorURL: settings.processorURL, transport: server)
        return (result, Report(run: result, settings: settings, verification: verification))
    }

    private func keys(_ count: Int) -> Set<String> { Set((0..<count).map { "t-p\($0)" }) }

    // MARK: - --change-amount-after-unknown-rate

    @Test func anAmountChangeAfterAnUnknownIsRefusedThenThePaymentGoesOn() async throws {
        let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(4)))
        let (_, report) = await run(small(4) { $0.changeAmountAfterUnknownRate = 1 }, server)
        #expect(report.amountChangedAfterUnknown == 4 && report.amountChangeRefused == 4)
        #expect(report.confirmed == 4 && report.unconfirmed == 0)
        #expect(report.verification.exactlyOnce, "\(report.verification.problems)")
        #expect(report.verification.amountChangeNotRefused == 0)
        // Each key: its amount (unknown), one unit more (422), its amount again (200).
        #expect(server.amountsSeen.map(\.amountMinor) == [500, 501, 500, 500, 501, 500, 500, 501, 500, 500, 501, 500])
        #expect(server.amountsSeen.map(\.key) == ["t-p0", "t-p0", "t-p0", "t-p1", "t-p1", "t-p1", "t-p2", "t-p2", "t-p2", "t-p3", "t-p3", "t-p3"])
        #expect(report.statusCounts == ["200": 4, "422": 4, "503": 4])
        #expect(report.retries == 8, "the amount change and the retry after it")
        #expect(report.attemptsHistogram == [2: 4], "the amount change is not an attempt of the copy")
        #expect(report.rejected == 0, "the 422 ends the amount change, not the payment")
        #expect(report.json.contains(#""outcome_unknown":4,"amount_changed_after_unknown":4,"amount_change_refused":4,"abandoned_after_unknown":0,"processor_failed_after_unknown":0"#), "\(report.json)")
        #expect(report.text.contains(#"after unknown               4 amount changed (4 refused with 422), 0 abandoned, 0 answered 500 "nothing was charged""#), "\(report.text)")
        #expect(report.exitCode(maxUnconfirmed: 0) == 0)
    }

    @Test(arguments: [500, 200])
    func anAmountChangeAfterAnUnknownThatIsNotRefusedFailsTheRun(status: Int) async throws {
        let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(2), changedAmountAfterUnknownStatus: status))
        let (result, report) = await run(small(2) { $0.changeAmountAfterUnknownRate = 1 }, server)
        #expect(report.amountChangedAfterUnknown == 2 && report.amountChangeRefused == 0)
        #expect(report.confirmed == 2, "then the original amount went through")
        #expect(report.verification.amountChangeNotRefused == 2)
        #expect(report.verification.problems == [
            "user t-u0 key t-p0: after an outcome-unknown, the same key with another amount (5.01 USD (501 minor units) instead of "
                + "5.00 USD (500 minor units)) was answered \(status), not 422 idempotency-key-reused",
            "user t-u0 key t-p1: after an outcome-unknown, the same key with another amount (5.01 EUR (501 minor units) instead of "
                + "5.00 EUR (500 minor units)) was answered \(status), not 422 idempotency-key-reused",
        ])
        #expect(!report.verification.exactlyOnce)
        #expect(report.text.contains("verification                FAILED: 0 double charged, 0 lost, 2 amount changes not refused"), "\(report.text)")
        #expect(report.json.contains(#""amount_change_not_refused":2"#))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
        // Without the ledger check (--no-verify) the run still fails.
        let unverified = Report(run: result, settings: small(2), verification: .skipped(unconfirmed: 0))
        #expect(unverified.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func anAmountChangeThatOnlyEverMeetsInFlightAnswersFailsTheRun() async throws {
        // 409 says nothing about the amount: the change is sent again, up to
        // --max-attempts times, and never refused.
        let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(1), changedAmountAfterUnknownStatus: 409))
        let (result, report) = await run(small(1) {
            $0.changeAmountAfterUnknownRate = 1
            $0.maxAttempts = 3
        }, server)
        #expect(server.amountsSeen.map(\.amountMinor) == [500, 501, 501, 501, 500])
        #expect(result.afterUnknown[0].amountChange == AmountChangeProbe(amountMinor: 501, answer: "409", conclusive: false, sends: 3))
        #expect(report.amountChangedAfterUnknown == 1 && report.amountChangeRefused == 0 && report.confirmed == 1)
        #expect(report.verification.problems == ["user t-u0 key t-p0: after an outcome-unknown, the same key with another amount (5.01 USD (501 minor units) "
            + "instead of 5.00 USD (500 minor units)) got no answer about the amount in 3 sends (last: 409), not 422 idempotency-key-reused"])
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    // MARK: - --abandon-after-unknown-rate and --reconcile-wait-seconds

    @Test func anAbandonedPaymentIsSettledByTheReconcilerAndChecked() async throws {
        let processor = FakeProcessor()
        let server = FakePaymentServer(.init(processor: processor, outcomeUnknownKeys: keys(4), reconcileAfterLedgerReads: 2))
        let (_, report) = await run(small(4) {
            $0.abandonAfterUnknownRate = 1
            $0.reconcileWait = .seconds(60)
        }, server)
        let checked = try #require(report.verification.processor)
        let reconcile = try #require(report.verification.reconcile)
        #expect(report.abandonedAfterUnknown == 4)
        #expect(report.confirmed == 0 && report.unconfirmed == 0 && report.verification.unconfirmed == 0 && report.verification.lost == 0)
        #expect(report.attemptsTotal == 4 && report.retries == 0, "no retry after the outcome-unknown")
        // Poll 1 reads the ledger before the reconciler ran (4 charged at the processor
        // only), poll 2 after: agreement, then the verification reads it once more.
        #expect(reconcile.polls == 2 && reconcile.agreed && reconcile.processorOnly == 0 && reconcile.unknownLeft == 0)
        #expect(server.ledgerReads == 3)
        #expect(report.verification.exactlyOnce, "\(report.verification.problems) \(checked.problems)")
        #expect(checked.charges == 4 && checked.processorOnly == 0 && checked.doubleCharged == 0)
        #expect(report.verification.unknownLeft == 0)
        #expect(report.text.contains("logical payments            4 (confirmed 0, unconfirmed 0, rejected 0, abandoned after unknown 4)"), "\(report.text)")
        #expect(report.text.contains("reconcile wait              agreed after "))
        #expect(report.text.contains("(2 polls): nothing charged at the processor only, nothing unknown"))
        #expect(report.json.contains(#""polls":2,"agreed":true,"processor_only":0,"unknown_left":0}"#), "\(report.json)")
        #expect(report.exitCode(maxUnconfirmed: 0) == 0, "giving up is not unconfirmed")
    }

    @Test func anAbandonedPaymentChargedAtTheProcessorOnlyFailsTheRun() async throws {
        // No reconciler and no wait: the processor charged, our ledger never recorded it.
        let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(2)))
        let (_, report) = await run(small(2) { $0.abandonAfterUnknownRate = 1 }, server)
        let checked = try #require(report.verification.processor)
        #expect(report.abandonedAfterUnknown == 2 && report.unconfirmed == 0)
        #expect(report.verification.ledgerExactlyOnce, "our ledger alone has nothing wrong: nothing charged there")
        #expect(checked.processorOnly == 2 && checked.processorOnlyUnconfirmed == 2)
        #expect(checked.problems == [
            "user t-u0 key t-p0 payment_id pay_1: abandoned after an outcome-unknown, charged once (ch_1) at the processor but not in our ledger "
                + "(processor only: the reconciler did not record it)",
            "user t-u0 key t-p1 payment_id pay_2: abandoned after an outcome-unknown, charged once (ch_2) at the processor but not in our ledger "
                + "(processor only: the reconciler did not record it)",
        ])
        #expect(report.text.contains("processor                   FAILED: 0 double charged, 0 unexpected, 0 ledger without processor charge, 2 processor only"))
        #expect(report.json.contains(#""ledger_without_processor_charge":0,"processor_only":2,"processor_only_unconfirmed":2"#))
        // Unknown left without a wait: counted, shown, not a failure by itself.
        #expect(report.verification.unknownLeft == 2 && !report.verification.unknownLeftIsProblem)
        #expect(report.text.contains("unknown left                2 payments still unknown in our ledgers"))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func theReconcileWaitEndsAtItsLimitAndProcessorOnlyChargesStillFail() async throws {
        let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(2)))
        let (_, report) = await run(small(2) {
            $0.abandonAfterUnknownRate = 1
            $0.reconcileWait = .milliseconds(20)
        }, server)
        let reconcile = try #require(report.verification.reconcile)
        let checked = try #require(report.verification.processor)
        #expect(!reconcile.agreed && reconcile.polls >= 1 && reconcile.processorOnly == 2 && reconcile.unknownLeft == 2)
        #expect(checked.processorOnly == 2)
        #expect(report.verification.unknownLeft == 2 && report.verification.unknownLeftIsProblem)
        #expect(report.text.contains("reconcile wait              NOT agreed after "))
        #expect(report.text.contains("2 charged at the processor only, 2 unknown left"))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func unknownPaymentsLeftAfterTheReconcileWaitFailTheRun() async throws {
        // Unknown before the processor was asked: nothing charged anywhere, so the three
        // sides agree on money, but the ledger still lists the payments as unknown.
        let behaviour = FakePaymentServer.Behaviour(processor: FakeProcessor(), outcomeUnknownKeys: keys(2), unknownBeforeCharging: true)
        let (_, waited) = await run(small(2) {
            $0.abandonAfterUnknownRate = 1
            $0.reconcileWait = .milliseconds(20)
        }, FakePaymentServer(behaviour))
        let checked = try #require(waited.verification.processor)
        #expect(checked.passed && checked.charges == 0 && checked.processorOnly == 0)
        #expect(waited.verification.unknownLeft == 2 && waited.verification.unknownLeftIsProblem)
        #expect(waited.verification.problems == [
            "user t-u0 key t-p0 payment_id pay_1: still unknown in our ledger (since_ms 1767225600000) after waiting up to 20 ms for the reconciler",
            "user t-u0 key t-p1 payment_id pay_2: still unknown in our ledger (since_ms 1767225600000) after waiting up to 20 ms for the reconciler",
        ])
        #expect(waited.text.contains("verification                FAILED: 0 double charged, 0 lost, 2 unknown left"), "\(waited.text)")
        #expect(waited.json.contains(#""unknown_left":2"#))
        #expect(waited.exitCode(maxUnconfirmed: 0) == 1)

        // Without a wait the same run passes: abandoned is neither lost nor unconfirmed,
        // and what is still unknown is shown, not judged.
        let (_, unwaited) = await run(small(2) { $0.abandonAfterUnknownRate = 1 }, FakePaymentServer(behaviour))
        #expect(unwaited.verification.exactlyOnce && unwaited.verification.unknownLeft == 2 && unwaited.verification.reconcile == nil)
        #expect(unwaited.exitCode(maxUnconfirmed: 0) == 0)
    }

    @Test func theReconcileWaitWithoutAProcessorWaitsForTheUnknownToClear() async throws {
        let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(3), reconcileAfterLedgerReads: 3))
        let (_, report) = await run(small(3) {
            $0.abandonAfterUnknownRate = 1
            $0.reconcileWait = .seconds(60)
            $0.processorURL = nil
        }, server)
        let reconcile = try #require(report.verification.reconcile)
        #expect(reconcile.polls == 3 && reconcile.agreed)
        #expect(report.verification.exactlyOnce && report.verification.unknownLeft == 0)
    }

    // MARK: - 500 "nothing was charged" after an unknown

    @Test func aNothingChargedAnswerAfterAnUnknownIsReported() async throws {
        let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(3), processorFailedAfterUnknown: true))
        let (_, report) = await run(small(3), server)
        #expect(report.processorFailedAfterUnknown == 3)
        #expect(report.confirmed == 3 && report.statusCounts == ["200": 3, "500": 3, "503": 3])
        #expect(report.json.contains(#""processor_failed_after_unknown":3"#))
        #expect(report.text.contains(#"after unknown               0 amount changed (0 refused with 422), 0 abandoned, 3 answered 500 "nothing was charged""#))
        // A 500 with no earlier unknown is not counted.
        let (_, plain) = await run(small(3), FakePaymentServer(.init(failEvery: 2, processor: FakeProcessor())))
        #expect(plain.statusCounts["500", default: 0] > 0 && plain.processorFailedAfterUnknown == 0)
    }

    // MARK: - determinism, usage, parsing

    @Test func whichPaymentsChangeOrGiveUpComesFromTheSeedAndTheIndex() async {
        func picks(_ seed: UInt64, change: Double, abandon: Double) -> [AfterUnknownPlan] {
            var settings = SimulatorSettings(targets: [])
            settings.seed = seed
            settings.changeAmountAfterUnknownRate = change
            settings.abandonAfterUnknownRate = abandon
            return (0..<1_000).map { AfterUnknownPlan.draw(index: $0, settings: settings) }
        }
        let a = picks(7, change: 0.3, abandon: 0.2)
        #expect(a == picks(7, change: 0.3, abandon: 0.2), "same seed, same payments")
        #expect(a != picks(8, change: 0.3, abandon: 0.2), "another seed, other payments")
        #expect((250...350).contains(a.filter(\.changesAmount).count) && (150...250).contains(a.filter(\.abandons).count))
        #expect(picks(7, change: 1, abandon: 0.2).map(\.abandons) == a.map(\.abandons), "one rate does not move the other's picks")
        #expect(picks(7, change: 0, abandon: 0).allSatisfy { !$0.changesAmount && !$0.abandons })
        #expect(picks(7, change: 1, abandon: 1).allSatisfy { $0.changesAmount && $0.abandons })

        // Whichever client takes a payment: four clients, the same payments give up.
        func abandoned() async -> [String] {
            let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(40)))
            let (result, _) = await run(small(40) {
                $0.clients = 4
                $0.abandonAfterUnknownRate = 0.5
                $0.seed = 3
            }, server)
            return zip(result.plan, result.outcomes).filter { $0.1 == .abandoned }.map(\.0.idempotencyKey)
        }
        let first = await abandoned()
        #expect(!first.isEmpty && first.count < 40)
        #expect(await abandoned() == first)
    }

    @Test func theNewOptionsComeFromTheEnvironmentToo() {
        let arguments = EnvironmentArguments.merge(["--target", "http://a"], environment: [
            "SIM_CHANGE_AMOUNT_AFTER_UNKNOWN_RATE": "0.2", "SIM_ABANDON_AFTER_UNKNOWN_RATE": "0.1", "SIM_RECONCILE_WAIT_SECONDS": "20",
        ])
        #expect(arguments == ["--target", "http://a", "--abandon-after-unknown-rate", "0.1", "--change-amount-after-unknown-rate", "0.2",
                              "--reconcile-wait-seconds", "20"])
    }

    @Test func retryAfterIsClampedSoAnAbsurdOneCannotHangTheClient() {
        #expect(AsyncHTTPClientTransport.retryAfter("1") == .seconds(1))
        #expect(AsyncHTTPClientTransport.retryAfter("9223372036854775807") == .seconds(86_400))
        #expect(AsyncHTTPClientTransport.retryAfter("99999999999999999999999999") == .seconds(86_400))
        #expect(AsyncHTTPClientTransport.retryAfter("-1") == nil)
        #expect(AsyncHTTPClientTransport.retryAfter("") == nil)
        #expect(AsyncHTTPClientTransport.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == nil)
    }

    @Test func theLedgersUnknownListIsReadStrictly() async {
        struct OneLedger: SimulatorTransport {
            let body: String
            func post(_ url: String, body: [UInt8], timeout: Duration) async throws(TransportError) -> HTTPResult { HTTPResult(status: 404) }
            func get(_ url: String, timeout: Duration) async throws(TransportError) -> HTTPResult { HTTPResult(status: 200, body: Array(body.utf8)) }
        }
        let head = #"{"user_id":"u","payments":0,"totals":{},"charges_total":0,"charges":[],"#
        let read = await LedgerReader.read(user: "u", target: "http://a", transport: OneLedger(
            body: head + #""unknown":[{"idempotency_key":"k","payment_id":"pay_1","since":"2026-01-01T00:00:00Z"},{"idempotency_key":"j","since":17},"#
                + #"{"payment_id":"pay_3","idempotency_key":"i","since_ms":1767225600000}]}"#))
        #expect(read?.unknown == [.init(key: "k", paymentID: "pay_1", since: "2026-01-01T00:00:00Z"), .init(key: "j", paymentID: nil, since: "17"),
                                  .init(key: "i", paymentID: "pay_3", since: "since_ms 1767225600000")])
        #expect(await LedgerReader.read(user: "u", target: "http://a", transport: OneLedger(body: head + #""unknown":{}}"#)) == nil)
        #expect(await LedgerReader.read(user: "u", target: "http://a", transport: OneLedger(body: head + #""unknown":[{"payment_id":"pay_1"}]}"#)) == nil)
    }
}
