import PaymentCore
import StrictJSON

/// Writes any `JSONValue` back to JSON text. `JSONWriter` only writes the objects our
/// responses need (no arrays of objects, no number text), so the targets carry this small
/// serializer of their own: independent of the code under test, and simple to check.
public enum JSONText {
    /// `spaced` puts whitespace of every kind JSON allows between tokens, so a round trip
    /// also checks that whitespace never changes a value.
    public static func bytes(of value: JSONValue, spaced: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        write(value, to: &out, spaced: spaced)
        return out
    }

    private static let space: [UInt8] = [0x20, 0x09, 0x0A, 0x0D]

    private static func write(_ value: JSONValue, to out: inout [UInt8], spaced: Bool) {
        func gap() { if spaced { out += space } }
        switch value {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                gap()
                appendString(member.key, to: &out)
                gap()
                out.append(UInt8(ascii: ":"))
                gap()
                write(member.value, to: &out, spaced: spaced)
                gap()
            }
            out.append(UInt8(ascii: "}"))
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                gap()
                write(element, to: &out, spaced: spaced)
                gap()
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text): appendString(text, to: &out)
        case .number(let text): out += text.utf8
        case .bool(let flag): out += (flag ? "true" : "false").utf8
        case .null: out += "null".utf8
        }
    }

    /// RFC 8259's minimum: `"` and `\` escaped, control characters as `\u00XX`, every
    /// other scalar as its UTF-8.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0x00..<0x20:
                out += "\\u00".utf8
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Nesting depth: 0 for a scalar, 1 for `[]` or `{}`, one more per level inside.
    public static func depth(of value: JSONValue) -> Int {
        switch value {
        case .object(let members): 1 + (members.map { depth(of: $0.value) }.max() ?? 0)
        case .array(let values): 1 + (values.map { depth(of: $0) }.max() ?? 0)
        case .string, .number, .bool, .null: 0
        }
    }

    /// The JSON number grammar of RFC 8259, checked byte by byte:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    public static func isNumberText(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - start
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { return false }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            return false
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == bytes.count
    }
}

extension JSONValue {
    /// The member named `name` by exact bytes, or nil.
    public func member(_ name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { sameBytes($0.key, name) })?.value
    }

    /// Every string in the value, member names included.
    public var allStrings: [String] {
        switch self {
        case .object(let members): members.flatMap { [$0.key] + $0.value.allStrings }
        case .array(let values): values.flatMap(\.allStrings)
        case .string(let text): [text]
        case .number, .bool, .null: []
        }
    }
}
