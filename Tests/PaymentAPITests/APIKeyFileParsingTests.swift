import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import PaymentAPI
import PaymentCore
import RedisTestSupport
import Testing

@Suite("API key file parsing")
struct APIKeyFileParsingTests {
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
