import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import PaymentAPI
import PaymentCore
import RedisTestSupport
import Testing

/// The reload rules, driven poll by poll with an injected clock: no test here waits.
@Suite("API key file reload")
struct APIKeyFileReloadTests {
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
