import NIOCore

/// One command, encoded as a RESP array of bulk strings when it is built.
///
/// Encoding at construction keeps the event loop's work to a single buffer copy and lets
/// a command be sent again (EVALSHA after NOSCRIPT) without re-encoding.
public struct RedisCommand: Sendable {
    /// The command's name in upper case, for metrics. Arguments are never kept in clear
    /// outside `encoded`, so nothing can log them by accident.
    public let name: String
    public let encoded: ByteBuffer

    public init(_ name: String, _ arguments: [RESPArgument] = []) {
        self.name = name.uppercased()
        var buffer = ByteBuffer()
        buffer.reserveCapacity(16 + name.utf8.count + arguments.count * 32)
        buffer.writeStaticString("*")
        buffer.writeDecimal(arguments.count + 1)
        buffer.writeStaticString("\r\n")
        buffer.writeBulkString(name.utf8)
        for argument in arguments {
            switch argument {
            case .string(let text): buffer.writeBulkString(text.utf8)
            case .bytes(let bytes): buffer.writeBulkString(bytes.readableBytesView)
            case .integer(let value): buffer.writeBulkString(String(value).utf8)
            }
        }
        self.encoded = buffer
    }

    public init(_ name: String, _ arguments: RESPArgument...) {
        self.init(name, arguments)
    }
}

/// An argument of a command: RESP2 sends every argument as a bulk string.
public enum RESPArgument: Sendable, Hashable {
    case string(String)
    case bytes(ByteBuffer)
    case integer(Int)
}

extension RESPArgument: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension RESPArgument: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .integer(value) }
}

extension ByteBuffer {
    fileprivate mutating func writeDecimal(_ value: Int) {
        writeString(String(value))
    }

    fileprivate mutating func writeBulkString<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        writeStaticString("$")
        writeDecimal(bytes.count)
        writeStaticString("\r\n")
        writeBytes(bytes)
        writeStaticString("\r\n")
    }
}
