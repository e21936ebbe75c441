import Logging
import PaymentCore
import PaymentProcessors
import PaymentRedis
import RedisClient
import RedisTestSupport
import Testing

/// REDIS_WAIT_REPLICAS on a real master and replica: a commit counts only once the
/// replica acknowledged it, and a replay is given only once the record is on the replica.
/// The replica is paused (SIGSTOP) to withhold its acknowledgements: a stopped process
/// sends no REPLCONF ACK, whatever its kernel buffers.
@Suite(.serialized) struct ReplicaAcknowledgementTests {
    static let waitTimeout: Duration = .milliseconds(300)

    /// A master, a replica of it that is in sync, the payment service over both clients.
    func withReplicatedService(
        replicas: Int = 1,
        waitTimeout: Duration = Self.waitTimeout,
        _ body: (PaymentService, RedisServer, RedisClient) async throws -> Void
    ) async throws {
        let master = try await RedisServer.start()
        defer { master.stop() }
        let replica = try await RedisServer.start(arguments: ["--replicaof", "127.0.0.1", "\(master.port)"])
        defer { replica.stop() }
        var logger = Logger(label: "wait-test")
        logger.logLevel = .critical
        var configuration = try RedisClientConfiguration(url: master.url)
        configuration.commandTimeout = .seconds(2)
        let main = try RedisClient(configuration: configuration, logger: logger)
        configuration.commandTimeout = .seconds(2) + waitTimeout
        configuration.connectionsPerNode = 2
        let ack = try RedisClient(configuration: configuration, logger: logger)
        try await withClient(main) { main in
            try await withClient(ack) { ack in
                try await waitUntil(timeout: .seconds(10)) {
                    let info = try await main.send("INFO", .string("replication")).string ?? ""
                    return info.contains("connected_slaves:1") && info.contains("state=online")
                }
                let store = RedisIdempotencyStore(
                    client: main, acknowledgement: ReplicaAcknowledgement(client: ack, replicas: replicas, timeout: waitTimeout)
                )
                let service = PaymentService(
                    store: store, processor: SimulatedProcessor(failureRate: 0, latency: .zero), globalRateLimiter: nil,
                    settings: .init(lease: .seconds(10), retention: .seconds(3600), userRateLimit: nil)
                )
                try await body(service, replica, main)
            }
        }
    }

    /// WAIT returns as soon as the replica acknowledged, so a long timeout costs nothing
    /// here and keeps a busy machine's slow acknowledgement from failing the test.
    @Test func aPaymentIsAnsweredOnceTheReplicaHasIt() async throws {
        try await withReplicatedService(waitTimeout: .seconds(10)) { service, _, _ in
            let payment = try request(user: uniqueUser("wait-ok"))
            guard case .succeeded = await service.pay(payment) else {
                Issue.record("a replicated payment must succeed")
                return
            }
            guard case .replayed = await service.pay(payment) else {
                Issue.record("its retry must replay")
                return
            }
        }
    }

    @Test func withoutTheReplicasAcknowledgementNoPaymentIsConfirmed() async throws {
        try await withReplicatedService { service, replica, main in
            let payment = try request(user: uniqueUser("wait-paused"))
            replica.pause()
            let start = ContinuousClock.now
            let outcome = await service.pay(payment)
            let elapsed = ContinuousClock.now - start
            guard case .outcomeUnknown(let unknown) = outcome, case .notReplicated(let shortfall) = unknown.cause else {
                replica.resume()
                Issue.record("expected outcome unknown (not replicated), got \(outcome)")
                return
            }
            #expect(shortfall == ReplicaShortfall(acknowledged: 0, required: 1))
            #expect(unknown.paymentID == PaymentIdentity(for: payment, secret: .unset).paymentID)
            // WAIT's own timeout ended the wait (a paused replica never answers): the
            // outcome above says WAIT answered, rather than the client's command timeout
            // (2 s later) ending it, and it took at least the timeout. How close to the
            // timeout it ends is a timing claim, which this parallel run cannot make
            // without luck: the upper bound only catches a wait that never ended.
            #expect(elapsed >= Self.waitTimeout && elapsed < Self.waitTimeout + .seconds(5), "\(elapsed)")
            // The record is on the master: a retry replays it, but only once the replica has it.
            guard case .outcomeUnknown(let again) = await service.pay(payment), case .notReplicated = again.cause else {
                replica.resume()
                Issue.record("a replay of an unreplicated record must not be confirmed")
                return
            }
            replica.resume()
            try await waitUntil(timeout: .seconds(10)) {
                if case .replayed = await service.pay(payment) { return true }
                return false
            }
            // Charged once: the retries replayed the one record.
            let ledger = try await RedisIdempotencyStore(client: main).ledger(for: payment.userID, tenant: nil)
            #expect(ledger.payments == 1)
        }
    }

    @Test func moreReplicasThanThereAreIsNeverConfirmed() async throws {
        try await withReplicatedService(replicas: 2) { service, _, _ in
            let outcome = await service.pay(try request(user: uniqueUser("wait-two")))
            guard case .outcomeUnknown(let unknown) = outcome, case .notReplicated(let shortfall) = unknown.cause else {
                Issue.record("expected outcome unknown, got \(outcome)")
                return
            }
            // The one replica may or may not have acknowledged within the timeout (on a
            // busy machine its REPLCONF ACK can come late): what must hold is that the
            // count required is two and never reached.
            #expect(shortfall.required == 2)
            #expect(shortfall.acknowledged <= 1)
        }
    }
}
