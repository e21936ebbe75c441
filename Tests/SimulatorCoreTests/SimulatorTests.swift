import PaymentCore
import SimulatorCore
import Synchronization
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

    /// One user, `payments` payments of 500 minor units each (USD, EUR, JPY, KWD in
    /// turn), one copy, one client: p0 is charged first, as `pay_1`.
    private func small(_ payments: Int) -> SimulatorSettings {
        settings {
            $0.clients = 1
            $0.payments = payments
            $0.users = 1
            $0.duplicates = 1
            $0.amountRangeMinor = 500...500
        }
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

    @Test func everyAttemptOfOnePaymentIsInOneTraceAndEachPaymentInItsOwn() async throws {
        let server = FakePaymentServer(.init(failEvery: 2))
        let report = await run(settings(), server)
        #expect(report.retries > 0 && report.replays > 0, "retries and duplicates were sent")
        var traces: [String: Set<String>] = [:]
        var parents: [String] = []
        for (key, traceparent) in server.tracesSeen {
            let parts = traceparent.split(separator: "-")
            try #require(parts.count == 4 && parts[0] == "00" && parts[1].count == 32 && parts[2].count == 16 && parts[3] == "01", "\(traceparent)")
            traces[key, default: []].insert(String(parts[1]))
            parents.append(String(parts[2]))
        }
        #expect(traces.count == 200, "every payment sent a traceparent")
        #expect(traces.values.allSatisfy { $0.count == 1 }, "one trace id per payment, whatever its attempts")
        #expect(Set(traces.values.compactMap(\.first)).count == 200, "no two payments share a trace")
        #expect(Set(parents).count == parents.count, "a parent span id per attempt")
        #expect(server.tracesSeen.count > 200, "some payments were sent more than once")
    }

    @Test func thePlanMixesCurrenciesWithAmountsEachAccepts() throws {
        let plan = PaymentPlan.make(runID: "t", payments: 8, users: 2, amountRangeMinor: 99_999_999...100_000_000, seed: 3)
        #expect(plan.map(\.currency.code) == ["USD", "EUR", "JPY", "KWD", "USD", "EUR", "JPY", "KWD"])
        for payment in plan {
            let amount = try #require(payment.body.split(separator: #""amount":"#).last?.split(separator: ",").first)
            #expect(try Money.minorUnits(fromJSONNumber: String(amount), currency: payment.currency) == payment.amountMinor, "\(payment.body)")
        }
        #expect(plan[2].amountMinor == 1_000_000, "100,000,000 yen is over the limit: lowered to 1,000,000")
        #expect(plan[2].body.contains(#""amount":1000000,"currency":"JPY""#))
        #expect(plan[3].body.contains(#""currency":"KWD""#) && plan[3].body.contains(".")
            && plan[3].body.split(separator: ".")[1].prefix { $0 != "," }.count == 3)
    }

    @Test func aDoubleChargeAndALostPaymentOfOneUserAreBothReported() async {
        // p0 is charged twice and p1 not at all: the count is still 2 and the totals add
        // up, which is all a check of counts could see.
        let server = FakePaymentServer(.init(editCharges: { _, charges in
            guard charges.count == 2 else { return }
            var again = charges[0]
            again.paymentID += "-again"
            charges = [charges[0], again]
        }))
        let report = await run(small(2), server)
        #expect(report.confirmed == 2)
        #expect(report.verification.doubleCharged == 1)
        #expect(report.verification.lost == 1)
        #expect(report.verification.problems.contains { $0.contains("t-p0") }, "\(report.verification.problems)")
        #expect(report.verification.problems.contains { $0.contains("t-p1") }, "\(report.verification.problems)")
        #expect(report.verification.problems == [
            "user t-u0 key t-p0: charged 2 times (pay_1, pay_1-again) (1 double charged)",
            "user t-u0 key t-p1: confirmed with 200 but not charged (lost)",
        ])
        #expect(report.text.contains("FAILED: 1 double charged, 1 lost"))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aLedgerThatLosesPaymentsFailsVerificationAndNamesThem() async {
        let report = await run(settings(), FakePaymentServer(.init(editCharges: { _, charges in charges.removeFirst() })))
        #expect(!report.verification.exactlyOnce)
        #expect(report.verification.lost == 10, "one per user")
        #expect(report.verification.problems.first?.contains("lost") == true)
        #expect(report.verification.problems.allSatisfy { $0.contains(" key t-p") && $0.hasSuffix("(lost)") }, "\(report.verification.problems)")
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
        #expect(report.text.contains("FAILED: 0 double charged, 10 lost"))
    }

    @Test func aServerWithoutIdempotencyIsCaughtDoubleCharging() async {
        let report = await run(settings(), FakePaymentServer(.init(idempotent: false)))
        #expect(report.verification.doubleCharged > 0)
        #expect(report.verification.lost == 0)
        #expect(report.verification.problems.contains { $0.contains("double charged") })
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
        #expect(report.json.contains(#""exactly_once":false"#))
    }

    @Test func aChargeOfTheWrongAmountIsReported() async {
        let server = FakePaymentServer(.init(editCharges: { _, charges in charges[0].amountMinor += 1 }))
        let report = await run(small(2), server)
        #expect(report.verification.wrongAmountOrCurrency == 1)
        #expect(report.verification.doubleCharged == 0 && report.verification.lost == 0)
        #expect(report.verification.problems == ["user t-u0 key t-p0: pay_1 charged 5.01 USD (501 minor units), the run sent 5.00 USD (500 minor units)"])
        #expect(report.text.contains("FAILED: 0 double charged, 0 lost, 1 wrong amount or currency"))
        #expect(report.json.contains(#""wrong_amount_or_currency":1"#))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aChargeInTheWrongCurrencyIsReported() async {
        // p2 is JPY: 500 minor units charged as KWD instead, 0.500 KWD.
        let server = FakePaymentServer(.init(editCharges: { _, charges in charges[2].currency = "KWD" }))
        let report = await run(small(3), server)
        #expect(report.verification.wrongAmountOrCurrency == 1)
        #expect(report.verification.problems == ["user t-u0 key t-p2: pay_3 charged 0.500 KWD (500 minor units), the run sent 500 JPY (500 minor units)"])
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aChargeWithAKeyTheRunNeverSentIsReported() async {
        let server = FakePaymentServer(.init(editCharges: { _, charges in
            charges.append(.init(paymentID: "pay_x", key: "t-intruder", amountMinor: 500, currency: "USD"))
        }))
        let report = await run(small(2), server)
        #expect(report.verification.unexpectedCharges == 1)
        #expect(report.verification.problems == ["user t-u0 key t-intruder: charged once (pay_x) but the run never sent this key"])
        #expect(report.text.contains("FAILED: 0 double charged, 0 lost, 1 unexpected charges"))
        #expect(report.json.contains(#""unexpected_charges":1"#))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aTotalThatDoesNotAddUpIsReportedInEveryCurrency() async {
        // p2 is the JPY payment; GBP has no charge at all but a total.
        let server = FakePaymentServer(.init(totalsOffset: ["JPY": 7, "GBP": 1]))
        let report = await run(small(4), server)
        #expect(!report.verification.exactlyOnce)
        #expect(report.verification.problems == [
            "user t-u0: ledger total 0.01 GBP (1 minor units), its charges sum to 0.00 GBP (0 minor units)",
            "user t-u0: ledger total 507 JPY (507 minor units), its charges sum to 500 JPY (500 minor units)",
        ])
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aLedgerCountThatDisagreesWithItsChargesIsReported() async {
        let report = await run(small(2), FakePaymentServer(.init(countOffset: 1)))
        #expect(report.verification.problems == ["user t-u0: the ledger counts 3 payments but lists 2 charges"])
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aLedgerThatListsFewerChargesThanItCountsIsReported() async {
        let server = FakePaymentServer(.init(chargesTotalOffset: 1))
        let report = await run(small(2), server)
        #expect(report.verification.problems == ["user t-u0: charges_total is 3 but 2 charges were listed"])
        #expect(server.ledgerReads == 2, "a second page was asked for the missing charge, and came back empty")
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aRejectedPaymentThatWasChargedIsReported() async {
        let report = await run(small(2), FakePaymentServer(.init(statusAfterCharging: 422)))
        #expect(report.rejected == 2)
        #expect(report.verification.unexpectedCharges == 2)
        #expect(report.verification.problems == [
            "user t-u0 key t-p0: rejected with 422 but charged once (pay_1)",
            "user t-u0 key t-p1: rejected with 422 but charged once (pay_2)",
        ])
        #expect(report.exitCode(maxUnconfirmed: 10) == 1)
    }

    @Test func aPaymentNeverSentThatWasChargedIsReported() async {
        // No time at all: nothing is sent. The ledger still shows a charge for p0.
        let server = FakePaymentServer(.init(editCharges: { _, charges in
            charges.append(.init(paymentID: "pay_x", key: "t-p0", amountMinor: 500, currency: "USD"))
        }))
        let report = await run(settings {
            $0.payments = 2
            $0.users = 1
            $0.durationLimit = .zero
        }, server)
        #expect(server.keysSeen.isEmpty)
        #expect(report.verification.unexpectedCharges == 1)
        #expect(report.verification.problems == ["user t-u0 key t-p0: never sent but charged once (pay_x)"])
    }

    @Test func anUnconfirmedPaymentChargedOnceIsNotAProblem() async {
        // Charged, then the 200 was lost: nothing to retry with, so it stays unconfirmed.
        var settings = small(4)
        settings.maxAttempts = 1
        let report = await run(settings, FakePaymentServer(.init(statusAfterCharging: 503)))
        #expect(report.unconfirmed == 4)
        #expect(report.verification.exactlyOnce, "\(report.verification.problems)")
        #expect(report.exitCode(maxUnconfirmed: 0) == 2, "unconfirmed, not wrong")
    }

    @Test func anUnconfirmedPaymentChargedTwiceIsADoubleCharge() async {
        var settings = small(4)
        settings.maxAttempts = 2
        settings.retryBudget = nil
        let report = await run(settings, FakePaymentServer(.init(idempotent: false, statusAfterCharging: 503)))
        #expect(report.unconfirmed == 4)
        #expect(report.verification.doubleCharged == 4)
        #expect(report.verification.problems.first == "user t-u0 key t-p0: charged 2 times (pay_1, pay_2) (1 double charged)")
    }

    @Test func theLedgerIsReadPageByPage() async {
        let server = FakePaymentServer(.init(pageSize: 3))
        let report = await run(settings { $0.payments = 40; $0.users = 2 }, server)
        #expect(report.verification.exactlyOnce, "\(report.verification.problems)")
        #expect(server.ledgerReads >= 14, "about 20 charges per user, 3 a page")
    }

    @Test func aChargeLandingBetweenTwoPagesRestartsTheRead() async {
        // The first read hides the last charge, as if it completed while the reader was
        // between pages: the pages disagree on charges_total, so the reader starts over.
        let reads = Mutex(0)
        let server = FakePaymentServer(.init(pageSize: 2, editCharges: { _, charges in
            if reads.withLock({ $0 += 1; return $0 }) == 1 { charges.removeLast() }
        }))
        let report = await run(small(4), server)
        #expect(report.verification.exactlyOnce, "\(report.verification.problems)")
        #expect(server.ledgerReads == 2 + 2, "two pages, twice")
    }

    @Test func aLedgerWithoutChargesReadsAsEverythingLost() async {
        // The shape of e2e/fixtures/fake-broken-ledger.py and of servers older than `charges`.
        let report = await run(settings { $0.payments = 20; $0.users = 3 }, FakePaymentServer(.init(omitCharges: true)))
        #expect(report.verification.lost == 20)
        #expect(report.text.contains("FAILED: 0 double charged, 20 lost"))
    }

    @Test func problemsAreBounded() async {
        let report = await run(settings { $0.payments = 1_100; $0.users = 1; $0.duplicates = 1; $0.clients = 50 },
                               FakePaymentServer(.init(omitCharges: true)))
        #expect(report.verification.lost == 1_100)
        #expect(report.verification.problems.count == Verification.maximumProblems + 1)
        #expect(report.verification.problems.last == "… 105 more problems", "1,100 lost keys, 4 totals and the count line")
    }

    @Test func nonRetryableStatusesAreNotRetried() async {
        let report = await run(settings { $0.payments = 20 }, FakePaymentServer(.init(forcedStatus: 422)))
        #expect(report.retries == 0)
        #expect(report.rejected == 20)
        #expect(report.statusCounts == ["422": 60])
        #expect(report.verification.exactlyOnce, "rejected and not charged is right")
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
                      #""latency_ms":{"p50":"#, #""p90":"#, #""p99":"#, #""max":"#,
                      #""verification":{"performed":true,"exactly_once":true,"double_charged":0,"lost":0,"unconfirmed":0,"#
                          + #""wrong_amount_or_currency":0,"unexpected_charges":0,"amount_change_not_refused":0,"unknown_left":0,"problems":[]}"#,
                      #""timeline":{"bucket_ms":100,"first_attempts":["#] {
            #expect(json.contains(field), "missing \(field) in \(json)")
        }
    }
}
