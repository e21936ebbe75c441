import PaymentCore
import PaymentStoreTesting
import Testing

/// The store contract (Tests/PaymentStoreTesting/StoreContract.swift) against the
/// in-memory store, on a clock the test moves: no server, no sleeps. PaymentRedisTests
/// runs the same table against Redis.
@Suite("the store contract on InMemoryPaymentStore")
struct InMemoryStoreContractTests {
    @Test(arguments: StoreContract.names)
    func contract(_ name: String) async throws {
        let clock = ManualClock()
        let store = InMemoryPaymentStore(clock: clock)
        try await StoreContract.run(name, on: StoreContract.Subject(store: store, advance: { clock.advance(by: $0) }))
    }

    /// Beyond the contract (Redis answers `.confirmed` without reading when no replicas
    /// are required): the in-memory store runs the confirmReplay script's check, so a
    /// record that expired is `.gone`.
    @Test func aReplayOfAnExpiredRecordIsGone() async throws {
        let clock = ManualClock()
        let store = InMemoryPaymentStore(clock: clock)
        let payment = PaymentRequest(
            userID: try UserID("expiring"), amountMinor: 100, currency: .usd, idempotencyKey: try IdempotencyKey("k")
        )
        guard case .acquired(let lease, _) = try await store.begin(
            payment, owner: "o", lease: .seconds(10), retention: .seconds(60), rateLimit: nil
        ) else {
            Issue.record("a free key is acquired")
            return
        }
        let identity = PaymentIdentity(for: payment, secret: .unset)
        let response = StoredResponse(status: 200, body: Array("ok".utf8))
        #expect(try await store.complete(
            payment, lease: lease, response: response, charge: LedgerCharge(paymentID: identity.paymentID, chargeID: nil),
            identity: identity, retention: .seconds(60)
        ) == .committed)
        #expect(try await store.confirmReplay(payment) == .confirmed)
        #expect(store.phase(of: payment) == .done)

        clock.advance(by: .seconds(61))
        #expect(try await store.confirmReplay(payment) == .gone)
        #expect(store.phase(of: payment) == nil)
        // The ledger outlives the record, as in Redis (only the record has a TTL).
        #expect(try await store.ledger(for: payment.userID, tenant: nil).payments == 1)
        guard case .acquired = try await store.begin(payment, owner: "o2", lease: .seconds(10), retention: .seconds(60), rateLimit: nil) else {
            Issue.record("after its retention the key is free again")
            return
        }
    }

    /// The lease of a fresh attempt is the record's expiry: it ends exactly at the lease.
    @Test func aLeaseEndsExactlyWhenTheClockPassesIt() async throws {
        let clock = ManualClock()
        let store = InMemoryPaymentStore(clock: clock)
        let payment = PaymentRequest(
            userID: try UserID("lease-end"), amountMinor: 100, currency: .usd, idempotencyKey: try IdempotencyKey("k")
        )
        _ = try await store.begin(payment, owner: "a", lease: .seconds(10), retention: .seconds(60), rateLimit: nil)
        clock.advance(by: .milliseconds(9_999))
        #expect(try await store.begin(payment, owner: "b", lease: .seconds(10), retention: .seconds(60), rateLimit: nil)
            == .inFlight(retryAfterMilliseconds: 1))
        clock.advance(by: .milliseconds(1))
        guard case .acquired = try await store.begin(payment, owner: "c", lease: .seconds(10), retention: .seconds(60), rateLimit: nil) else {
            Issue.record("the lease ended at 10 s")
            return
        }
    }
}
