import PaymentCore
import ProcessorDouble
@testable import SimulatorCore
import Testing

/// Three-way verification (`--processor-url`): the run's answers, our ledger and the
/// processor's `GET /charges`, key by key, against a FakePaymentServer charging through a
/// FakeProcessor. One client, one copy: keys are charged in order, p<n> gets the
/// payment_id `pay_<request number>`, the processor's charges are `ch_1`, `ch_2`, ….
@Suite("three-way verification against a fake processor")
struct ProcessorVerificationTests {
    private func small(_ payments: Int, _ configure: (inout SimulatorSettings) -> Void = { _ in }) -> SimulatorSettings {
        .smallThreeWayRun(payments, configure)
    }

    private func run(_ settings: SimulatorSettings, _ server: FakePaymentServer) async -> Report {
        let result = await Simulator(settings: settings, transport: server).run()
        let verification = await Verification.verify(result, ledgerTarget: "http://fake", processorURL: settings.processorURL, transport: server)
        return Report(run: result, settings: settings, verification: verification)
    }

    private func keys(_ count: Int) -> Set<String> { Set((0..<count).map { "t-p\($0)" }) }

    @Test func whenAllThreeAgreeTheRunIsExactlyOnce() async throws {
        // Duplicates, 500s, an outcome-unknown on every key's first charge and two declines:
        // an idempotent processor still has one charge per confirmed key, as has the ledger.
        let processor = FakeProcessor(.init(declineKeys: ["t-p3", "t-p7"]))
        let server = FakePaymentServer(.init(failEvery: 5, processor: processor, outcomeUnknownKeys: keys(40)))
        let report = await run(small(40) {
            $0.clients = 4
            $0.users = 3
            $0.duplicates = 3
            $0.maxAttempts = 30
            $0.retryBudget = nil
        }, server)
        let checked = try #require(report.verification.processor)
        #expect(report.verification.exactlyOnce, "\(report.verification.problems) \(checked.problems)")
        #expect(checked.passed && checked.problems.isEmpty && checked.unconfirmed.isEmpty)
        #expect(report.confirmed == 38 && report.declined == 2 && report.unconfirmed == 0)
        #expect(report.declineCodes == ["card_declined": 2])
        #expect(report.outcomeUnknown == 38, "every charged key answered outcome-unknown once before its 200")
        #expect(report.statusCounts["402", default: 0] >= 2 && report.statusCounts["500", default: 0] > 0)
        #expect(checked.charges == 38 && checked.declined == 2 && checked.doubleCharged == 0)
        #expect(report.exitCode(maxUnconfirmed: 0) == 0, "declines are answers, not failures")
        #expect(report.text.contains("EXACTLY ONCE: every confirmed payment charged once, nothing doubled, the processor agrees"))
        #expect(report.text.contains("processor                   38 charges, 2 declined: each reference charged once"))
        #expect(report.json.contains(#""processor":{"performed":true,"passed":true,"charges":38,"declined":2,"double_charged":0,"unexpected":0,"#
            + #""ledger_without_processor_charge":0,"processor_only":0,"processor_only_unconfirmed":0,"#), "\(report.json)")
        #expect(report.processorFailedAfterUnknown == 0, "the 500s here name no processor refusal")
        #expect(report.verification.unknownLeft == 0, "every unknown key was retried to its 200")
        #expect(report.json.contains(#""declined":2,"unconfirmed_reasons":{},"decline_codes":{"card_declined":2}"#), "\(report.json)")
    }

    @Test func aProcessorIgnoringIdempotencyKeysIsCaughtDoubleCharging() async throws {
        // Each key's first charge ends in outcome-unknown; the retry charges again because
        // this processor makes a new charge of every request. Our ledger, which records
        // only the 200, is exactly once: only the processor's list shows the harm.
        let processor = FakeProcessor(.init(ignoreIdempotencyKeys: true))
        let server = FakePaymentServer(.init(processor: processor, outcomeUnknownKeys: keys(4)))
        let report = await run(small(4) { $0.maxAttempts = 3 }, server)
        let checked = try #require(report.verification.processor)
        #expect(report.confirmed == 4)
        #expect(report.verification.ledgerExactlyOnce, "\(report.verification.problems)")
        #expect(!report.verification.exactlyOnce)
        #expect(checked.doubleCharged == 4)
        #expect(checked.problems == [
            "user t-u0 key t-p0 payment_id pay_1: charged 2 times (ch_1, ch_2) at the processor (1 double charged)",
            "user t-u0 key t-p1 payment_id pay_3: charged 2 times (ch_3, ch_4) at the processor (1 double charged)",
            "user t-u0 key t-p2 payment_id pay_5: charged 2 times (ch_5, ch_6) at the processor (1 double charged)",
            "user t-u0 key t-p3 payment_id pay_7: charged 2 times (ch_7, ch_8) at the processor (1 double charged)",
        ])
        #expect(report.text.contains("verification                FAILED at the processor: our ledger is exactly once, the processor is not"))
        #expect(report.text.contains("processor                   FAILED: 4 double charged, 0 unexpected, 0 ledger without processor charge"))
        #expect(report.json.contains(#""exactly_once":false"#) && report.json.contains(#""double_charged":4,"unexpected":0"#))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aDeclinedKeyChargedAtTheProcessorIsAProblem() async throws {
        let processor = FakeProcessor(.init(declineKeys: ["t-p1"], editCharges: { charges in
            charges.append(.init(chargeID: "ch_x", idempotencyKey: "pk_t-p1", reference: "pay_2", amountMinor: 500, currency: "EUR"))
        }))
        let report = await run(small(2), FakePaymentServer(.init(processor: processor)))
        let checked = try #require(report.verification.processor)
        #expect(report.declined == 1 && report.confirmed == 1)
        #expect(report.verification.ledgerExactlyOnce, "nothing in our ledger for the declined key")
        #expect(checked.chargedNotRecorded == 1)
        #expect(checked.problems == [
            "user t-u0 key t-p1 payment_id pay_2: declined with 402 (card_declined) but charged once (ch_x) at the processor "
                + "(charged at the processor but not recorded)",
        ])
        #expect(report.text.contains("FAILED: 0 double charged, 0 unexpected, 0 ledger without processor charge, 1 charged but not recorded"))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aDeclineTheProcessorDoesNotListIsAProblem() async throws {
        let processor = FakeProcessor(.init(declineKeys: ["t-p0"], editDeclined: { $0.removeAll() }))
        let report = await run(small(1), FakePaymentServer(.init(processor: processor)))
        let checked = try #require(report.verification.processor)
        #expect(checked.declinedNotAtProcessor == 1)
        #expect(checked.problems == ["user t-u0 key t-p0 payment_id pay_1: declined with 402 (card_declined) but the processor lists no decline with this reference"])
    }

    @Test func aLedgerChargeWithoutAProcessorChargeIsAProblem() async throws {
        let processor = FakeProcessor(.init(editCharges: { charges in charges.removeFirst() }))
        let report = await run(small(2), FakePaymentServer(.init(processor: processor)))
        let checked = try #require(report.verification.processor)
        #expect(report.verification.ledgerExactlyOnce)
        #expect(checked.ledgerWithoutProcessorCharge == 1 && checked.confirmedNotCharged == 0)
        #expect(checked.problems == ["user t-u0 key t-p0 payment_id pay_1: our ledger charged 5.00 USD (500 minor units) but the processor has no charge with this reference"])
        #expect(report.json.contains(#""ledger_without_processor_charge":1"#))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aProcessorChargeOfAnotherAmountThanTheLedgersIsAProblem() async throws {
        let processor = FakeProcessor(.init(editCharges: { charges in charges[1].amountMinor = 501 }))
        let report = await run(small(2), FakePaymentServer(.init(processor: processor)))
        let checked = try #require(report.verification.processor)
        #expect(checked.ledgerWithoutProcessorCharge == 1)
        #expect(checked.problems == ["user t-u0 key t-p1 payment_id pay_2: our ledger charged 5.00 EUR (500 minor units), the processor ch_2 5.01 EUR (501 minor units)"])
    }

    @Test func anUnconfirmedKeyChargedAtTheProcessorOnlyIsAProblemNotADoubleCharge() async throws {
        // One attempt each: the processor charged, the server answered outcome-unknown and
        // kept the key unknown, and neither a retry nor the reconciler recorded it. The
        // reconciler exists to close that gap, so what is left of it fails the run.
        let server = FakePaymentServer(.init(processor: FakeProcessor(), outcomeUnknownKeys: keys(4)))
        let report = await run(small(4) { $0.maxAttempts = 1 }, server)
        let checked = try #require(report.verification.processor)
        #expect(report.unconfirmed == 4 && report.outcomeUnknown == 4)
        #expect(checked.processorOnly == 4 && checked.processorOnlyUnconfirmed == 4)
        #expect(checked.doubleCharged == 0 && checked.chargedNotRecorded == 0 && checked.unexpected == 0)
        #expect(checked.problems.count == 4)
        #expect(checked.problems.first == "user t-u0 key t-p0 payment_id pay_1: unconfirmed (attempts exhausted), charged once (ch_1) at the processor "
            + "but not in our ledger (processor only: the reconciler did not record it)")
        #expect(checked.unconfirmed.first == "user t-u0 key t-p0 payment_id pay_1: unconfirmed (attempts exhausted); charged once (ch_1) at the processor, not in our ledger")
        #expect(checked.unconfirmed.count == 4)
        #expect(report.verification.ledgerExactlyOnce && !report.verification.exactlyOnce)
        #expect(report.verification.unknownLeft == 4, "the ledger lists them as unknown")
        #expect(report.text.contains("processor                   FAILED: 0 double charged, 0 unexpected, 0 ledger without processor charge, 4 processor only"))
        #expect(report.text.contains("processor, unconfirmed      4 charged at the processor only (not in our ledger)"))
        #expect(report.exitCode(maxUnconfirmed: 4) == 1, "a failure whatever --max-unconfirmed allows")
    }

    @Test func anUnconfirmedKeyChargedOnceAndRecordedIsFine() async throws {
        // The 200 was lost after the server recorded the charge: all three sides agree.
        let server = FakePaymentServer(.init(statusAfterCharging: 503, processor: FakeProcessor()))
        let report = await run(small(2) { $0.maxAttempts = 1 }, server)
        let checked = try #require(report.verification.processor)
        #expect(report.unconfirmed == 2 && checked.passed && checked.processorOnlyUnconfirmed == 0)
        #expect(checked.unconfirmed == [
            "user t-u0 key t-p0 payment_id pay_1: unconfirmed (attempts exhausted); charged once (ch_1) at the processor, recorded in our ledger",
            "user t-u0 key t-p1 payment_id pay_2: unconfirmed (attempts exhausted); charged once (ch_2) at the processor, recorded in our ledger",
        ])
    }

    @Test func aProcessorChargeWithAReferenceNobodyKnowsIsUnexpected() async throws {
        let processor = FakeProcessor(.init(editCharges: { charges in
            charges.append(.init(chargeID: "ch_x", idempotencyKey: "pk_other", reference: "pay_zzz", amountMinor: 700, currency: "USD"))
        }))
        let report = await run(small(2), FakePaymentServer(.init(processor: processor)))
        let checked = try #require(report.verification.processor)
        #expect(checked.unexpected == 1)
        #expect(checked.problems == ["unknown key payment_id pay_zzz: charged once (ch_x) at the processor (7.00 USD (700 minor units)), "
            + "but it is not a payment_id of our ledger or of any answer the run got"])
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func aConfirmedKeyChargedAtTheProcessorButNotRecordedIsAProblem() async throws {
        let server = FakePaymentServer(.init(editCharges: { _, charges in charges.removeFirst() }, processor: FakeProcessor()))
        let report = await run(small(2), server)
        let checked = try #require(report.verification.processor)
        #expect(report.verification.lost == 1, "the ledger's own check")
        #expect(checked.chargedNotRecorded == 1)
        #expect(checked.problems == ["user t-u0 key t-p0 payment_id pay_1: confirmed with 200, charged once (ch_1) at the processor but not recorded in our ledger"])
    }

    @Test func aConfirmedKeyChargedNowhereIsAProblem() async throws {
        let processor = FakeProcessor(.init(editCharges: { charges in charges.removeFirst() }))
        let server = FakePaymentServer(.init(editCharges: { _, charges in charges.removeFirst() }, processor: processor))
        let report = await run(small(2), server)
        let checked = try #require(report.verification.processor)
        #expect(checked.confirmedNotCharged == 1)
        #expect(checked.problems == ["user t-u0 key t-p0 payment_id pay_1: confirmed with 200 but charged neither at the processor nor in our ledger"])
    }

    @Test func aReceiptNamingAnotherPaymentIDThanTheLedgerIsAProblem() async throws {
        let server = FakePaymentServer(.init(editCharges: { _, charges in charges[0].paymentID = "pay_other" }, processor: FakeProcessor()))
        let report = await run(small(1), server)
        let checked = try #require(report.verification.processor)
        #expect(checked.paymentIDMismatch == 1)
        #expect(checked.problems.contains("user t-u0 key t-p0: the receipt says payment_id pay_1, our ledger charged this key as pay_other"), "\(checked.problems)")
    }

    @Test func aWrongAmountAtTheProcessorOfAnUnrecordedChargeIsAProblem() async throws {
        let processor = FakeProcessor(.init(editCharges: { charges in charges[0].currency = "GBP" }))
        let server = FakePaymentServer(.init(processor: processor, outcomeUnknownKeys: keys(1)))
        let report = await run(small(1) { $0.maxAttempts = 1 }, server)
        let checked = try #require(report.verification.processor)
        #expect(checked.processorOnlyUnconfirmed == 1 && checked.wrongAmountOrCurrency == 1)
        #expect(checked.problems == [
            "user t-u0 key t-p0 payment_id pay_1: unconfirmed (attempts exhausted), charged once (ch_1) at the processor but not in our ledger "
                + "(processor only: the reconciler did not record it)",
            "user t-u0 key t-p0 payment_id pay_1: ch_1 charged 5.00 GBP (500 minor units) at the processor, the run sent 5.00 USD (500 minor units)",
        ])
    }

    @Test func aProcessorListNotAsTheContractSaysFailsTheRun() async throws {
        let processor = FakeProcessor(.init(chargesBody: #"{"charges": [{"charge_id": 1}]}"#))
        let report = await run(small(1), FakePaymentServer(.init(processor: processor)))
        let checked = try #require(report.verification.processor)
        #expect(!checked.performed && !report.verification.exactlyOnce)
        #expect(checked.problems == ["the processor's charges could not be read: GET http://processor/charges: the body is not the processor's charges list"])
        #expect(processor.reads == 1, "a wrong body is not retried")
        #expect(report.text.contains("processor                   FAILED: not verified"))
        #expect(report.exitCode(maxUnconfirmed: 0) == 1)
    }

    @Test func withoutAProcessorURLNothingIsAskedOfIt() async {
        let processor = FakeProcessor()
        let report = await run(small(2) { $0.processorURL = nil }, FakePaymentServer(.init(processor: processor)))
        #expect(report.verification.processor == nil && report.verification.exactlyOnce)
        #expect(processor.reads == 0)
        #expect(!report.json.contains(#""processor""#) && !report.text.contains("processor"))
    }

    @Test func aDeclineIsFinalAndReplayedToEveryCopy() async {
        // Three copies of each key: one is declined, two get the stored 402; none retries.
        let processor = FakeProcessor(.init(declineKeys: keys(4)))
        let report = await run(small(4) { $0.duplicates = 3; $0.processorURL = nil }, FakePaymentServer(.init(processor: processor)))
        #expect(report.declined == 4 && report.rejected == 0 && report.unconfirmed == 0)
        #expect(report.retries == 0)
        #expect(report.statusCounts == ["402": 12])
        #expect(report.replays == 8)
        #expect(report.verification.exactlyOnce)
        #expect(report.text.contains("(confirmed 0, unconfirmed 0, rejected 0, declined 4)"))
        #expect(report.exitCode(maxUnconfirmed: 0) == 0)
    }

    @Test func answersNameThePaymentTheyAreAbout() {
        let declined = PaymentAnswer(Array(#"{"type":"/problems/payment-declined","status":402,"payment_id":"pay_1","decline_code":"card_declined"}"#.utf8))
        #expect(declined == PaymentAnswer(paymentID: "pay_1", declineCode: "card_declined", problemType: "/problems/payment-declined"))
        let unknown = PaymentAnswer(Array(#"{"type":"/problems/outcome-unknown","payment_id":"pay_2"}"#.utf8))
        #expect(unknown.paymentID == "pay_2" && unknown.problemType == PaymentAnswer.outcomeUnknown)
        #expect(PaymentAnswer(Array("not json".utf8)) == PaymentAnswer(paymentID: nil, declineCode: nil, problemType: nil))
        #expect(PaymentAnswer(Array(#"{"payment_id":7}"#.utf8)).paymentID == nil)
    }

    @Test func theChargesListIsReadStrictly() throws {
        let body = #"{"charges":[{"charge_id":"ch_1","idempotency_key":"pk_a","reference":"pay_1","amount_minor":5,"currency":"USD"}],"#
            + #""declined":[{"idempotency_key":"pk_b","reference":"pay_2","amount_minor":6,"currency":"EUR","code":"card_declined"}],"#
            + #""requests":{"total":3,"charged":1}}"#
        let list = try #require(ProcessorCharges(Array(body.utf8)))
        #expect(list.charges == [.init(chargeID: "ch_1", idempotencyKey: "pk_a", reference: "pay_1", amountMinor: 5, currency: "USD")])
        #expect(list.declined.map(\.reference) == ["pay_2"] && list.requests == ["total": 3, "charged": 1])
        #expect(ProcessorCharges(Array(#"{"charges":[{"charge_id":"ch_1","reference":"pay_1","amount_minor":"5","currency":"USD"}]}"#.utf8)) == nil)
        #expect(ProcessorCharges(Array(#"{"declined":[]}"#.utf8)) == nil, "no charges member")
    }
}
