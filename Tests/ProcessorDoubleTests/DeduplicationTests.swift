import Foundation
import ProcessorDouble
import Synchronization
import Testing

@Suite struct DeduplicationTests {
    @Test func firstChargeIs201AndTheSameKeyAgainIs200WithTheSameChargeID() async throws {
        try await withDouble { double in
            let first = try await double.post()
            let again = try await double.post()
            #expect(first.status == 201)
            #expect(again.status == 200)
            let chargeID = try #require(first.string("charge_id"))
            #expect(chargeID.hasPrefix("ch_"))
            #expect(again.string("charge_id") == chargeID)

            let ledger = double.snapshot()
            #expect(ledger.charges == [.init(chargeID: chargeID, idempotencyKey: Fixture.key(1), reference: Fixture.reference(1), amountMinor: 1234, currency: "USD")])
            #expect(ledger.requests.total == 2)
            #expect(ledger.requests.charged == 1)
            #expect(ledger.requests.replayed == 1)
        }
    }

    @Test func otherKeysGetOtherCharges() async throws {
        try await withDouble { double in
            let a = try await double.post(key: Fixture.key(1))
            let b = try await double.post(key: Fixture.key(2), body: Fixture.body(reference: Fixture.reference(2)))
            #expect(a.status == 201 && b.status == 201)
            #expect(a.string("charge_id") != b.string("charge_id"))
            #expect(double.snapshot().charges.map(\.idempotencyKey) == [Fixture.key(1), Fixture.key(2)])
        }
    }

    @Test(arguments: [Fixture.body(amount: 1235), Fixture.body(currency: "EUR")])
    func theSameKeyWithAnotherAmountOrCurrencyIs422(otherBody: String) async throws {
        try await withDouble { double in
            #expect(try await double.post().status == 201)
            let reused = try await double.post(body: otherBody)
            #expect(reused.status == 422)
            #expect(reused.string("code") == "idempotency_key_reused")
            #expect(double.snapshot().charges.count == 1)
            #expect(double.snapshot().requests.reused == 1)
        }
    }

    /// The first request is admitted (counted) before the second is sent, and its latency
    /// is far longer than the second takes, so the second always finds it in progress.
    /// 15 s, not 2: with every suite in parallel on two cores, a poll and a new connection
    /// once took more than 2 s (a run of every suite here saw the second answered 200), and no slowness of
    /// a loaded machine comes near 15 s for one local request.
    @Test func aKeyInProgressIs409() async throws {
        let latency = Duration.seconds(15)
        try await withDouble(.init(latency: latency)) { double in
            let started = ContinuousClock.now
            async let first = double.post(timeout: latency + .seconds(15))
            let admitted = try await double.ledger(waitingUntil: { $0.requests.total == 1 })
            #expect(admitted.requests.total == 1)
            let second = try await double.post()
            #expect(second.status == 409)
            #expect(second.string("code") == "in_progress")
            #expect(double.snapshot().charges.isEmpty, "nothing is charged before the latency has passed")
            let firstAnswer = try await first
            #expect(firstAnswer.status == 201)
            #expect(ContinuousClock.now - started >= latency)
            let ledger = double.snapshot()
            #expect(ledger.charges.count == 1)
            #expect(ledger.requests.inProgress == 1)
        }
    }

    @Test func ignoringIdempotencyKeysChargesEveryRequest() async throws {
        try await withDouble(.init(ignoreIdempotencyKeys: true)) { double in
            let first = try await double.post()
            let second = try await double.post()
            #expect(first.status == 201 && second.status == 201)
            #expect(first.string("charge_id") != second.string("charge_id"))
            let ledger = double.snapshot()
            #expect(ledger.charges.map(\.idempotencyKey) == [Fixture.key(1), Fixture.key(1)])
            #expect(ledger.requests.charged == 2)
            #expect(ledger.requests.replayed == 0)
        }
    }
}
