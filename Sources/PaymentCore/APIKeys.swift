import Crypto

/// The API keys of `API_KEYS_FILE`: one line per key, `<key-id> <sha256-hex-of-secret>
/// <tenant>`; blank lines and lines starting with `#` are ignored. Clients send
/// `Authorization: Bearer <key-id>.<secret>`. Only hashes are stored, so the file (a
/// mounted Secret) never holds a usable credential.
public struct APIKeys: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        let hash: [UInt8]
        let tenant: Tenant
    }

    private let entries: [String: Entry]

    public var count: Int { entries.count }

    private init(entries: [String: Entry]) {
        self.entries = entries
    }

    public init(parsing text: String) throws(APIKeysError) {
        var entries: [String: Entry] = [:]
        for (number, line) in Self.lines(of: text) {
            let parsed: (keyID: String, entry: Entry)?
            do {
                parsed = try Self.entry(fromLine: line)
            } catch {
                throw APIKeysError(line: number, message: error.message)
            }
            guard let (keyID, entry) = parsed else { continue }
            guard entries[keyID] == nil else { throw APIKeysError(line: number, message: "key id \(keyID) appears twice") }
            entries[keyID] = entry
        }
        self.entries = entries
    }

    /// The keys of `self` whose exact line (key id, hash and tenant) is still in `text`,
    /// read line by line: a line that does not parse is skipped, and a key `self` does not
    /// hold is never added. For a file that stopped parsing: removing a key's line revokes
    /// it even when the same edit broke another line, and a typo does not revoke the rest.
    public func keepingLines(of text: String) -> APIKeys {
        var present: [String: Set<Entry>] = [:]
        for (_, line) in Self.lines(of: text) {
            if let (keyID, entry) = try? Self.entry(fromLine: line) { present[keyID, default: []].insert(entry) }
        }
        return APIKeys(entries: entries.filter { present[$0.key]?.contains($0.value) == true })
    }

    /// Numbered lines, comments cut off. CRLF ends a line too: Swift sees `\r\n` as one
    /// Character, not `\n`, so splitting at `\n` alone made a CRLF file one long line
    /// (and a comment line swallowed every key after it). Found by fuzzing.
    private static func lines(of text: String) -> [(number: Int, line: Substring)] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated().map { index, rawLine in
            (index + 1, rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        }
    }

    /// One line's key, nil for a blank line; throws what is wrong with it.
    private static func entry(fromLine line: Substring) throws(LineError) -> (keyID: String, entry: Entry)? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        if fields.isEmpty { return nil }
        guard fields.count == 3 else {
            throw LineError(message: "expected `<key-id> <sha256-hex> <tenant>`, found \(fields.count) fields")
        }
        let keyID = String(fields[0])
        guard Self.isName(keyID) else { throw LineError(message: "key id must be 1-64 letters, digits, _ or -") }
        guard let hash = Self.bytes(fromHex: fields[1]), hash.count == 32 else {
            throw LineError(message: "the hash must be 64 hex digits (SHA-256 of the secret)")
        }
        guard let tenant = Tenant(String(fields[2])) else {
            throw LineError(message: "tenant must be 1-64 letters, digits, _ or -")
        }
        return (keyID, Entry(hash: hash, tenant: tenant))
    }

    private struct LineError: Error {
        let message: String
    }

    public enum Verdict: Sendable, Hashable {
        case missing
        case invalid
        case tenant(Tenant)
    }

    /// Checks an `Authorization` header value. The secret's hash is compared in constant
    /// time, and an unknown key id costs the same comparison, so timing tells nothing.
    public func authenticate(authorization header: String?) -> Verdict {
        guard let header, !header.isEmpty else { return .missing }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return .invalid }
        let credential = parts[1].trimmingPrefix(" ")
        guard let dot = credential.firstIndex(of: ".") else { return .invalid }
        let keyID = String(credential[..<dot])
        let secret = credential[credential.index(after: dot)...]
        let presented = Array(SHA256.hash(data: Array(secret.utf8)))
        let entry = entries[keyID]
        let expected = entry?.hash ?? [UInt8](repeating: 0, count: 32)
        var difference: UInt8 = entry == nil ? 1 : 0
        for (a, b) in zip(presented, expected) { difference |= a ^ b }
        guard difference == 0, let entry else { return .invalid }
        return .tenant(entry.tenant)
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.utf8.allSatisfy { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func bytes(fromHex text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = digits[index].hexValue, let low = digits[index + 1].hexValue else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}

/// Who a request belongs to once authenticated. Every Redis key of a tenant's requests
/// starts with `t:<tenant>:`, so tenants can neither replay nor read each other's payments.
public struct Tenant: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public var description: String { name }

    public init?(_ name: String) {
        guard APIKeys.isName(name) else { return nil }
        self.name = name
    }
}

public struct APIKeysError: Error, Hashable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }

    fileprivate var hexValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): self - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
