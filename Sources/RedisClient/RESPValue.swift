import NIOCore

/// One RESP2 reply.
///
/// RESP2 has a single null: hiredis reports both the null bulk string (`$-1`) and the
/// null array (`*-1`) as nil, so they are the same value here.
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString(ByteBuffer)
    case null
    case array([RESPValue])
}

extension RESPValue {
    /// The text of a simple or bulk string, or the decimal text of an integer.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let buffer): String(buffer: buffer)
        case .integer(let value): String(value)
        case .error, .null, .array: nil
        }
    }

    /// An integer reply, or a string reply that holds a decimal integer.
    public var int: Int? {
        switch self {
        case .integer(let value): Int(exactly: value)
        case .simpleString, .bulkString: string.flatMap { Int($0) }
        case .error, .null, .array: nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension RESPValue: CustomStringConvertible {
    /// Describes the shape, never the content: values may hold payment data.
    public var description: String {
        switch self {
        case .simpleString: "simple string"
        case .error: "error"
        case .integer: "integer"
        case .bulkString(let buffer): "bulk string (\(buffer.readableBytes) bytes)"
        case .null: "null"
        case .array(let values): "array (\(values.count) elements)"
        }
    }
}
