import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import PaymentAPI
import PaymentCore
import RedisTestSupport
import Testing

// SHA-256 of the secrets, as `printf '%s' secret-a | sha256sum` prints them.
let hashA = "8766b9cb08e6040b704f1e3ee1e186efccf2635b1d2634d6525333007e6aeae1"
let hashB = "ff492ef788c89b555e6f738b33d2422f57dbb6656af2402155672c5f123a90af"
let hashC = "26d46203179f0c4ddf89791220bc5493aeceadbc1c34590ef45cd89d302e302e"

/// A key file in its own temporary directory.
func writeKeyFile(_ content: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("api-keys-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("keys").path
    try content.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

func removeKeyFile(_ path: String) {
    try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}

func bearer(_ value: String) -> HTTPFields {
    [.contentType: "application/json", .authorization: "Bearer \(value)"]
}

@Suite("API key authentication", .redisServer())
struct AuthTests {
    private func withAuthApp(
        _ keys: String, reload: Duration = .seconds(2), stale: Duration = .seconds(300),
        _ test: @Sendable (any TestClientProtocol, String) async throws -> Void
    ) async throws {
        let path = try writeKeyFile(keys)
        defer { removeKeyFile(path) }
        try await withApp({ configuration in
            configuration.apiKeysFile = path
            configuration.apiKeys = try? APIKeyFile.read(path)
            configuration.apiKeysReloadInterval = reload
            configuration.apiKeysStaleAfter = stale
        }) { client in try await test(client, path) }
    }

    static let twoTenants = """
        # key-id  sha256(secret)  tenant
        key-a \(hashA) tenant-a
        key-b \(hashB) tenant-b
        """

    @Test func missingOrWrongCredentialsAre401() async throws {
        try await withAuthApp(Self.twoTenants) { client, _ in
            let body = payBody(user: uniqueUser("auth"))
            let missing = try await client.pay(body)
            expectProblem(missing, .unauthorized, type: "unauthorized", detailContains: "Authorization: Bearer")
            #expect(missing.headers[.wwwAuthenticate] == #"Bearer realm="payment-api""#)
            for credential in ["key-a.wrong", "key-x.secret-a", "key-a", "key-b.secret-a"] {
                expectProblem(try await client.pay(body, headers: bearer(credential)), .unauthorized, type: "unauthorized",
                              detailContains: "not valid")
            }
            let basic: HTTPFields = [.authorization: "Basic a2V5LWE6c2VjcmV0LWE="]
            expectProblem(try await client.pay(body, headers: basic), .unauthorized, type: "unauthorized")
            expectProblem(try await client.executeRequest(uri: "/ledger/someone", method: .get, headers: [:], body: nil),
                          .unauthorized, type: "unauthorized")
            // Probes and metrics need no credentials.
            #expect(try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil).status == .ok)
            #expect(try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil).status == .ok)
            #expect(try await client.pay(body, headers: bearer("key-a.secret-a")).status == .ok)
        }
    }

    @Test func tenantsCanNeitherReplayNorReadEachOther() async throws {
        try await withAuthApp(Self.twoTenants) { client, _ in
            let user = uniqueUser("shared")
            let first = try await client.pay(payBody(user: user, amount: "10", key: "same"), headers: bearer("key-a.secret-a"))
            // Same user id and key under tenant B: a different payment, not a replay or a 422.
            let other = try await client.pay(payBody(user: user, amount: "20", key: "same"), headers: bearer("key-b.secret-b"))
            #expect(first.status == .ok)
            #expect(other.status == .ok)
            #expect(other.headers[.init("Idempotent-Replayed")!] == nil)
            #expect(other.body != first.body)
            let ledgerA = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: bearer("key-a.secret-a"), body: nil)
            let ledgerB = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: bearer("key-b.secret-b"), body: nil)
            // Each tenant's ledger holds its own payment only (the fields after these may grow).
            #expect(ledgerA.text.hasPrefix(#"{"user_id":"\#(user)","payments":1,"totals":{"USD":1000}"#), "\(ledgerA.text)")
            #expect(ledgerB.text.hasPrefix(#"{"user_id":"\#(user)","payments":1,"totals":{"USD":2000}"#), "\(ledgerB.text)")
            // A's replay stays A's.
            let replay = try await client.pay(payBody(user: user, amount: "10", key: "same"), headers: bearer("key-a.secret-a"))
            #expect(replay.body == first.body)
        }
    }

    /// `GET /payments/{id}` as `/ledger`: 401 without a valid key, and another tenant's id
    /// answers exactly as an id never handed out, so ids cannot be probed across tenants.
    @Test func aPaymentIsFoundByItsIDOnlyByItsTenant() async throws {
        try await withAuthApp(Self.twoTenants) { client, _ in
            let paid = try await client.pay(payBody(user: uniqueUser("lookup-tenant")), headers: bearer("key-a.secret-a"))
            let paymentID = try #require(lookupMember("payment_id", of: paid.text), "\(paid.text)")
            let uri = "/payments/\(paymentID)"
            func get(_ uri: String, _ headers: HTTPFields) async throws -> TestResponse {
                try await client.executeRequest(uri: uri, method: .get, headers: headers, body: nil)
            }
            expectProblem(try await get(uri, [:]), .unauthorized, type: "unauthorized")
            expectProblem(try await get(uri, bearer("key-a.wrong")), .unauthorized, type: "unauthorized")
            let own = try await get(uri, bearer("key-a.secret-a"))
            #expect(own.status == .ok, "\(own.text)")
            expectLookup(own.text, paymentID: paymentID, status: "charged", amountMinor: 10_000, currency: "USD", chargeID: nil)

            let other = try await get(uri, bearer("key-b.secret-b"))
            let never = try await get("/payments/pay_" + String(repeating: "0", count: 32), bearer("key-b.secret-b"))
            expectProblem(other, .notFound, type: "payment-not-found")
            // The same answer but for the request's own id.
            let answer = { (response: TestResponse) in response.text.components(separatedBy: #","request_id":"#).first }
            #expect(answer(other) == answer(never))
        }
    }

    @Test func rotatedKeyFileTakesEffectWithoutARestart() async throws {
        try await withAuthApp(Self.twoTenants, reload: .milliseconds(100)) { client, path in
            let body = payBody(user: uniqueUser("rotate"))
            #expect(try await client.pay(body, headers: bearer("key-a.secret-a")).status == .ok)
            try "key-c \(hashC) tenant-a\n".write(toFile: path, atomically: true, encoding: .utf8)
            var statuses: (old: Int, new: Int) = (0, 0)
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                statuses = (
                    try await client.pay(body, headers: bearer("key-a.secret-a")).status.code,
                    try await client.pay(body, headers: bearer("key-c.secret-c")).status.code
                )
                if statuses == (401, 200) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(statuses.old == 401, "the removed key is refused")
            #expect(statuses.new == 200, "the new key of the same tenant replays the payment")
            // A broken file keeps the old keys whose lines it still has.
            try "key-c \(hashC) tenant-a\nnot a key line\n".write(toFile: path, atomically: true, encoding: .utf8)
            try await waitUntil { try await client.metric("api_keys_file_valid") == 0 }
            #expect(try await client.pay(body, headers: bearer("key-c.secret-c")).status == .ok)
        }
    }

    /// The whole path through the real server: a broken file, then a missing one, then a
    /// good one again, as clients and Prometheus see them. The time bound itself is
    /// APIKeyFileTests' (an injected clock); here it is 0, so refusal comes at the first
    /// failed read and the test waits for states, never for a guessed duration.
    @Test func brokenAndMissingFilesAreRefusedAndExported() async throws {
        try await withAuthApp(Self.twoTenants, reload: .milliseconds(50), stale: .zero) { client, path in
            let body = payBody(user: uniqueUser("broken"))
            #expect(try await client.metric("api_keys_file_valid") == 1)
            #expect(try await client.metric("api_keys_active") == 2)
            #expect(try await client.metric(#"api_keys_reload_failures_total{reason="invalid"}"#) == 0)
            #expect(try await client.metric(#"api_keys_reload_failures_total{reason="unreadable"}"#) == 0)

            // key-b leaked: its line removed in an edit that also broke a line.
            try "key-a \(hashA) tenant-a\nkey-x \(hashC)\n".write(toFile: path, atomically: true, encoding: .utf8)
            try await waitUntil { try await client.metric("api_keys_file_valid") == 0 }
            #expect(try await client.metric(#"api_keys_reload_failures_total{reason="invalid"}"#) ?? 0 >= 1)
            #expect(try await client.metric("api_keys_active") == 1)
            expectProblem(try await client.pay(body, headers: bearer("key-b.secret-b")), .unauthorized, type: "unauthorized")
            #expect(try await client.pay(body, headers: bearer("key-a.secret-a")).status == .ok)

            // The file gone: with a bound of 0 every key is refused at the next poll, with 503.
            removeKeyFile(path)
            try await waitUntil { try await client.metric("api_keys_active") == 0 }
            #expect(try await client.metric(#"api_keys_reload_failures_total{reason="unreadable"}"#) ?? 0 >= 1)
            let refused = try await client.pay(body, headers: bearer("key-a.secret-a"))
            expectProblem(refused, .serviceUnavailable, type: "unavailable", detailContains: "key file has been unreadable for more than 0 s")
            #expect(refused.headers[.retryAfter] == "5")
            // Probes and /metrics stay open: the alert must still see the pod.
            #expect(try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil).status == .ok)

            // Back, and valid: the new keys in force at once.
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Self.twoTenants.write(toFile: path, atomically: true, encoding: .utf8)
            try await waitUntil { try await client.metric("api_keys_file_valid") == 1 }
            #expect(try await client.metric("api_keys_active") == 2)
            #expect(try await client.pay(body, headers: bearer("key-b.secret-b")).status == .ok)
        }
    }
}

extension TestClientProtocol {
    /// One series' value from /metrics (`name` or `name{labels}`, as exported); nil when absent.
    func metric(_ series: String) async throws -> Double? {
        let text = try await executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil).text
        return text.split(separator: "\n").lazy.compactMap { line -> Double? in
            guard line.hasPrefix(series + " ") else { return nil }
            return Double(line.dropFirst(series.count + 1))
        }.first
    }
}
