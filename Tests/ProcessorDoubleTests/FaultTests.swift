import AsyncHTTPClient
import ProcessorDouble
import Synchronization
import Testing

@Suite struct FaultTests {
    @Test func aDeclineIsFinalForTheKeyAndChargesNothing() async throws {
        try await withDouble(.init(declineRate: 1)) { double in
            let first = try await double.post()
            let again = try await double.post()
            #expect(first.status == 402 && again.status == 402)
            #expect(first.string("code") == "card_declined")
            #expect(again.body == first.body)
            let ledger = double.snapshot()
            #expect(ledger.charges.isEmpty)
            #expect(ledger.declined == [.init(idempotencyKey: Fixture.key(1), reference: Fixture.reference(1), amountMinor: 1234, currency: "USD", code: "card_declined")])
            #expect(ledger.requests.declined == 2)
        }
    }

    @Test func failBeforeIs503AndChargesNothing() async throws {
        try await withDouble(.init(failBeforeRate: 1)) { double in
            let first = try await double.post()
            // The key is not remembered: a retry is a first request again (and fails again).
            let retry = try await double.post()
            #expect(first.status == 503 && retry.status == 503)
            let ledger = double.snapshot()
            #expect(ledger.charges.isEmpty && ledger.declined.isEmpty)
            #expect(ledger.requests.failedBefore == 2)
        }
    }

    @Test func chargeThenFail500ChargesAndARetryGetsTheCharge() async throws {
        try await withDouble(.init(chargeThenFailRate: 1, chargeThenFail: .status500)) { double in
            let failed = try await double.post()
            #expect(failed.status == 500)
            let charges = double.snapshot().charges
            #expect(charges.count == 1)
            let retry = try await double.post()
            #expect(retry.status == 200)
            #expect(retry.string("charge_id") == charges.first?.chargeID)
            #expect(double.snapshot().requests.failedAfterCharge == 1)
        }
    }

    @Test func dropClosesTheConnectionAfterCharging() async throws {
        try await withDouble(.init(chargeThenFailRate: 1, chargeThenFail: .drop)) { double in
            await #expect(throws: HTTPClientError.remoteConnectionClosed) {
                _ = try await double.post()
            }
            let ledger = double.snapshot()
            #expect(ledger.charges.count == 1)
            #expect(ledger.requests.droppedAfterCharge == 1)
            let retry = try await double.post()
            #expect(retry.status == 200)
            #expect(retry.string("charge_id") == ledger.charges.first?.chargeID)
        }
    }

    /// The charge is in the ledger while its answer is still held back, a retry then gets
    /// 200, and the held answer arrives after `slow`.
    @Test func slowChargesBeforeAnswering() async throws {
        try await withDouble(.init(slowRate: 1, slow: .seconds(2))) { double in
            let started = ContinuousClock.now
            let answered = Mutex(false)
            async let slow: Answer = {
                let answer = try await double.post()
                answered.withLock { $0 = true }
                return answer
            }()
            let ledger = try await double.ledger(waitingUntil: { !$0.charges.isEmpty })
            #expect(ledger.charges.count == 1)
            #expect(!answered.withLock { $0 }, "the charge is recorded before the answer")
            let retry = try await double.post()
            #expect(retry.status == 200)
            let answer = try await slow
            #expect(answer.status == 201)
            #expect(answer.string("charge_id") == ledger.charges.first?.chargeID)
            #expect(ContinuousClock.now - started >= .seconds(2))
            #expect(double.snapshot().requests.slow == 1)
        }
    }

    /// The same seed decides the same faults for the same requests; another seed others.
    @Test func theSeedDecidesTheFaults() async throws {
        func statuses(seed: UInt64) async throws -> [Int] {
            let settings = ProcessorDoubleSettings(
                failBeforeRate: 0.3, chargeThenFailRate: 0.3, chargeThenFail: .status500, declineRate: 0.3, seed: seed
            )
            return try await withDouble(settings) { double in
                var statuses: [Int] = []
                for n in 1...24 {
                    statuses.append(try await double.post(key: Fixture.key(n), body: Fixture.body(reference: Fixture.reference(n))).status)
                }
                return statuses
            }
        }
        let first = try await statuses(seed: 7)
        #expect(try await statuses(seed: 7) == first)
        #expect(try await statuses(seed: 8) != first)
        #expect(Set(first).isSuperset(of: [201, 402, 500, 503]), "rates of 0.3 over 24 keys give every fault (for seed 7)")
    }
}
