import AsyncHTTPClient
import NIOCore
import NIOHTTP1
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
        // 6 s held back: the ledger and the retry are checked while the answer still waits,
        // also on a CI machine busy with every other suite.
        try await withDouble(.init(slowRate: 1, slow: .seconds(6))) { double in
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
            #expect(ContinuousClock.now - started >= .seconds(6))
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

    /// The pinned statuses of `theSeedDecidesTheFaults`'s settings for seed 7: what the
    /// double answered before the stall, absurd Retry-After, transient and lookup faults
    /// existed (computed with its five draws per new key). Those faults draw from
    /// generators of their own, so a seed still decides the same faults.
    static let seed7Statuses = [402, 503, 503, 201, 402, 402, 402, 402, 201, 201, 500, 503, 201, 201, 402, 402, 201, 503, 402, 402, 402, 201, 402, 201]

    @Test func theLaterFaultsDoNotShiftTheFirstFiveDraws() async throws {
        let settings = ProcessorDoubleSettings(
            failBeforeRate: 0.3, chargeThenFailRate: 0.3, chargeThenFail: .status500, declineRate: 0.3, seed: 7
        )
        let statuses = try await withDouble(settings) { double in
            var statuses: [Int] = []
            for n in 1...24 {
                statuses.append(try await double.post(key: Fixture.key(n), body: Fixture.body(reference: Fixture.reference(n))).status)
                // Lookups draw from their own generator too.
                _ = try await double.lookup(Fixture.key(n))
            }
            return statuses
        }
        #expect(statuses == Self.seed7Statuses)
    }

    /// Transient refusals (half the requests here) draw per request from their own
    /// generator: sending each refused request again until it gets through, the new keys
    /// meet exactly the faults they meet without them.
    @Test func transientRefusalsDoNotShiftTheFaultsOfNewKeys() async throws {
        let settings = ProcessorDoubleSettings(
            failBeforeRate: 0.3, chargeThenFailRate: 0.3, chargeThenFail: .status500, declineRate: 0.3,
            transient4xxRate: 0.5, seed: 7
        )
        let (statuses, refusals) = try await withDouble(settings) { double in
            var statuses: [Int] = []
            var refusals = 0
            for n in 1...24 {
                var status = 0
                repeat {
                    status = try await double.post(key: Fixture.key(n), body: Fixture.body(reference: Fixture.reference(n))).status
                    if status == 429 || status == 401 { refusals += 1 }
                } while status == 429 || status == 401
                statuses.append(status)
            }
            #expect(double.snapshot().requests.transient4xx == refusals)
            return (statuses, refusals)
        }
        #expect(statuses == Self.seed7Statuses)
        #expect(refusals > 0, "seed 7 refuses some requests at rate 0.5")
    }

    /// The head (status, `Content-Length` of the whole body) comes at once, the body not
    /// within the stall: with a 600 s stall, reading the head at all shows it came first.
    /// The charge is made before the head; a retry on another connection gets it.
    @Test func headThenStallSendsTheHeadAndHoldsTheBody() async throws {
        try await withDouble(.init(stallRate: 1, stall: .seconds(600))) { double in
            let response = try await double.postReturningAtTheHead(timeout: .seconds(900))
            #expect(response.status.code == 201)
            let ledger = double.snapshot()
            let chargeID = try #require(ledger.charges.first?.chargeID)
            #expect(response.headers["content-length"] == [String(#"{"charge_id":"\#(chargeID)"}"#.utf8.count)])
            #expect(ledger.requests.stalled == 1 && ledger.requests.charged == 1)
            let retry = try await double.post()
            #expect(retry.status == 200 && retry.string("charge_id") == chargeID)
            #expect(try await double.lookup().string("charge_id") == chargeID)
            // Closing the connection ends the stall: the body never comes.
            try await double.shutdown()
            await #expect(throws: (any Error).self) {
                _ = try await response.body.collect(upTo: 1 << 20)
            }
        }
    }

    /// A short stall: the body comes after it, whole, and says what the head promised.
    @Test func aStalledBodyComesAfterTheStall() async throws {
        let stall = Duration.seconds(1)
        try await withDouble(.init(stallRate: 1, stall: stall)) { double in
            let started = ContinuousClock.now
            let response = try await double.postReturningAtTheHead(timeout: .seconds(60))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(ContinuousClock.now - started >= stall)
            let chargeID = try #require(double.snapshot().charges.first?.chargeID)
            #expect(body == #"{"charge_id":"\#(chargeID)"}"#)
            #expect(response.headers["content-length"] == [String(body.utf8.count)])
            #expect(try await double.post().status == 200, "the connection is usable again, the key charged once")
            #expect(double.snapshot().charges.count == 1)
        }
    }

    @Test func anAbsurdRetryAfterIs409ChargesNothingAndForgetsTheKey() async throws {
        try await withDouble(.init(absurdRetryAfterRate: 1)) { double in
            let first = try await double.post()
            #expect(first.status == 409)
            #expect(first.string("code") == "in_progress")
            #expect(first.headers["retry-after"] == ["9223372036854775807"])
            #expect(try await double.lookup().status == 404, "nothing charged, nothing in progress")
            let again = try await double.post()
            #expect(again.status == 409 && again.headers["retry-after"] == ["9223372036854775807"], "a new key again, drawing again")
            let ledger = double.snapshot()
            #expect(ledger.charges.isEmpty && ledger.declined.isEmpty)
            #expect(ledger.requests.absurdRetryAfter == 2)
            #expect(ledger.requests.inProgress == 0)
        }
    }

    /// Drawn before anything else: the token and the body are not looked at; 429 and 401
    /// alternate, 429 first.
    @Test func transientRefusalsComeBeforeAnythingElseAndAlternate() async throws {
        try await withDouble(.init(token: "s3cret-token", transient4xxRate: 1)) { double in
            let first = try await double.post(token: "s3cret-token")
            let second = try await double.post(body: "not json", token: "s3cret-token")
            let third = try await double.post(token: nil)
            #expect(first.status == 429)
            #expect(first.string("code") == "rate_limited")
            #expect(first.headers["retry-after"] == ["-1"])
            #expect(second.status == 401, "not 400: the body was not looked at")
            #expect(second.string("code") == "unauthorized")
            #expect(second.headers["retry-after"].isEmpty)
            #expect(third.status == 429)
            let ledger = double.snapshot()
            #expect(ledger.charges.isEmpty)
            #expect(ledger.requests.total == 3 && ledger.requests.transient4xx == 3)
            #expect(ledger.requests.unauthorized == 0 && ledger.requests.invalid == 0)
            #expect(try await double.lookup(token: "s3cret-token").status == 404, "lookups do not draw it")
        }
    }

    /// Every request draws, not only new keys: for seed 2 at rate 0.5 the request draws
    /// are pass, refuse ×3, pass, pass, so a key charged by the first request meets 429,
    /// 401 and 429 on its retries, then its charge.
    @Test func transientRefusalsAlsoMeetAKeyAlreadyCharged() async throws {
        try await withDouble(.init(transient4xxRate: 0.5, seed: 2)) { double in
            var statuses: [Int] = []
            for _ in 1...6 { statuses.append(try await double.post().status) }
            #expect(statuses == [201, 429, 401, 429, 200, 200])
            let ledger = double.snapshot()
            #expect(ledger.charges.count == 1)
            #expect(ledger.requests.replayed == 2 && ledger.requests.transient4xx == 3)
        }
    }
}
