import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PaymentAPI
import PaymentCore
import PaymentProcessors
import ProcessorDouble
import RedisClient
import RedisTestSupport
import StrictJSON
import Testing

/// payment-api with `PROCESSOR_URL` against the processor double, in process: every
/// answer of the processor contract, and what the client and the processor see.
@Suite("the HTTP processor (PROCESSOR_URL)", .redisServer())
struct HTTPProcessorTests {
    func withProcessor(
        _ settings: ProcessorDoubleSettings = ProcessorDoubleSettings(),
        watchdog: Bool = true,
        _ configure: @escaping @Sendable (inout AppConfiguration) -> Void = { _ in },
        _ test: @Sendable (any TestClientProtocol, ProcessorDouble) async throws -> Void
    ) async throws {
        var logger = Logger(label: "processor-double-test")
        logger.logLevel = .critical
        let double = try await ProcessorDouble.start(settings, logger: logger)
        do {
            try await withApp(watchdog: watchdog, { configuration in
                configuration.processor = try? ProcessorConfiguration(url: "http://127.0.0.1:\(double.port)")
                configuration.processor?.timeout = .seconds(2)
                configure(&configuration)
            }) { client in try await test(client, double) }
            try await double.shutdown()
        } catch {
            try? await double.shutdown()
            throw error
        }
    }

    func identity(user: String, key: String = "key-1") throws -> PaymentIdentity {
        let request = PaymentRequest(
            userID: try UserID(user), amountMinor: 10_000, currency: try #require(Currency(code: "USD")),
            idempotencyKey: try IdempotencyKey(key)
        )
        return PaymentIdentity(for: request, secret: .unset)
    }

    func member(_ name: String, of response: TestResponse) -> String? {
        guard case .object(let fields)? = try? JSONParser.parse(Array(response.body.readableBytesView)) else { return nil }
        guard case .string(let value)? = fields.first(where: { $0.key == name })?.value else { return nil }
        return value
    }

    @Test func aChargeSendsTheStableKeyAndIsReplayedWithoutAnotherCharge() async throws {
        try await withProcessor { client, double in
            let user = uniqueUser("http-charge")
            let expected = try identity(user: user)
            let first = try await client.pay(payBody(user: user))
            #expect(first.status == .ok, "\(first.text)")
            #expect(member("payment_id", of: first) == expected.paymentID)
            let again = try await client.pay(payBody(user: user))
            #expect(again.status == .ok)
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let ledger = double.snapshot()
            #expect(ledger.charges.count == 1)
            #expect(ledger.charges.first?.idempotencyKey == expected.processorKey)
            #expect(ledger.charges.first?.reference == expected.paymentID)
            #expect(ledger.charges.first?.amountMinor == 10_000)
            let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil).text
            #expect(metrics.contains(#"processor_requests_total{outcome="charged"} 1"#))
            #expect(metrics.contains(#"processor_request_duration_seconds_count{outcome="charged"} 1"#))
        }
    }

    @Test func aDeclineIsAFinal402ReplayedAndNeverCharged() async throws {
        try await withProcessor(ProcessorDoubleSettings(declineRate: 1)) { client, double in
            let user = uniqueUser("http-decline")
            let first = try await client.pay(payBody(user: user))
            // Stored and replayed byte for byte like a receipt, so without a request_id
            // (the X-Request-ID header carries each request's).
            #expect(first.status.code == 402, "\(first.text)")
            #expect(first.headers[.contentType] == "application/problem+json")
            #expect(first.text.contains(#""type":"/problems/payment-declined""#))
            #expect(first.headers[HTTPField.Name("X-Request-ID")!] != nil)
            let expected = try identity(user: user)
            #expect(member("payment_id", of: first) == expected.paymentID)
            #expect(member("decline_code", of: first) == "card_declined")
            let again = try await client.pay(payBody(user: user))
            #expect(again.status == HTTPResponse.Status(code: 402))
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(again.headers[.contentType] == "application/problem+json")
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            #expect(ledger.text.contains(#""payments":0"#), "\(ledger.text)")
            #expect(double.snapshot().charges.isEmpty)
            #expect(double.snapshot().declined.count == 1)
        }
    }

    @Test(arguments: [ProcessorDoubleSettings.ChargeThenFail.status500, .drop])
    func chargedThenFailedIsOutcomeUnknownAndTheRetryChargesNoMore(fault: ProcessorDoubleSettings.ChargeThenFail) async throws {
        try await withProcessor(ProcessorDoubleSettings(chargeThenFailRate: 1, chargeThenFail: fault)) { client, double in
            let user = uniqueUser("http-then-fail")
            let first = try await client.pay(payBody(user: user))
            expectProblem(first, .serviceUnavailable, type: "outcome-unknown")
            #expect(first.headers[.retryAfter] != nil)
            let expected = try identity(user: user)
            #expect(member("payment_id", of: first) == expected.paymentID)
            #expect(double.snapshot().charges.count == 1)
            // The key was released: the retry asks again with the same processor key.
            let retry = try await client.pay(payBody(user: user))
            #expect(retry.status == .ok, "\(retry.text)")
            #expect(member("payment_id", of: retry) == member("payment_id", of: first))
            #expect(double.snapshot().charges.count == 1)
            let ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil)
            #expect(ledger.text.contains(#""payments":1"#), "\(ledger.text)")
        }
    }

    @Test func aLeaseTakeoverMeetsTheProcessorsConflictAndChargesOnce() async throws {
        // The processor takes longer than the lease and no watchdog extends it: a second
        // attempt takes the key over while the first is still at the processor.
        // The second attempt must reach the double while the first is still charging: 8 s
        // leaves a loaded machine seconds for a lease of 200 ms and one round trip.
        let settings = ProcessorDoubleSettings(latency: .seconds(8))
        try await withProcessor(settings, watchdog: false, { configuration in
            configuration.lockLease = .milliseconds(200)
            configuration.processor?.timeout = .seconds(12)
        }) { client, double in
            let user = uniqueUser("http-takeover")
            async let first = client.payOnItsOwnConnection(payBody(user: user))
            try await waitUntil(timeout: .seconds(10)) { double.snapshot().requests.total >= 1 }
            // Until the first lease ends our own lock answers 409; after it, the second
            // attempt reaches the processor, which answers 409: it is still charging.
            var second: TestResponse?
            try await waitUntil(timeout: .seconds(7)) {
                second = try await client.pay(payBody(user: user))
                return double.snapshot().requests.inProgress >= 1
            }
            if let second {
                expectProblem(second, .conflict, type: "in-flight")
                #expect(second.headers[.retryAfter] != nil)
            }
            let firstAnswer = try await first
            expectProblem(firstAnswer, .serviceUnavailable, type: "unavailable", detailContains: "same processor key")
            let third = try await client.pay(payBody(user: user))
            #expect(third.status == .ok, "\(third.text)")
            #expect(double.snapshot().charges.count == 1, "\(double.snapshot())")
        }
    }

    @Test func theBearerTokenComesFromItsFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("processor-token-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good").path
        let bad = directory.appendingPathComponent("bad").path
        try "s3cret-token\n".write(toFile: good, atomically: true, encoding: .utf8)
        try "wrong-token".write(toFile: bad, atomically: true, encoding: .utf8)
        let settings = ProcessorDoubleSettings(token: "s3cret-token")
        try await withProcessor(settings, { $0.processor?.tokenFile = good }) { client, double in
            let paid = try await client.pay(payBody(user: uniqueUser("http-token")))
            #expect(paid.status == .ok, "\(paid.text)")
            #expect(double.snapshot().charges.count == 1)
        }
        try await withProcessor(settings, { $0.processor?.tokenFile = bad }) { client, double in
            // Refused before any charge: that one may say nothing was charged.
            let refused = try await client.pay(payBody(user: uniqueUser("http-token-bad")))
            expectProblem(refused, .internalServerError, type: "processor-failed", detailContains: "this attempt charged nothing")
            #expect(double.snapshot().charges.isEmpty)
            #expect(double.snapshot().requests.unauthorized == 1)
        }
    }

    @Test func anUnreachableProcessorIsOutcomeUnknown() async throws {
        let port = try RedisServer.freePort()
        try await withApp({ configuration in
            configuration.processor = try? ProcessorConfiguration(url: "http://127.0.0.1:\(port)/")
            configuration.processor?.timeout = .milliseconds(500)
        }) { client in
            expectProblem(try await client.pay(payBody(user: uniqueUser("http-down"))), .serviceUnavailable, type: "outcome-unknown")
        }
    }
}
