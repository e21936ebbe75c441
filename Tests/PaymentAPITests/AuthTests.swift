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

    @Test func rotatedKeyFileTakesEffectWithoutARestart() async throws {
        try await withAuthApp(Self.twoTenants, reload: .milliseconds(100)) { client, path in
            let body = payBody(user: uniqueUser("rotate"))
            #expect(try await client.pay(body, headers: bearer("key-a.secret-a")).status == .ok)
            try "key-c \(hashC) tenant-a\n".write(toFile: path, atomically: true, encoding: .utf8)
            var statuses: (old: Int, new: Int) = (0, 0)
            let deadline = ContinuousClock.now + .seconds(5)
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

/// The reload rules, driven poll by poll with an injected clock: no test here waits.
@Suite("API key file reload")
struct APIKeyFileTests {
    static let twoKeys = "key-a \(hashA) tenant-a\nkey-b \(hashB) tenant-b\n"

    private func withFile(_ content: String, staleAfter: Duration = .seconds(60), _ test: (APIKeyFile, String, ContinuousClock.Instant) throws -> Void) throws {
        let path = try writeKeyFile(content)
        defer { removeKeyFile(path) }
        let start = ContinuousClock.now
        let file = APIKeyFile(path: path, keys: try APIKeyFile.read(path), staleAfter: staleAfter, readAt: start)
        try test(file, path, start)
    }

    private func tenant(_ file: APIKeyFile, _ credential: String) -> String? {
        guard case .tenant(let tenant) = file.keys?.authenticate(authorization: "Bearer \(credential)") else { return nil }
        return tenant.name
    }

    @Test func aLeakedKeyRemovedInAnEditThatBreaksAnotherLineIsRefusedAtTheNextPoll() throws {
        try withFile(Self.twoKeys) { file, path, start in
            #expect(file.reloadIfChanged(now: start) == .unchanged, "the first poll reads what start-up read")
            try "key-b \(hashB) tenant-b\nkey-c \(hashC)\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(file.reloadIfChanged(now: start + .seconds(2))
                == .invalid("line 2: expected `<key-id> <sha256-hex> <tenant>`, found 2 fields", kept: 1, revoked: 1))
            #expect(tenant(file, "key-a.secret-a") == nil, "the removed key is refused")
            #expect(tenant(file, "key-b.secret-b") == "tenant-b", "the typo did not lock the other client out")
            // And it stays so, poll after poll, for as long as the file stays broken.
            #expect(file.reloadIfChanged(now: start + .seconds(4)) == .unchanged)
            #expect(file.reloadIfChanged(now: start + .seconds(30 * 86_400)) == .unchanged)
            #expect(tenant(file, "key-a.secret-a") == nil)
            #expect(tenant(file, "key-b.secret-b") == "tenant-b")
        }
    }

    @Test func aBrokenFileKeepsOnlyTheUnchangedOldLinesAndAddsNothing() throws {
        let three = Self.twoKeys + "key-d \(hashC) tenant-d\n"
        try withFile(three) { file, path, start in
            let broken = """
                key-a\t\(hashA.uppercased())\ttenant-a   # the same key, written differently
                key-b \(hashB) tenant-x
                # key-d \(hashC) tenant-d
                key-c \(hashC) tenant-c
                key-e
                """
            try broken.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(file.reloadIfChanged(now: start + .seconds(2)) == .invalid("line 5: expected `<key-id> <sha256-hex> <tenant>`, found 1 fields", kept: 1, revoked: 2))
            #expect(tenant(file, "key-a.secret-a") == "tenant-a", "an unchanged key survives")
            #expect(tenant(file, "key-b.secret-b") == nil, "a key whose tenant changed is not its old line")
            #expect(tenant(file, "key-d.secret-c") == nil, "a commented-out key is removed")
            #expect(tenant(file, "key-c.secret-c") == nil, "a new key waits until the file parses")
            // Fixed: the file's keys exactly.
            try "key-a \(hashA) tenant-a\nkey-c \(hashC) tenant-c\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(file.reloadIfChanged(now: start + .seconds(4)) == .reloaded(count: 2))
            #expect(tenant(file, "key-c.secret-c") == "tenant-c")
            #expect(tenant(file, "key-d.secret-c") == nil)
        }
    }

    @Test func anUnreadableFileKeepsItsLastKeysForTheBoundThenRefusesEveryKey() throws {
        try withFile(Self.twoKeys, staleAfter: .seconds(60)) { file, path, start in
            // The bound runs from the last successful read, here the poll at +10 s.
            #expect(file.reloadIfChanged(now: start + .seconds(10)) == .unchanged)
            try FileManager.default.removeItem(atPath: path)
            #expect(file.reloadIfChanged(now: start + .seconds(12)) == .unreadable(refusingIn: .seconds(58)))
            #expect(file.reloadIfChanged(now: start + .seconds(69)) == .unchanged)
            #expect(tenant(file, "key-a.secret-a") == "tenant-a", "kept within the bound")
            #expect(file.reloadIfChanged(now: start + .seconds(70)) == .refusing)
            #expect(file.keys == nil, "every key refused once the bound is over")
            #expect(file.reloadIfChanged(now: start + .seconds(72)) == .unchanged)
            #expect(file.keys == nil)
            // Readable again, with the same content: the file's keys, at the next poll.
            try Self.twoKeys.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(file.reloadIfChanged(now: start + .seconds(74)) == .reloaded(count: 2))
            #expect(tenant(file, "key-b.secret-b") == "tenant-b")
        }
    }

    @Test func aBoundOfZeroRefusesAtTheFirstFailedRead() throws {
        try withFile(Self.twoKeys, staleAfter: .zero) { file, path, start in
            try FileManager.default.removeItem(atPath: path)
            #expect(file.reloadIfChanged(now: start) == .refusing)
            #expect(file.keys == nil)
        }
    }

    @Test func anUnreadableFileThatComesBackBrokenKeepsTheOldKeysItStillLists() throws {
        try withFile(Self.twoKeys, staleAfter: .seconds(60)) { file, path, start in
            try FileManager.default.removeItem(atPath: path)
            #expect(file.reloadIfChanged(now: start + .seconds(61)) == .refusing)
            try "key-b \(hashB) tenant-b\nbroken\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(file.reloadIfChanged(now: start + .seconds(63)) == .invalid("line 2: expected `<key-id> <sha256-hex> <tenant>`, found 1 fields", kept: 1, revoked: 1))
            #expect(tenant(file, "key-a.secret-a") == nil)
            #expect(tenant(file, "key-b.secret-b") == "tenant-b")
        }
    }
}

@Suite("API key file parsing")
struct APIKeysTests {
    @Test func parsesCommentsBlankLinesAndAuthenticates() throws {
        let keys = try APIKeys(parsing: "\n# comment\nkey-a \(hashA) tenant-a   # trailing comment\n\tkey-b\t\(hashB.uppercased())\ttenant-b\n")
        #expect(keys.count == 2)
        #expect(keys.authenticate(authorization: "Bearer key-a.secret-a") == .tenant(Tenant("tenant-a")!))
        #expect(keys.authenticate(authorization: "bearer key-b.secret-b") == .tenant(Tenant("tenant-b")!))
        #expect(keys.authenticate(authorization: nil) == .missing)
        #expect(keys.authenticate(authorization: "Bearer key-a.secret-b") == .invalid)
        #expect(keys.authenticate(authorization: "Bearer nodot") == .invalid)
    }

    @Test(arguments: [
        ("key-a \(hashA)", "line 1: expected `<key-id> <sha256-hex> <tenant>`, found 2 fields"),
        ("key-a abc tenant", "line 1: the hash must be 64 hex digits (SHA-256 of the secret)"),
        ("# ok\nkey{a} \(hashA) t", "line 2: key id must be 1-64 letters, digits, _ or -"),
        ("key-a \(hashA) tenant:x", "line 1: tenant must be 1-64 letters, digits, _ or -"),
        ("key-a \(hashA) t\nkey-a \(hashB) u", "line 2: key id key-a appears twice"),
        // Found by FuzzAPIKeys: with CRLF, a comment line swallowed the lines after it.
        ("# comment\r\nkey-a 8766b9cb tenant-a", "line 2: the hash must be 64 hex digits (SHA-256 of the secret)"),
    ])
    func invalidFilesNameTheLine(text: String, message: String) {
        let error = #expect(throws: APIKeysError.self) { try APIKeys(parsing: text) }
        #expect(error?.description == message)
    }

    @Test func crlfLineEndsAreLineEnds() throws {
        let keys = try APIKeys(parsing: "# comment\r\nkey-a \(hashA) tenant-a\r\nkey-b \(hashB) tenant-b\r\n")
        #expect(keys.count == 2)
        #expect(keys.authenticate(authorization: "Bearer key-b.secret-b") == .tenant(Tenant("tenant-b")!))
    }

    @Test func configurationRefusesAnUnreadableOrInvalidFile() throws {
        let missing = #expect(throws: ConfigurationError.self) { try AppConfiguration { $0 == "API_KEYS_FILE" ? "/nonexistent/keys" : nil } }
        #expect(missing?.description == "invalid configuration: API_KEYS_FILE could not be read from /nonexistent/keys")
        let path = try writeKeyFile("key-a short tenant\n")
        defer { removeKeyFile(path) }
        let invalid = #expect(throws: ConfigurationError.self) { try AppConfiguration { $0 == "API_KEYS_FILE" ? path : nil } }
        #expect(invalid?.description == "invalid configuration: API_KEYS_FILE \(path) line 1: the hash must be 64 hex digits (SHA-256 of the secret)")
        let valid = try writeKeyFile("key-a \(hashA) tenant-a\n")
        defer { removeKeyFile(valid) }
        #expect(try AppConfiguration { $0 == "API_KEYS_FILE" ? valid : nil }.apiKeys?.count == 1)
    }

    @Test func staleSecondsHasADefaultAndABound() throws {
        #expect(try AppConfiguration { _ in nil }.apiKeysStaleAfter == .seconds(300))
        #expect(try AppConfiguration { $0 == "API_KEYS_STALE_SECONDS" ? "0" : nil }.apiKeysStaleAfter == .zero)
        let error = #expect(throws: ConfigurationError.self) { try AppConfiguration { $0 == "API_KEYS_STALE_SECONDS" ? "-1" : nil } }
        #expect(error?.description == #"invalid configuration: API_KEYS_STALE_SECONDS must be an integer from 0 to 86400, got "-1""#)
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
