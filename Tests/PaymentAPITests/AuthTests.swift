import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PaymentAPI
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
    private func withAuthApp(_ keys: String, reload: Duration = .seconds(2), _ test: @Sendable (any TestClientProtocol, String) async throws -> Void) async throws {
        let path = try writeKeyFile(keys)
        defer { removeKeyFile(path) }
        try await withApp({ configuration in
            configuration.apiKeysFile = path
            configuration.apiKeys = try? APIKeyFile.read(path)
            configuration.apiKeysReloadInterval = reload
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
            #expect(ledgerA.text == #"{"user_id":"\#(user)","payments":1,"totals":{"USD":1000}}"#)
            #expect(ledgerB.text == #"{"user_id":"\#(user)","payments":1,"totals":{"USD":2000}}"#)
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
            // A broken file keeps the last good keys.
            try "not a key line\n".write(toFile: path, atomically: true, encoding: .utf8)
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await client.pay(body, headers: bearer("key-c.secret-c")).status == .ok)
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
    ])
    func invalidFilesNameTheLine(text: String, message: String) {
        let error = #expect(throws: APIKeysError.self) { try APIKeys(parsing: text) }
        #expect(error?.description == message)
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
}
