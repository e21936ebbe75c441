import Hummingbird
import HummingbirdTesting
import NIOCore
import PaymentAPI
import PaymentCore
import RedisClient
import RedisTestSupport
import Testing

/// One test per row of DESIGN.md's status table, each asserting status, headers and body.
@Suite("POST /pay status table", .redisServer())
struct StatusTableTests {
    @Test func processedNowIs200WithThePaymentJSON() async throws {
        try await withApp({ $0.userRateLimit = .init(name: "user", capacity: 10, refillPerSecond: 10) }) { client in
            let user = uniqueUser("ok")
            let response = try await client.pay(payBody(user: user, amount: "100.0", key: "unique-key-123"))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let text = response.text
            #expect(text.hasPrefix(#"{"payment_id":"pay_"#))
            #expect(text.contains(#""status":"succeeded","user_id":"\#(user)","amount_minor":10000,"currency":"USD","idempotency_key":"unique-key-123","created_at":""#))
            #expect(text.hasSuffix(#""message":"Payment processed"}"#))
            #expect(response.headers[.init("Idempotent-Replayed")!] == nil)
            #expect(response.headers[.init("RateLimit-Policy")!] == #""user";q=10;w=1"#)
            #expect(response.headers[.init("RateLimit")!] == #""user";r=9;t=1"#)
            #expect(response.headers[.init("X-Request-ID")!]?.count == 32)
        }
    }

    @Test func replayIsTheByteIdenticalBodyMarkedReplayed() async throws {
        try await withApp { client in
            let body = payBody(user: uniqueUser("replay"))
            let first = try await client.pay(body)
            let second = try await client.pay(body)
            #expect(first.status == .ok)
            #expect(second.status == .ok)
            #expect(second.body == first.body)
            #expect(second.headers[.init("Idempotent-Replayed")!] == "true")
        }
    }

    @Test func keyFromTheHeaderQuotedOrBare() async throws {
        try await withApp { client in
            let user = uniqueUser("header")
            let quoted = try await client.pay(payBody(user: user, key: nil), headers: [.init("Idempotency-Key")!: #""h-1""#])
            #expect(quoted.status == .ok)
            #expect(quoted.text.contains(#""idempotency_key":"h-1""#))
            let bare = try await client.pay(payBody(user: user, key: nil), headers: [.init("Idempotency-Key")!: "h-1"])
            #expect(bare.headers[.init("Idempotent-Replayed")!] == "true", "the bare token names the same key")
            #expect(bare.body == quoted.body)
        }
    }

    @Test func missingContentTypeIsAcceptedAsJSON() async throws {
        try await withApp { client in
            let response = try await client.pay(payBody(user: uniqueUser("noct")), headers: [:])
            #expect(response.status == .ok)
        }
    }

    @Test func badRequests() async throws {
        try await withApp { client in
            let user = uniqueUser("bad")
            expectProblem(try await client.pay(ByteBuffer(string: "{not json")), .badRequest, type: "malformed-request",
                          detailContains: "request body is not valid JSON")
            expectProblem(try await client.pay(payBody(user: user, amount: "0")), .badRequest, type: "invalid-amount",
                          detailContains: #"\"amount\" must be greater than 0"#)
            expectProblem(try await client.pay(payBody(user: user, key: nil)), .badRequest, type: "invalid-idempotency-key",
                          detailContains: "an idempotency key is required")
            expectProblem(try await client.pay(payBody(user: user, key: "a"), headers: [.init("Idempotency-Key")!: #""b""#]),
                          .badRequest, type: "invalid-idempotency-key", detailContains: "differ")
            expectProblem(try await client.pay(payBody(user: "{braces}")), .badRequest, type: "invalid-user-id")
            expectProblem(try await client.pay(payBody(user: user, currency: "XYZ")), .badRequest, type: "unknown-currency")
            // None of them stored anything.
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            #expect(ledger.text == #"{"user_id":"\#(user)","payments":0,"totals":{},"charges_total":0,"charges":[],"unknown":[]}"#)
        }
    }

    @Test func sameKeyStillInFlightIs409WithRetryAfter() async throws {
        // 10 s of work: the second request must come while the first holds the key, also on
        // a CI machine busy with every other suite and the fuzz build.
        try await withApp({ $0.paymentLatency = .milliseconds(10_000) }) { client in
            let user = uniqueUser("inflight")
            let body = payBody(user: user)
            async let first = client.payOnItsOwnConnection(body)
            // The second request is sent once the first holds the key, not after a guess.
            try await withSuiteRedis { redis in
                try await waitUntil { try await redis.send("EXISTS", .string("pay:{\(user)}:idem:key-1")) == .integer(1) }
            }
            let second = try await client.pay(body)
            expectProblem(second, .conflict, type: "in-flight")
            #expect(second.headers[.retryAfter] == "1")
            #expect(try await first.status == .ok)
        }
    }

    @Test func hundredConcurrentPostsWithOneKeyChargeOnce() async throws {
        try await withApp({ $0.paymentLatency = .milliseconds(50) }) { client in
            let user = uniqueUser("herd")
            let body = payBody(user: user, amount: "7.77", key: "herd-key")
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<100 { group.addTask { try await client.payOnItsOwnConnection(body).status.code } }
                return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(Set(statuses.keys).isSubset(of: [200, 409]), "\(statuses)")
            #expect(statuses.values.reduce(0, +) == 100)
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            // The charge's payment id is random: the fields before it are exact.
            #expect(ledger.text.hasPrefix(#"{"user_id":"\#(user)","payments":1,"totals":{"USD":777},"charges_total":1,"#), "\(ledger.text)")
        }
    }

    @Test func bodyOverTheLimitIs413() async throws {
        try await withApp { client in
            let large = ByteBuffer(repeating: UInt8(ascii: " "), count: 16_385)
            expectProblem(try await client.pay(large), .contentTooLarge, type: "body-too-large")
        }
    }

    @Test func otherContentTypeIs415() async throws {
        try await withApp { client in
            let response = try await client.pay(payBody(user: uniqueUser("ct")), headers: [.contentType: "text/plain"])
            expectProblem(response, .unsupportedMediaType, type: "unsupported-media-type")
            let json = try await client.pay(payBody(user: uniqueUser("ct")), headers: [.contentType: "application/json; charset=utf-8"])
            #expect(json.status == .ok)
        }
    }

    @Test func sameKeyWithAnotherAmountIs422() async throws {
        try await withApp { client in
            let user = uniqueUser("reuse")
            #expect(try await client.pay(payBody(user: user, amount: "10")).status == .ok)
            expectProblem(try await client.pay(payBody(user: user, amount: "11")), .unprocessableContent, type: "idempotency-key-reused")
            expectProblem(try await client.pay(payBody(user: user, amount: "10", currency: "EUR")), .unprocessableContent,
                          type: "idempotency-key-reused")
        }
    }

    @Test func processorFailureIs500AndStoresNothing() async throws {
        try await withApp({ $0.paymentFailureRate = 1 }) { client in
            let user = uniqueUser("fail")
            let response = try await client.pay(payBody(user: user))
            expectProblem(response, .internalServerError, type: "processor-failed", detailContains: "this attempt charged nothing")
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            #expect(ledger.text.contains(#""payments":0"#))
        }
    }

    @Test func overTheInflightCapIs503() async throws {
        try await withApp({
            $0.maxInflightRequests = 1
            $0.paymentLatency = .milliseconds(10_000)  // the first holds its slot for as long
        }) { client in
            async let first = client.payOnItsOwnConnection(payBody(user: uniqueUser("cap1")))
            // /metrics is exempt from the cap: it shows when the first request holds the slot.
            try await waitUntil {
                let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
                return metrics.text.contains("http_inflight_requests 1")
            }
            let shed = try await client.pay(payBody(user: uniqueUser("cap2")))
            expectProblem(shed, .serviceUnavailable, type: "unavailable", detailContains: "requests in flight")
            #expect(shed.headers[.retryAfter] == "1")
            #expect(try await first.status == .ok)
        }
    }

    @Test func unknownRouteIsAProblemToo() async throws {
        try await withApp { client in
            expectProblem(try await client.executeRequest(uri: "/nope", method: .get, headers: [:], body: nil), .notFound, type: "not-found")
        }
    }
}
