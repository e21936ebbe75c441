/// A user id: 1–64 characters of `[A-Za-z0-9._:-]`. No braces, because it becomes the
/// Redis Cluster hash tag `{user_id}` of every key of the request.
public struct UserID: Sendable, Hashable, CustomStringConvertible {
    public let value: String
    public var description: String { value }

    public static let maximumLength = 64

    public init(_ value: String) throws(PaymentRequestError) {
        guard !value.isEmpty else { throw .invalidUserID("must not be empty") }
        guard value.utf8.count <= Self.maximumLength else {
            throw .invalidUserID("must be at most \(Self.maximumLength) characters")
        }
        guard value.utf8.allSatisfy(Self.isAllowed) else {
            throw .invalidUserID("may contain only letters, digits and . _ : -")
        }
        self.value = value
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: ":"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}

/// An idempotency key: 1–255 printable ASCII characters (space to tilde).
public struct IdempotencyKey: Sendable, Hashable, CustomStringConvertible {
    public let value: String
    public var description: String { value }

    public static let maximumLength = 255

    public init(_ value: String) throws(PaymentRequestError) {
        guard !value.isEmpty else { throw .invalidIdempotencyKey("must not be empty") }
        guard value.utf8.count <= Self.maximumLength else {
            throw .invalidIdempotencyKey("must be at most \(Self.maximumLength) characters")
        }
        guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
            throw .invalidIdempotencyKey("may contain only printable ASCII characters")
        }
        self.value = value
    }

    /// Reads the `Idempotency-Key` header: a structured-field string (`"abc"`, with `\"`
    /// and `\\` escapes) as the IETF draft specifies, or a bare token as many clients send.
    public init(header: String) throws(PaymentRequestError) {
        let trimmed = header.trimmingASCIISpaces()
        guard trimmed.hasPrefix("\"") else {
            // A comma is how HTTP joins repeated header lines: `abc, abc` is two keys
            // (or a proxy's join), never one. A key with a comma must be quoted.
            guard !trimmed.utf8.contains(UInt8(ascii: ",")) else {
                throw .invalidIdempotencyKey("in the header must be one value: quote a key that contains a comma")
            }
            try self.init(trimmed)
            return
        }
        var value = ""
        var escaped = false
        var closed = false
        for character in trimmed.dropFirst() {
            if closed { throw .invalidIdempotencyKey("has text after its closing quote") }
            if escaped {
                guard character == "\"" || character == "\\" else {
                    throw .invalidIdempotencyKey("has an invalid escape in its quoted string")
                }
                value.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                closed = true
            } else {
                value.append(character)
            }
        }
        guard closed else { throw .invalidIdempotencyKey("is missing its closing quote") }
        try self.init(value)
    }
}

extension String {
    fileprivate func trimmingASCIISpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(self.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
