import PaymentCore
import PaymentRedis
import RedisClient
import RedisTestSupport
import Synchronization
import Testing

@Suite("Redlock quorum over three independent redis-servers", .redisServer())
struct RedlockTimingTests {
    @Test func validityIsTheTTLLessTheTimeTakenAndTheDrift() {
        #expect(Redlock.drift(ttl: .seconds(10)) == .milliseconds(102))
        #expect(Redlock.drift(ttl: .seconds(1)) == .milliseconds(12))
        #expect(Redlock.validity(ttl: .seconds(10), elapsed: .milliseconds(100)) == .milliseconds(9_798))
        #expect(Redlock.validity(ttl: .milliseconds(100), elapsed: .milliseconds(98)) < .zero)
    }

    @Test func manyConcurrentAcquirersNeverHoldTheLockTogether() async throws {
        try await withLockNodes { _, redlock async throws in
            let counter = HolderCounter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        // 25 attempts each, and more until this task held the lock once
                        // (bounded): how many of 25 win is up to the scheduler, not a property.
                        var attempts = 0
                        var held = false
                        let deadline = ContinuousClock.now + .seconds(20)
                        while attempts < 25 || (!held && ContinuousClock.now < deadline) {
                            attempts += 1
                            let me = owner()
                            guard case .acquired = await redlock.acquire("race", owner: me, ttl: .seconds(5)) else {
                                try await Task.sleep(for: .milliseconds(Int.random(in: 1...5)))
                                continue
                            }
                            held = true
                            counter.enter()
                            try await Task.sleep(for: .milliseconds(2))
                            counter.leave()
                            await redlock.release("race", owner: me)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(counter.mostAtOnce == 1)
            // Released locks are taken again: the contention did not starve everyone.
            #expect(counter.acquisitions >= 16)
        }
    }

    @Test func aLockHeldByAnotherOwnerIsReportedWithItsRemainingTime() async throws {
        try await withLockNodes { _, redlock async throws in
            #expect(await redlock.acquire("held", owner: "a", ttl: .seconds(3)).isAcquired)
            guard case .held(let retryAfter) = await redlock.acquire("held", owner: "b", ttl: .seconds(3)) else {
                Issue.record("b acquired a lock that a holds")
                return
            }
            #expect((1...3_000).contains(retryAfter))
            // Only the owner's release counts.
            await redlock.release("held", owner: "b")
            #expect(await !redlock.acquire("held", owner: "c", ttl: .seconds(3)).isAcquired)
            await redlock.release("held", owner: "a")
            #expect(await redlock.acquire("held", owner: "c", ttl: .seconds(3)).isAcquired)
        }
    }

    @Test func aLockThatIsNotExtendedLapsesAtItsTTL() async throws {
        try await withLockNodes { _, redlock async throws in
            // A TTL of 1 s: acquiring must take less than its validity, which a TTL of
            // 150 ms left to a busy machine's luck.
            #expect(await redlock.acquire("lapse", owner: "a", ttl: .seconds(1)).isAcquired)
            try await Task.sleep(for: .milliseconds(1_300))
            #expect(await redlock.acquire("lapse", owner: "b", ttl: .seconds(3)).isAcquired)
            #expect(await redlock.extend("lapse", owner: "a", ttl: .seconds(3)) == nil)
        }
    }

    @Test func oneNodeOfThreeDownStillLocksExtendsAndReleases() async throws {
        try await withLockNodes { servers, redlock async throws in
            servers[0].kill()
            #expect(await redlock.acquire("one-down", owner: "a", ttl: .seconds(3)).isAcquired)
            #expect(await !redlock.acquire("one-down", owner: "b", ttl: .seconds(3)).isAcquired)
            let validity = try #require(await redlock.extend("one-down", owner: "a", ttl: .seconds(10)))
            #expect(validity > .seconds(9))
            #expect(try await redlock.nodes[1].send("PTTL", "one-down").int ?? 0 > 9_000)
            #expect(await redlock.quorumProblem() == nil)
            await redlock.release("one-down", owner: "a")
            #expect(await redlock.acquire("one-down", owner: "b", ttl: .seconds(3)).isAcquired)
        }
    }

    @Test func twoNodesOfThreeDownFailClosedUntilTheyReturn() async throws {
        try await withLockNodes { servers, redlock async throws in
            servers[0].kill()
            servers[1].kill()
            guard case .unavailable(let reason) = await redlock.acquire("two-down", owner: "a", ttl: .seconds(3)) else {
                Issue.record("acquired with one node of three")
                return
            }
            #expect(reason.contains("1 of 3 lock nodes answered, 2 needed"))
            #expect(try await redlock.nodes[2].send("EXISTS", "two-down") == .integer(0), "the lone grant was undone")
            let problem = await redlock.quorumProblem()
            #expect(problem?.contains("1 of 3 lock nodes answer, 2 needed") == true, "\(problem ?? "nil")")

            try await servers[0].restart()
            try await servers[1].restart()
            try await waitUntil { await redlock.quorumProblem() == nil }
            #expect(await redlock.acquire("two-down", owner: "a", ttl: .seconds(3)).isAcquired)
        }
    }

    @Test func aPaymentTakesTheQuorumLockAndReleasesIt() async throws {
        try await withSuiteRedis { redis async throws in
            try await withLockNodes { servers, redlock async throws in
                let service = makeService(redis, keyLock: redlock)
                let payment = try request(user: uniqueUser("redlock"))
                let lockKey = PaymentKeys().lock(payment)
                #expect(await service.pay(payment).label == "succeeded")
                for node in redlock.nodes {
                    #expect(try await node.send("EXISTS", .string(lockKey)) == .integer(0))
                }
                #expect(await service.pay(payment).label == "replayed")

                // Another request holds the key's quorum lock: 409, nothing else done.
                let other = try request(user: uniqueUser("redlock"))
                #expect(await redlock.acquire(other, owner: "someone", ttl: .seconds(3)).isAcquired)
                #expect(await service.pay(other).label == "in_flight")
                #expect(try await RedisIdempotencyStore(client: redis).ledger(for: other.userID, tenant: nil).payments == 0)

                servers[0].kill()
                servers[1].kill()
                let third = try request(user: uniqueUser("redlock"))
                #expect(await service.pay(third).label == "unavailable")
                #expect(try await redis.send("EXISTS", .string(PaymentKeys().idempotency(third))) == .integer(0))
            }
        }
    }
}

/// The independent counter: how many tasks believe they hold the lock right now, the
/// most that ever did at once, and how many times it was taken.
private final class HolderCounter: Sendable {
    private let state = Mutex((now: 0, most: 0, total: 0))

    func enter() {
        state.withLock { state in
            state.now += 1
            state.most = max(state.most, state.now)
            state.total += 1
        }
    }

    func leave() {
        state.withLock { $0.now -= 1 }
    }

    var mostAtOnce: Int { state.withLock { $0.most } }
    var acquisitions: Int { state.withLock { $0.total } }
}
