import Crypto
import FuzzSupport
import PaymentCore

/// `APIKeys(parsing:)` on an arbitrary file, and `authenticate` on an arbitrary
/// `Authorization` header. Input: the file, then optionally a NUL byte and the header.
///
/// The format (APIKeys.swift, docs/security.md): lines end at LF; `#` starts a comment;
/// fields are separated by spaces, tabs and CRs; a line with fields has exactly three,
/// `<key-id> <sha256-hex> <tenant>`, the id and tenant 1–64 of [A-Za-z0-9_-], the hash 64
/// hex digits; a key id appears once. The target reads each file again by that format,
/// over bytes, and when the parser accepts it:
/// - the parser's count is the number of key lines, and the format accepts every line;
/// - a header that authenticates names a key id of the file, the tenant of that line, and
///   a secret whose SHA-256 is that line's hash;
/// - the same ids and tenants with hashes of known secrets authenticate each key as its
///   tenant, and refuse a wrong secret.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAPIKeys(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let split = input.firstIndex(of: 0) ?? input.endIndex
    let fileBytes = input[..<split]
    let header = split < input.endIndex ? String(decoding: input[(split + 1)...], as: UTF8.self) : nil
    let file = String(decoding: fileBytes, as: UTF8.self)
    guard let keys = try? APIKeys(parsing: file) else { return 0 }
    let context = "file \(escaped(file)) header \(header.map(escaped) ?? "none")"

    guard let entries = readByTheFormat(Array(file.utf8)) else {
        invariant(false, "accepted a file that the format refuses: \(context)")
        return 0
    }
    invariant(keys.count == entries.count, "count \(keys.count) but the file has \(entries.count) key lines: \(context)")
    invariant(keys.authenticate(authorization: nil) == .missing && keys.authenticate(authorization: "") == .missing,
              "no header is not `missing`: \(context)")

    if case .tenant(let tenant) = keys.authenticate(authorization: header) {
        // No key id or scheme has a dot: the secret is what follows the first one.
        let bytes = Array((header ?? "").utf8)
        let dot = bytes.firstIndex(of: UInt8(ascii: ".")) ?? bytes.endIndex
        let secret = Array(bytes[min(dot + 1, bytes.endIndex)...])
        let entry = entries.first(where: { bytes[..<dot].reversed().starts(with: $0.id.reversed()) && $0.tenant == Array(tenant.name.utf8) })
        invariant(entry != nil, "authenticated as \(escaped(tenant.name)) with a key id that is not that tenant's in the file: \(context)")
        invariant(entry?.hash == Array(SHA256.hash(data: secret)), "authenticated a secret whose hash is not the line's: \(context)")
    }

    // The same ids and tenants, with the hashes of secrets we know.
    var known = ""
    for (index, entry) in entries.enumerated() {
        let hash = SHA256.hash(data: Array("secret-\(index)".utf8)).map { byte in
            String(byte >> 4, radix: 16) + String(byte & 0x0F, radix: 16)
        }.joined()
        known += "\(String(decoding: entry.id, as: UTF8.self)) \(hash) \(String(decoding: entry.tenant, as: UTF8.self))\n"
    }
    guard let rebuilt = try? APIKeys(parsing: known) else {
        invariant(false, "refused the file rebuilt from its own lines: \(escaped(known)) from \(context)")
        return 0
    }
    invariant(rebuilt.count == entries.count, "rebuilt file counts \(rebuilt.count), not \(entries.count): \(context)")
    for (index, entry) in entries.enumerated() {
        let id = String(decoding: entry.id, as: UTF8.self)
        for scheme in ["Bearer", "bearer"] {
            let verdict = rebuilt.authenticate(authorization: "\(scheme) \(id).secret-\(index)")
            guard case .tenant(let tenant) = verdict else {
                invariant(false, "key \(escaped(id)) with its secret is \(verdict): \(context)")
                return 0
            }
            invariant(Array(tenant.name.utf8) == entry.tenant, "key \(escaped(id)) authenticates as \(escaped(tenant.name)): \(context)")
            invariant(isName(Array(tenant.name.utf8)), "tenant \(escaped(tenant.name)) is not a valid name: \(context)")
        }
        invariant(rebuilt.authenticate(authorization: "Bearer \(id).secret-\(index)x") == .invalid,
                  "key \(escaped(id)) with a wrong secret is not refused: \(context)")
    }
    return 0
}

private struct Entry {
    let id: [UInt8]
    let hash: [UInt8]
    let tenant: [UInt8]
}

/// The file read by its documented format, or nil where the format refuses it.
private func readByTheFormat(_ file: [UInt8]) -> [Entry]? {
    var entries: [Entry] = []
    for line in file.split(separator: 0x0A, omittingEmptySubsequences: false) {
        let content = line.prefix(while: { $0 != UInt8(ascii: "#") })
        let fields = content.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }).map(Array.init)
        if fields.isEmpty { continue }
        guard fields.count == 3, isName(fields[0]), isName(fields[2]), fields[1].count == 64 else { return nil }
        var hash: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = hexValue(fields[1][index]), let low = hexValue(fields[1][index + 1]) else { return nil }
            hash.append(high << 4 | low)
        }
        guard !entries.contains(where: { $0.id == fields[0] }) else { return nil }
        entries.append(Entry(id: fields[0], hash: hash, tenant: fields[2]))
    }
    return entries
}

private func isName(_ bytes: [UInt8]) -> Bool {
    (1...64).contains(bytes.count) && bytes.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
